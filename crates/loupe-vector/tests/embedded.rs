//! The embedded store against the `VectorStore` contract: exact top-k, upserts replace,
//! deletes, candidates, dimension errors, and durability across reopening and crashes.

use loupe_core::vector::{IndexSpec, Metric, VectorQuery, VectorRecord, VectorStore};
use loupe_core::ErrorCode;
use loupe_vector::conformance::{self, Ranking, Vectors};
use loupe_vector::{EmbeddedOptions, EmbeddedVectorStore, Quantization};

fn spec(dim: usize) -> IndexSpec {
    IndexSpec {
        name: "clip-512".into(),
        dim,
        metric: Metric::DotProduct,
    }
}

fn record(set: &str, file: &str, vector: Vec<f32>) -> VectorRecord {
    VectorRecord {
        id: format!("{set}/{file}"),
        index_set_id: set.into(),
        file_meta_id: file.into(),
        dataset_id: "d-1".into(),
        dataset_version: "v1".into(),
        uri: format!("s3://b/{file}.jpg"),
        file_vector: vector,
    }
}

fn query<'a>(set: &'a str, vector: &'a [f32], k: usize) -> VectorQuery<'a> {
    VectorQuery {
        index_set_id: set,
        vector,
        k,
        candidates: None,
    }
}

fn ids(hits: &[loupe_core::vector::VectorHit]) -> Vec<&str> {
    hits.iter().map(|h| h.file_meta_id.as_str()).collect()
}

#[tokio::test]
async fn search_ranks_by_dot_product_within_one_index_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedVectorStore::open(dir.path()).unwrap();
    store.ensure_index(&spec(3)).await.unwrap();
    let records = [
        record("s1", "a", vec![1.0, 0.0, 0.0]),
        record("s1", "b", vec![0.6, 0.8, 0.0]),
        record("s1", "c", vec![0.0, 0.0, 1.0]),
        record("s2", "z", vec![1.0, 0.0, 0.0]),
    ];
    store.upsert("clip-512", &records).await.unwrap();
    let hits = store
        .search("clip-512", &query("s1", &[1.0, 0.1, 0.0], 2))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["a", "b"]);
    assert!((hits[0].score - 1.0).abs() < 1e-6);
    assert_eq!(store.count("clip-512", "s1").await.unwrap(), 3);
    assert_eq!(store.count("clip-512", "s2").await.unwrap(), 1);

    let candidates = ["b".to_string(), "c".to_string()];
    let q = VectorQuery {
        candidates: Some(&candidates),
        ..query("s1", &[1.0, 0.1, 0.0], 5)
    };
    assert_eq!(
        ids(&store.search("clip-512", &q).await.unwrap()),
        ["b", "c"]
    );

    // An upsert with the same id replaces; a delete removes.
    store
        .upsert("clip-512", &[record("s1", "c", vec![1.0, 0.2, 0.0])])
        .await
        .unwrap();
    assert_eq!(store.count("clip-512", "s1").await.unwrap(), 3);
    let hits = store
        .search("clip-512", &query("s1", &[1.0, 0.2, 0.0], 1))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["c"]);
    store
        .delete("clip-512", "s1", Some(&["c".to_string()]))
        .await
        .unwrap();
    let hits = store
        .search("clip-512", &query("s1", &[1.0, 0.2, 0.0], 5))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["a", "b"]);
    store.delete("clip-512", "s2", None).await.unwrap();
    assert_eq!(store.count("clip-512", "s2").await.unwrap(), 0);
}

