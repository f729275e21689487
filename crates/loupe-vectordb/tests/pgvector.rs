//! The pgvector adapter against a real PostgreSQL with the extension: the conformance
//! suite, a table made by hand with the seed schema, dimension checks, and the errors of
//! an unreachable server and of refused credentials.
//!
//! Needs `LOUPE_TEST_DATABASE_URL` (tests/run.sh sets it) on a server where
//! `CREATE EXTENSION vector` works (tests/backends/pgvector.sh installs it). Every test
//! works in its own schema, dropped at the end even when the test fails.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use loupe_core::vector::{IndexSpec, Metric, VectorQuery, VectorStore};
use loupe_core::vectordb::VectorDbSettings;
use loupe_core::ErrorCode;
use loupe_vector::conformance::{self, brute_force, record, Ranking, Vectors};
use loupe_vectordb::pgvector::{sql::table_name, PgVectorStore};
use sqlx::PgPool;

const HINT: &str =
    "run tests/run.sh, or set LOUPE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
     and run `bash tests/backends/pgvector.sh` as root to install the vector extension";

fn database_url() -> String {
    std::env::var("LOUPE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| panic!("LOUPE_TEST_DATABASE_URL is not set: {HINT}"))
}

/// The test URL split the way a connection keeps it: endpoint in Configs, user and
/// password in Secrets.
fn split_url(url: &str) -> (String, Option<String>, Option<String>) {
    let (scheme, rest) = url.split_once("://").expect("postgres:// URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = path.split('?').next().unwrap_or_default();
    match authority.rsplit_once('@') {
        None => (url.to_string(), None, None),
        Some((userinfo, host)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u.to_string(), Some(p.to_string())),
                None => (userinfo.to_string(), None),
            };
            (format!("{scheme}://{host}{path}"), Some(user), password)
        }
    }
}

