//! The conformance suite every [`VectorStore`] adapter runs: the embedded store, pgvector,
//! Milvus, Elasticsearch. Each check takes a fresh, uniquely named index, so adapters
//! that share one server can run the suite concurrently.
//!
//! Exact stores must return exactly the brute-force top-k (same file ids, same order up
//! to ties, scores within float rounding); approximate ones must reach the recall they
//! declare on the suite's data.

use std::collections::HashSet;

use loupe_core::vector::{IndexSpec, Metric, VectorHit, VectorQuery, VectorRecord, VectorStore};
use loupe_core::ErrorCode;

/// How a store ranks.
#[derive(Debug, Clone, Copy)]
pub enum Ranking {
    /// Exact: the brute-force top-k.
    Exact,
    /// Approximate: recall@10 at least this against brute force.
    Approximate {
        /// The least recall@10 accepted, e.g. 0.95.
        min_recall: f64,
    },
}

/// A seeded generator of unit vectors, the same on every machine.
#[derive(Debug, Clone)]
pub struct Vectors(u64);

impl Vectors {
    /// A generator with this seed.
    pub fn seeded(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// A random unit vector.
    pub fn unit(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| self.next_f32()).collect();
        let norm = v
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        v.into_iter().map(|x| x / norm).collect()
    }
}