#[tokio::test]
async fn wrong_dimensions_and_unknown_indexes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedVectorStore::open(dir.path()).unwrap();
    store.ensure_index(&spec(3)).await.unwrap();
    let err = store.ensure_index(&spec(4)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
    let err = store
        .upsert("clip-512", &[record("s", "a", vec![1.0])])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
    let err = store
        .search("clip-512", &query("s", &[1.0], 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
    let err = store.count("nope", "s").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::VectorIndexNotFound);
}

#[tokio::test]
async fn committed_vectors_survive_reopening_and_a_crash_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    // Keep the log as written: compaction would fold it into one new segment.
    let no_compaction = EmbeddedOptions {
        max_dead_ratio: 1.0,
        ..EmbeddedOptions::default()
    };
    {
        let store = EmbeddedVectorStore::open_with(dir.path(), no_compaction).unwrap();
        store.ensure_index(&spec(2)).await.unwrap();
        store
            .upsert(
                "clip-512",
                &[
                    record("s1", "a", vec![1.0, 0.0]),
                    record("s1", "b", vec![0.0, 1.0]),
                ],
            )
            .await
            .unwrap();
        store
            .delete("clip-512", "s1", Some(&["b".to_string()]))
            .await
            .unwrap();
    }
    // A crash while writing the next segment leaves only its temporary file behind.
    let set_dir = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path()
        .join("7331");
    std::fs::write(set_dir.join("000000000003.tmp"), b"LPSEG2\x01garbage").unwrap();
    // A crash after a segment was renamed into place but before the manifest listed it
    // leaves a complete file that was never committed: it must not come back.
    std::fs::copy(
        set_dir.join("000000000001.seg"),
        set_dir.join("000000000003.seg"),
    )
    .unwrap();
    std::fs::write(
        set_dir.join("MANIFEST.tmp"),
        b"loupe-manifest 1\nseg 1\nseg 3\n",
    )
    .unwrap();

    let store = EmbeddedVectorStore::open_with(dir.path(), no_compaction).unwrap();
    store.ensure_index(&spec(2)).await.unwrap();
    assert_eq!(store.count("clip-512", "s1").await.unwrap(), 1);
    let hits = store
        .search("clip-512", &query("s1", &[1.0, 1.0], 5))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["a"]);
    let mut left: Vec<String> = std::fs::read_dir(&set_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["000000000001.seg", "000000000002.del", "MANIFEST"],
        "leftovers removed"
    );
    store.drop_index("clip-512").await.unwrap();
    assert_eq!(
        store.count("clip-512", "s1").await.unwrap_err().code(),
        ErrorCode::VectorIndexNotFound
    );
}

#[tokio::test]
async fn passes_the_conformance_suite_exact_and_quantised() {
    for quantization in [Quantization::None, Quantization::F16, Quantization::Int8] {
        for threads in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let options = EmbeddedOptions {
                quantization,
                threads,
                // Small limits so the suite's writes also run through compaction.
                max_segments: 3,
                ..EmbeddedOptions::default()
            };
            let store = EmbeddedVectorStore::open_with(dir.path(), options).unwrap();
            // Quantised passes rerank exactly, so on the suite's data they rank exactly.
            conformance::run(&store, "embedded", Ranking::Exact).await;
        }
    }
}

fn unit_records(
    set: &str,
    prefix: &str,
    n: usize,
    dim: usize,
    gen: &mut Vectors,
) -> Vec<VectorRecord> {
    (0..n)
        .map(|i| VectorRecord {
            id: format!("{prefix}-{i}"),
            file_meta_id: format!("{prefix}-{i}"),
            ..record(set, "x", gen.unit(dim))
        })
        .collect()
}

#[tokio::test]
async fn tombstones_and_small_segments_are_compacted_away() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        max_segments: 4,
        max_dead_ratio: 0.5,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedVectorStore::open_with(dir.path(), options).unwrap();
    store.ensure_index(&spec(8)).await.unwrap();
    let mut gen = Vectors::seeded(3);
    let mut all = Vec::new();
    for batch in 0..4 {
        let records = unit_records("s", &format!("b{batch}"), 50, 8, &mut gen);
        store.upsert("clip-512", &records).await.unwrap();
        all.extend(records);
    }
    assert_eq!(store.segment_count("clip-512", "s").await.unwrap(), 4);
    let q = gen.unit(8);
    let before = store.search("clip-512", &query("s", &q, 20)).await.unwrap();

    // The fifth segment goes over the limit: everything is rewritten into one.
    let extra = unit_records("s", "b4", 1, 8, &mut gen);
    store.upsert("clip-512", &extra).await.unwrap();
    assert_eq!(store.segment_count("clip-512", "s").await.unwrap(), 1);
    assert_eq!(store.count("clip-512", "s").await.unwrap(), 201);

    // Deleting over half of the rows compacts them away, and results stay the same.
    let gone: Vec<String> = all
        .iter()
        .take(120)
        .map(|r| r.file_meta_id.clone())
        .collect();
    store.delete("clip-512", "s", Some(&gone)).await.unwrap();
    assert_eq!(store.segment_count("clip-512", "s").await.unwrap(), 1);
    assert_eq!(store.count("clip-512", "s").await.unwrap(), 81);
    let expected: Vec<&str> = ids(&before)
        .into_iter()
        .chain(["b4-0"])
        .filter(|id| !gone.iter().any(|g| g == id))
        .collect();
    let after = store
        .search("clip-512", &query("s", &q, 300))
        .await
        .unwrap();
    let after_ids = ids(&after);
    assert!(expected.iter().all(|id| after_ids.contains(id)));
    assert_eq!(after.len(), 81);

    // Compaction survives reopening: one segment and the manifest are all that is left.
    drop(store);
    let store = EmbeddedVectorStore::open_with(dir.path(), options).unwrap();
    store.ensure_index(&spec(8)).await.unwrap();
    assert_eq!(store.count("clip-512", "s").await.unwrap(), 81);
    assert_eq!(store.segment_count("clip-512", "s").await.unwrap(), 1);
}

