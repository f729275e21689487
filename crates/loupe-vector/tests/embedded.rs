//! The embedded store against the `VectorStore` contract: exact top-k, upserts replace,
//! deletes, candidates, dimension errors, and durability across reopening and crashes.

use loupe_core::vector::{IndexSpec, Metric, VectorQuery, VectorRecord, VectorStore};
use loupe_core::ErrorCode;
use loupe_vector::EmbeddedVectorStore;

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
    {
        let store = EmbeddedVectorStore::open(dir.path()).unwrap();
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
    std::fs::write(set_dir.join("000000000003.tmp"), b"LPSEG1\x01garbage").unwrap();

    let store = EmbeddedVectorStore::open(dir.path()).unwrap();
    store.ensure_index(&spec(2)).await.unwrap();
    assert_eq!(store.count("clip-512", "s1").await.unwrap(), 1);
    let hits = store
        .search("clip-512", &query("s1", &[1.0, 1.0], 5))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["a"]);
    store.drop_index("clip-512").await.unwrap();
    assert_eq!(
        store.count("clip-512", "s1").await.unwrap_err().code(),
        ErrorCode::VectorIndexNotFound
    );
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedVectorStore::open(dir.path()).unwrap();
    loupe_vector::conformance::run(
        &store,
        "embedded",
        loupe_vector::conformance::Ranking::Exact,
    )
    .await;
}
