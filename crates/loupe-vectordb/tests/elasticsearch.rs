//! The Elasticsearch adapter against a running server: noida-db 0.2.3, which emulates
//! the Elasticsearch 8.15 REST API (tests/backends/elasticsearch.sh installs it and sets
//! LOUPE_TEST_NOIDA_DB). Each test starts its own server on a free port.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loupe_core::vector::{IndexSpec, Metric, VectorQuery};
use loupe_core::vectordb::VectorDbSettings;
use loupe_core::ErrorCode;
use loupe_vector::conformance::{self, brute_force, record, Ranking, Vectors};

const INSTALL_HINT: &str =
    "run `source tests/backends/elasticsearch.sh` (tests/run.sh does) or point \
     LOUPE_TEST_NOIDA_DB at a noida-db 0.2.3 executable (pip install noida-db==0.2.3)";

/// A running noida-db, killed on drop.
struct Noida {
    child: Child,
    data: tempfile::TempDir,
    url: String,
}

impl Noida {
    async fn start() -> Self {
        let binary = std::env::var_os("LOUPE_TEST_NOIDA_DB").map_or_else(
            || dirs_home().join(".cache/loupe-test/noida-venv/bin/noida-db"),
            PathBuf::from,
        );
        assert!(
            binary.is_file(),
            "noida-db not found at {}: {INSTALL_HINT}",
            binary.display()
        );
        let data = tempfile::tempdir().expect("temp dir");
        // noida-db takes a port number, not a listener; the port is free once the probe drops.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::fs::File::create(data.path().join("noida.log")).expect("log");
        let child = Command::new(&binary)
            .args(["start", "--data-dir"])
            .arg(data.path().join("db"))
            .args(["--host", "127.0.0.1", "--only", "elasticsearch"])
            .args(["--elasticsearch-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL_HINT}", binary.display()));
        let mut server = Self {
            child,
            data,
            url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_ready().await;
        server
    }

    /// Until the adapter's own connection check passes: listening is not answering.
    async fn wait_until_ready(&mut self) {
        let probe = loupe_vectordb::elastic::open(&settings(&self.url, 0)).expect("open");
        let deadline = Instant::now() + Duration::from_secs(30);
        while probe.check().await.is_err() {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("noida-db exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "noida-db did not answer within 30 s: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("noida.log")).unwrap_or_default()
    }
}

impl Drop for Noida {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dirs_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn settings(url: &str, retries: u32) -> VectorDbSettings {
    let configs: BTreeMap<String, String> = [
        ("Engine", "elasticsearch".to_string()),
        ("Endpoint", url.to_string()),
        ("MaxRetries", retries.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    VectorDbSettings::parse(&configs, &BTreeMap::new()).expect("settings")
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    let server = Noida::start().await;
    let store = loupe_vectordb::elastic::open(&settings(&server.url, 2)).expect("open");
    conformance::run(&*store, "es", Ranking::Approximate { min_recall: 0.95 }).await;
}

#[tokio::test]
async fn works_on_an_index_made_with_the_seed_guides_mapping() {
    use elasticsearch::http::transport::Transport;
    use elasticsearch::indices::IndicesCreateParts;

    let server = Noida::start().await;
    // Created as the seed guide's Python sample does, before Loupe ever sees it.
    let client =
        elasticsearch::Elasticsearch::new(Transport::single_node(&server.url).expect("transport"));
    let dim = 8;
    let created = client
        .indices()
        .create(IndicesCreateParts::Index("dataset_embed_test"))
        .body(serde_json::json!({
            "settings": { "number_of_shards": 1, "number_of_replicas": 1 },
            "mappings": { "properties": {
                "index_set_id": { "type": "keyword" },
                "uri": { "type": "text" },
                "file_meta_id": { "type": "text" },
                "dataset_id": { "type": "text" },
                "dataset_version": { "type": "text" },
                "file_vector": { "type": "dense_vector", "dims": dim, "similarity": "dot_product" },
            } }
        }))
        .send()
        .await
        .expect("create");
    assert!(
        created.status_code().is_success(),
        "{:?}",
        created.text().await
    );

    let store = loupe_vectordb::elastic::open(&settings(&server.url, 2)).expect("open");
    let index = "dataset_embed_test";
    let spec = |dim| IndexSpec {
        name: index.into(),
        dim,
        metric: Metric::DotProduct,
    };
    store
        .ensure_index(&spec(dim))
        .await
        .expect("the seed index as it is");
    let err = store
        .ensure_index(&spec(dim * 2))
        .await
        .expect_err("other dims");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");

    // `f-1-b` looks like `f-1` to the text analyser (tokens f, 1, b): it must not be
    // taken for it when filtering or deleting.
    let mut gen = Vectors::seeded(5);
    let mut records: Vec<_> = (0..40).map(|n| record("s", n, gen.unit(dim))).collect();
    let mut lookalike = record("s", 1, gen.unit(dim));
    lookalike.id = "s-f-1-b".into();
    lookalike.file_meta_id = "f-1-b".into();
    records.push(lookalike);
    store.upsert(index, &records).await.expect("upsert");
    assert_eq!(store.count(index, "s").await.expect("count"), 41);

    let query = gen.unit(dim);
    let candidates: Vec<String> = ["f-1", "f-3", "f-5"].map(String::from).to_vec();
    let only: HashSet<String> = candidates.iter().cloned().collect();
    let found = store
        .search(
            index,
            &VectorQuery {
                index_set_id: "s",
                vector: &query,
                k: 10,
                candidates: Some(&candidates),
            },
        )
        .await
        .expect("candidate search");
    let expected = brute_force(&records, &query, 10, Some(&only));
    assert_eq!(found.len(), 3, "{found:?}");
    for (hit, (file, score)) in found.iter().zip(&expected) {
        assert_eq!(&hit.file_meta_id, file);
        assert!(
            (f64::from(hit.score) - score).abs() < 1e-4,
            "{hit:?} vs {score}"
        );
    }

    let gone = vec!["f-1".to_string()];
    store.delete(index, "s", Some(&gone)).await.expect("delete");
    assert_eq!(
        store.count(index, "s").await.expect("count"),
        40,
        "only f-1 went"
    );
    let all = store
        .search(
            index,
            &VectorQuery {
                index_set_id: "s",
                vector: &query,
                k: 100,
                candidates: None,
            },
        )
        .await
        .expect("search");
    let files: HashSet<&str> = all.iter().map(|h| h.file_meta_id.as_str()).collect();
    assert!(
        !files.contains("f-1") && files.contains("f-1-b"),
        "{files:?}"
    );
    store.drop_index(index).await.expect("drop");
}