const CRASH_CHILD: &str = "LOUPE_VECTOR_CRASH_CHILD";
const CRASH_BATCH: usize = 2_000;

/// The writer the crash test kills: batch after batch, printing each one it committed.
fn crash_child(dir: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let options = EmbeddedOptions {
            max_segments: 6,
            ..EmbeddedOptions::default()
        };
        let store = EmbeddedVectorStore::open_with(std::path::Path::new(dir), options).unwrap();
        store.ensure_index(&spec(64)).await.unwrap();
        let mut gen = Vectors::seeded(5);
        for batch in 0.. {
            let records = unit_records("s", &format!("b{batch}"), CRASH_BATCH, 64, &mut gen);
            store.upsert("clip-512", &records).await.unwrap();
            println!("committed {batch}");
            std::io::Write::flush(&mut std::io::stdout()).unwrap();
        }
    });
}

#[test]
fn a_writer_killed_mid_write_loses_nothing_it_committed() {
    use std::io::BufRead;
    if let Ok(dir) = std::env::var(CRASH_CHILD) {
        return crash_child(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_writer_killed_mid_write_loses_nothing_it_committed",
        ])
        .args(["--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD, dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut last = None;
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("committed ") {
            last = Some(n.parse::<usize>().unwrap());
            // Past several compactions, kill it wherever it is (SIGKILL: no cleanup).
            if last >= Some(14) {
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    let last = last.expect("the writer committed batches");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = EmbeddedVectorStore::open(dir.path()).unwrap();
        store.ensure_index(&spec(64)).await.unwrap();
        let probe = vec![0.125f32; 64];
        let mut total = 0;
        for batch in 0..last + 3 {
            let files: Vec<String> = (0..CRASH_BATCH).map(|i| format!("b{batch}-{i}")).collect();
            let q = VectorQuery {
                candidates: Some(&files),
                ..query("s", &probe, CRASH_BATCH)
            };
            let found = store.search("clip-512", &q).await.unwrap().len();
            if batch <= last {
                assert_eq!(found, CRASH_BATCH, "committed batch {batch} is whole");
            } else {
                assert!(
                    found == 0 || found == CRASH_BATCH,
                    "batch {batch} is all or nothing: {found}"
                );
            }
            total += found;
        }
        assert_eq!(store.count("clip-512", "s").await.unwrap(), total);
    });
}

#[tokio::test]
async fn an_index_made_by_an_earlier_run_is_searched_without_an_ensure() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedVectorStore::open(dir.path()).unwrap();
        store.ensure_index(&spec(2)).await.unwrap();
        store
            .upsert("clip-512", &[record("s1", "a", vec![1.0, 0.0])])
            .await
            .unwrap();
    }
    // A restarted server searches before any job ensured the index in this process.
    let store = EmbeddedVectorStore::open(dir.path()).unwrap();
    let hits = store
        .search("clip-512", &query("s1", &[1.0, 0.0], 5))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["a"]);
    // Its dimension came back from disk too.
    let err = store
        .upsert("clip-512", &[record("s1", "b", vec![1.0, 0.0, 0.0])])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
    let err = store.count("never-made", "s1").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::VectorIndexNotFound);
}