fn settings(
    timeout_secs: &str,
    endpoint: &str,
    schema: &str,
    user: Option<&str>,
    password: Option<&str>,
) -> VectorDbSettings {
    let configs: BTreeMap<String, String> = [
        ("Engine", "pgvector"),
        ("Endpoint", endpoint),
        ("Database", schema),
        ("TimeoutSecs", timeout_secs),
        ("MaxRetries", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut secrets = BTreeMap::new();
    if let Some(user) = user {
        secrets.insert("Username".to_string(), user.to_string());
    }
    if let Some(password) = password {
        secrets.insert("Password".to_string(), password.to_string());
    }
    VectorDbSettings::parse(&configs, &secrets).expect("test settings")
}

/// A store on the test server, working in `schema`.
fn store(schema: &str) -> Arc<PgVectorStore> {
    let (endpoint, user, password) = split_url(&database_url());
    let settings = settings("5", &endpoint, schema, user.as_deref(), password.as_deref());
    Arc::new(PgVectorStore::new(&settings).expect("open store"))
}

/// Runs `test` with a fresh schema name and a pool for setting up by hand, then drops
/// the schema whether the test passed or not.
async fn in_schema<F, Fut>(test: F)
where
    F: FnOnce(String, PgPool) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin = PgPool::connect(&database_url())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to LOUPE_TEST_DATABASE_URL ({e}): {HINT}"));
    let available: bool = sqlx::query_scalar(
        "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'vector'",
    )
    .fetch_one(&admin)
    .await
    .expect("ask for the extension");
    assert!(
        available,
        "the test PostgreSQL has no vector extension: {HINT}"
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let schema = format!("loupe_pgv_{}_{nanos}", std::process::id());
    let outcome = tokio::spawn(test(schema.clone(), admin.clone())).await;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(&admin)
        .await
        .expect("drop test schema");
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

fn spec(name: &str, dim: usize) -> IndexSpec {
    IndexSpec {
        name: name.to_string(),
        dim,
        metric: Metric::Cosine,
    }
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    in_schema(|schema, _| async move {
        let store = store(&schema);
        // Plain searches may go through HNSW, so they are approximate; candidate
        // searches are checked as exact by the suite itself.
        conformance::run(
            store.as_ref(),
            "conf",
            Ranking::Approximate { min_recall: 0.95 },
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn loupe_tables_get_hnsw_and_filtered_searches_still_fill_k() {
    in_schema(|schema, admin| async move {
        let store = store(&schema);
        let dim = 32;
        store
            .ensure_index(&spec("Model/CLIP-B32", dim))
            .await
            .expect("create");
        let table = table_name("Model/CLIP-B32");
        let methods: Vec<String> = sqlx::query_scalar(
            "SELECT am.amname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = to_regclass($1)",
        )
        .bind(format!("\"{schema}\".\"{table}\""))
        .fetch_all(&admin)
        .await
        .expect("indexes");
        assert!(methods.iter().any(|m| m == "hnsw"), "{methods:?}");
        assert_eq!(
            methods.iter().filter(|m| *m == "btree").count(),
            2,
            "{methods:?}"
        );

        // A small set among a large one: HNSW alone would find few of its members
        // among the nearest neighbours of the whole table.
        let mut gen = Vectors::seeded(5);
        let big: Vec<_> = (0..3000).map(|n| record("big", n, gen.unit(dim))).collect();
        let small: Vec<_> = (0..40).map(|n| record("small", n, gen.unit(dim))).collect();
        store
            .upsert("Model/CLIP-B32", &big)
            .await
            .expect("upsert big");
        store
            .upsert("Model/CLIP-B32", &small)
            .await
            .expect("upsert small");
        let query = gen.unit(dim);
        let hits = store
            .search(
                "Model/CLIP-B32",
                &VectorQuery {
                    index_set_id: "small",
                    vector: &query,
                    k: 25,
                    candidates: None,
                },
            )
            .await
            .expect("search");
        assert_eq!(hits.len(), 25);
        let want = brute_force(&small, &query, 25, None);
        let found = hits
            .iter()
            .filter(|h| want.iter().any(|(f, _)| *f == h.file_meta_id))
            .count();
        assert!(found >= 24, "recall {found}/25");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    })
    .await;
}

#[tokio::test]
async fn a_table_made_by_hand_with_the_seed_schema_works_unchanged() {
    in_schema(|schema, admin| async move {
        // Concurrent tests may create the extension at the same moment: one of two tries wins.
        for _ in 0..2 {
            let created = sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
                .execute(&admin)
                .await;
            if created.is_ok() {
                break;
            }
        }
        for statement in [
            format!("CREATE SCHEMA \"{schema}\""),
            format!(
                "CREATE TABLE \"{schema}\".pai_images (id text PRIMARY KEY, index_set_id text, \
                 file_meta_id text, dataset_id text, dataset_version text, uri text, \
                 file_vector vector(8))"
            ),
            format!("CREATE INDEX ON \"{schema}\".pai_images (index_set_id)"),
            format!(
                "INSERT INTO \"{schema}\".pai_images VALUES \
                 ('seeded', 'set', 'f-seeded', 'd', 'v1', 'oss://b/x.jpg', '[1,0,0,0,0,0,0,0]')"
            ),
            format!("CREATE TABLE \"{schema}\".no_vectors (id text PRIMARY KEY)"),
        ] {
            sqlx::query(&statement)
                .execute(&admin)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let store = store(&schema);
        store.ensure_index(&spec("pai_images", 8)).await.expect("ensure existing");
        let err = store
            .ensure_index(&spec("pai_images", 9))
            .await
            .expect_err("other dimension");
        assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");

        let mut gen = Vectors::seeded(11);
        let records: Vec<_> = (0..20).map(|n| record("set", n, gen.unit(8))).collect();
        store.upsert("pai_images", &records).await.expect("upsert");
        assert_eq!(store.count("pai_images", "set").await.expect("count"), 21);
        let query = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let hits = store
            .search(
                "pai_images",
                &VectorQuery {
                    index_set_id: "set",
                    vector: &query,
                    k: 3,
                    candidates: None,
                },
            )
            .await
            .expect("search");
        assert_eq!(hits[0].file_meta_id, "f-seeded");
        assert!((hits[0].score - 1.0).abs() < 1e-6, "{}", hits[0].score);

        // The rows land in the seed columns, readable by anything else that uses them.
        let (uri, dataset): (String, String) = sqlx::query_as(&format!(
            "SELECT uri, dataset_id FROM \"{schema}\".pai_images WHERE id = 'set-f-3'"
        ))
        .fetch_one(&admin)
        .await
        .expect("row");
        assert_eq!((uri.as_str(), dataset.as_str()), ("oss://bucket/images/3.jpg", "d-conformance"));
        let indexes: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = '{schema}' AND tablename = 'pai_images'"
        ))
        .fetch_one(&admin)
        .await
        .expect("indexes");
        assert_eq!(indexes, 2, "the user's table keeps its own indexes");

        let err = store
            .ensure_index(&spec("no_vectors", 8))
            .await
            .expect_err("no vector column");
        assert_eq!(err.code(), ErrorCode::VectorStoreError, "{err}");
        assert!(err.message().contains("file_vector"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn vectors_of_the_wrong_dimension_are_refused_even_after_another_process_changed_the_index() {
    in_schema(|schema, _| async move {
        let (one, other) = (store(&schema), store(&schema));
        one.ensure_index(&spec("idx", 4)).await.expect("create");
        let mut gen = Vectors::seeded(3);
        let err = one
            .upsert("idx", &[record("s", 0, gen.unit(3))])
            .await
            .expect_err("short vector");
        assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");
        let err = one
            .ensure_index(&spec("idx", 5))
            .await
            .expect_err("ensure 5");
        assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");

        // Another Loupe process recreates the index with 6 dimensions; the first one's
        // remembered dimension is stale, and the server's refusal is reported as such.
        other.drop_index("idx").await.expect("drop");
        other.ensure_index(&spec("idx", 6)).await.expect("recreate");
        let err = one
            .upsert("idx", &[record("s", 0, gen.unit(4))])
            .await
            .expect_err("stale dimension");
        assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");
        assert!(err.message().contains("6-dimensional"), "{err}");
        one.upsert("idx", &[record("s", 0, gen.unit(6))])
            .await
            .expect("right dimension");

        let nan = [f32::NAN; 6];
        let err = one
            .search(
                "idx",
                &VectorQuery {
                    index_set_id: "s",
                    vector: &nan,
                    k: 1,
                    candidates: None,
                },
            )
            .await
            .expect_err("NaN");
        assert_eq!(err.code(), ErrorCode::InvalidParameter, "{err}");
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_names_no_secret() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let endpoint = format!("postgres://127.0.0.1:{port}/loupe");
    // The pool keeps reconnecting until the timeout, so a short one keeps the test short.
    let store = PgVectorStore::new(&settings(
        "1",
        &endpoint,
        "public",
        Some("loupe-user"),
        Some("hunter2-secret"),
    ))
    .expect("open");
    let err = store.check().await.expect_err("closed port");
    assert_eq!(err.code(), ErrorCode::VectorStoreUnavailable, "{err}");
    let err = store
        .ensure_index(&spec("idx", 4))
        .await
        .expect_err("closed port");
    assert_eq!(err.code(), ErrorCode::VectorStoreUnavailable, "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
}

#[tokio::test]
async fn refused_credentials_are_named_without_the_secret() {
    let (endpoint, _, _) = split_url(&database_url());
    let store = PgVectorStore::new(&settings(
        "5",
        &endpoint,
        "public",
        Some("loupe_no_such_role"),
        Some("hunter2-secret"),
    ))
    .expect("open");
    let err = store.check().await.expect_err("unknown role");
    assert_eq!(err.code(), ErrorCode::VectorStoreError, "{err}");
    assert!(err.message().contains("Secrets.Username"), "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(!shown.contains("loupe_no_such_role"), "{shown}");

    let (base, database) = endpoint.rsplit_once('/').expect("database in URL");
    assert!(!database.is_empty());
    let (_, user, password) = split_url(&database_url());
    let store = PgVectorStore::new(&settings(
        "5",
        &format!("{base}/loupe_no_such_database"),
        "public",
        user.as_deref(),
        password.as_deref(),
    ))
    .expect("open");
    let err = store.check().await.expect_err("unknown database");
    assert_eq!(err.code(), ErrorCode::VectorStoreError, "{err}");
    assert!(err.message().contains("Configs.Endpoint"), "{err}");
}

#[tokio::test]
async fn check_answers_on_a_server_with_the_extension() {
    in_schema(|schema, _| async move {
        store(&schema).check().await.expect("check");
    })
    .await;
}