/// A record of the seed schema for file `f-{n}` of `set`.
pub fn record(set: &str, n: usize, vector: Vec<f32>) -> VectorRecord {
    VectorRecord {
        id: format!("{set}-f-{n}"),
        index_set_id: set.to_string(),
        file_meta_id: format!("f-{n}"),
        dataset_id: "d-conformance".into(),
        dataset_version: "v1".into(),
        uri: format!("oss://bucket/images/{n}.jpg"),
        file_vector: vector,
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// The brute-force top-k file ids of `query` among `records` (restricted to `only` when given).
pub fn brute_force(
    records: &[VectorRecord],
    query: &[f32],
    k: usize,
    only: Option<&HashSet<String>>,
) -> Vec<(String, f64)> {
    let mut scored: Vec<(String, f64)> = records
        .iter()
        .filter(|r| only.is_none_or(|o| o.contains(&r.file_meta_id)))
        .map(|r| (r.file_meta_id.clone(), dot(&r.file_vector, query)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored
}

fn check_ranking(ranking: Ranking, got: &[VectorHit], expected: &[(String, f64)], what: &str) {
    match ranking {
        Ranking::Exact => {
            assert_eq!(got.len(), expected.len(), "{what}: hit count");
            for (hit, (file, score)) in got.iter().zip(expected) {
                assert!(
                    (f64::from(hit.score) - score).abs() < 1e-4,
                    "{what}: score of {} is {}, brute force {score}",
                    hit.file_meta_id,
                    hit.score
                );
                // Equal scores may come in either order; different ones must match ids.
                if hit.file_meta_id != *file {
                    let tie = expected
                        .iter()
                        .any(|(f, s)| *f == hit.file_meta_id && (s - score).abs() < 1e-5);
                    assert!(tie, "{what}: got {got:?}, brute force {expected:?}");
                }
            }
        }
        Ranking::Approximate { min_recall } => {
            let want: HashSet<&str> = expected.iter().map(|(f, _)| f.as_str()).collect();
            let found = got
                .iter()
                .filter(|h| want.contains(h.file_meta_id.as_str()))
                .count();
            let recall = found as f64 / want.len().max(1) as f64;
            assert!(
                recall >= min_recall,
                "{what}: recall {recall} below {min_recall}"
            );
        }
    }
}

fn spec(name: &str, dim: usize) -> IndexSpec {
    IndexSpec {
        name: name.to_string(),
        dim,
        metric: Metric::DotProduct,
    }
}

/// Runs every check against `store`. `prefix` makes index names unique per run, so a
/// shared server can hold several runs; every index the suite creates is dropped.
pub async fn run(store: &dyn VectorStore, prefix: &str, ranking: Ranking) {
    lifecycle_and_errors(store, &format!("{prefix}_life")).await;
    ranking_and_filters(store, &format!("{prefix}_rank"), ranking).await;
    upserts_replace_and_deletes(store, &format!("{prefix}_upd"), ranking).await;
}

/// Index creation is idempotent, dimensions are enforced, a missing index is named.
pub async fn lifecycle_and_errors(store: &dyn VectorStore, index: &str) {
    let dim = 16;
    store.ensure_index(&spec(index, dim)).await.expect("create");
    store
        .ensure_index(&spec(index, dim))
        .await
        .expect("ensure again");
    let err = store
        .ensure_index(&spec(index, dim + 1))
        .await
        .expect_err("other dimension");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");

    let mut gen = Vectors::seeded(7);
    let bad = record("s1", 0, gen.unit(dim + 2));
    let err = store.upsert(index, &[bad]).await.expect_err("long vector");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");
    let query = gen.unit(dim - 1);
    let err = store
        .search(
            index,
            &VectorQuery {
                index_set_id: "s1",
                vector: &query,
                k: 3,
                candidates: None,
            },
        )
        .await
        .expect_err("short query");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");

    assert_eq!(store.count(index, "s1").await.expect("count"), 0);
    let query = gen.unit(dim);
    let hits = store
        .search(
            index,
            &VectorQuery {
                index_set_id: "no-such-set",
                vector: &query,
                k: 3,
                candidates: None,
            },
        )
        .await
        .expect("empty set");
    assert!(hits.is_empty());

    store.drop_index(index).await.expect("drop");
    let missing = format!("{index}_missing");
    let err = store
        .upsert(&missing, &[record("s1", 0, gen.unit(dim))])
        .await
        .expect_err("missing index");
    assert_eq!(err.code(), ErrorCode::VectorIndexNotFound, "{err}");
    let err = store
        .search(
            &missing,
            &VectorQuery {
                index_set_id: "s1",
                vector: &query,
                k: 3,
                candidates: None,
            },
        )
        .await
        .expect_err("missing index");
    assert_eq!(err.code(), ErrorCode::VectorIndexNotFound, "{err}");
}

/// Top-k against brute force, index-set isolation, candidate filters, `k` larger than the set.
pub async fn ranking_and_filters(store: &dyn VectorStore, index: &str, ranking: Ranking) {
    let dim = 64;
    store.ensure_index(&spec(index, dim)).await.expect("create");
    let mut gen = Vectors::seeded(42);
    let set_a: Vec<VectorRecord> = (0..600).map(|n| record("a", n, gen.unit(dim))).collect();
    // Set b holds other vectors under the same file ids: they must never leak into a's results.
    let set_b: Vec<VectorRecord> = (0..200).map(|n| record("b", n, gen.unit(dim))).collect();
    for batch in set_a.chunks(250) {
        store.upsert(index, batch).await.expect("upsert a");
    }
    store.upsert(index, &set_b).await.expect("upsert b");
    assert_eq!(store.count(index, "a").await.expect("count a"), 600);
    assert_eq!(store.count(index, "b").await.expect("count b"), 200);

    for q in 0..10 {
        let query = gen.unit(dim);
        let hits = store
            .search(
                index,
                &VectorQuery {
                    index_set_id: "a",
                    vector: &query,
                    k: 10,
                    candidates: None,
                },
            )
            .await
            .expect("search");
        let expected = brute_force(&set_a, &query, 10, None);
        check_ranking(ranking, &hits, &expected, &format!("query {q}"));
    }

    // Candidates: exactly the brute force over those ids, whatever the store's ranking.
    let query = gen.unit(dim);
    let candidates: Vec<String> = (0..600)
        .step_by(7)
        .map(|n| format!("f-{n}"))
        .chain(["f-100000".to_string()])
        .collect();
    let only: HashSet<String> = candidates.iter().cloned().collect();
    let hits = store
        .search(
            index,
            &VectorQuery {
                index_set_id: "a",
                vector: &query,
                k: 5,
                candidates: Some(&candidates),
            },
        )
        .await
        .expect("candidate search");
    assert!(hits.iter().all(|h| only.contains(&h.file_meta_id)));
    check_ranking(
        Ranking::Exact,
        &hits,
        &brute_force(&set_a, &query, 5, Some(&only)),
        "candidates",
    );

    // k above the set size returns the whole set, ranked.
    let hits = store
        .search(
            index,
            &VectorQuery {
                index_set_id: "b",
                vector: &query,
                k: 500,
                candidates: None,
            },
        )
        .await
        .expect("large k");
    assert_eq!(hits.len(), 200);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    let empty: Vec<String> = Vec::new();
    let hits = store
        .search(
            index,
            &VectorQuery {
                index_set_id: "a",
                vector: &query,
                k: 5,
                candidates: Some(&empty),
            },
        )
        .await
        .expect("no candidates");
    assert!(hits.is_empty());
    store.drop_index(index).await.expect("drop");
}

/// Upserting an id replaces its vector; deletes by file id and by set; counts follow.
pub async fn upserts_replace_and_deletes(store: &dyn VectorStore, index: &str, ranking: Ranking) {
    let dim = 32;
    store.ensure_index(&spec(index, dim)).await.expect("create");
    let mut gen = Vectors::seeded(99);
    let mut records: Vec<VectorRecord> = (0..100).map(|n| record("s", n, gen.unit(dim))).collect();
    store.upsert(index, &records).await.expect("upsert");
    store
        .upsert(index, &[record("t", 0, gen.unit(dim))])
        .await
        .expect("upsert t");

    // Replace f-5 with a vector equal to the query: it must rank first.
    let query = gen.unit(dim);
    records[5] = record("s", 5, query.clone());
    store.upsert(index, &records[5..6]).await.expect("replace");
    assert_eq!(store.count(index, "s").await.expect("count"), 100);
    let search = |k| VectorQuery {
        index_set_id: "s",
        vector: &query,
        k,
        candidates: None,
    };
    let hits = store.search(index, &search(10)).await.expect("search");
    assert_eq!(hits[0].file_meta_id, "f-5");
    assert!((hits[0].score - 1.0).abs() < 1e-3, "{}", hits[0].score);

    let gone: Vec<String> = ["f-5", "f-6", "f-7", "f-not-there"]
        .map(String::from)
        .to_vec();
    store
        .delete(index, "s", Some(&gone))
        .await
        .expect("delete files");
    assert_eq!(store.count(index, "s").await.expect("count"), 97);
    let hits = store.search(index, &search(100)).await.expect("search");
    assert!(hits.iter().all(|h| !gone.contains(&h.file_meta_id)));
    records.retain(|r| !gone.contains(&r.file_meta_id));
    check_ranking(
        ranking,
        &hits[..10],
        &brute_force(&records, &query, 10, None),
        "after delete",
    );

    store.delete(index, "s", None).await.expect("delete set");
    assert_eq!(store.count(index, "s").await.expect("count"), 0);
    assert_eq!(store.count(index, "t").await.expect("count t"), 1);
    assert!(store
        .search(index, &search(10))
        .await
        .expect("search")
        .is_empty());
    store.drop_index(index).await.expect("drop");
}
