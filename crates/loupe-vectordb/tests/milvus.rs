//! The Milvus adapter against a real server: milvus-lite's gRPC server (the Milvus 2.x
//! API), started per test on a free port with its own data folder and killed on drop.
//! `tests/backends/milvus.sh` installs it and exports `LOUPE_TEST_MILVUS_LITE`.
#![cfg(feature = "milvus")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loupe_core::vector::{IndexSpec, Metric, VectorQuery, VectorRecord, VectorStore};
use loupe_core::vectordb::VectorDbSettings;
use loupe_core::ErrorCode;
use loupe_vector::conformance::{self, Ranking, Vectors};
use milvus::v2::prelude::{
    ClientV2, CollectionSchema, ConnectConfig, ConsistencyLevel, CreateCollectionRequest,
    CreateIndexRequest, DataType, FieldData, FieldSchema, IndexParam, IndexType, InsertRequest,
    MetricType,
};

const INSTALL_HINT: &str =
    "install it with `source tests/backends/milvus.sh` (tests/run.sh does this: \
     a venv under $HOME/.cache/loupe-test/venv-milvus with milvus-lite 3.2.2 and pymilvus 3.0.2) \
     or point LOUPE_TEST_MILVUS_LITE at a milvus-lite executable";

/// A running `milvus-lite server`; killed, and its data removed, on drop.
struct MilvusLite {
    child: Child,
    data: PathBuf,
    endpoint: String,
}

impl MilvusLite {
    /// Starts the server and waits until it accepts connections. Panics with an install
    /// hint when the executable is missing: these tests never pass without a server.
    async fn start() -> Self {
        let binary = std::env::var_os("LOUPE_TEST_MILVUS_LITE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| {
                    PathBuf::from(home).join(".cache/loupe-test/venv-milvus/bin/milvus-lite")
                })
            })
            .expect("LOUPE_TEST_MILVUS_LITE or HOME is set");
        assert!(
            binary.is_file(),
            "milvus-lite not found at {}: {INSTALL_HINT}",
            binary.display()
        );
        let data = std::env::temp_dir().join(format!(
            "loupe-milvus-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&data).unwrap();
        // milvus-lite takes a port number, not a listener; the port is free once the probe drops.
        let port = free_port();
        let log = std::fs::File::create(data.join("server.log")).unwrap();
        let child = Command::new(&binary)
            .arg("server")
            .arg("--data-dir")
            .arg(data.join("db"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start {}: {err}; {INSTALL_HINT}", binary.display())
            });
        let mut server = Self {
            child,
            data,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_ready(port).await;
        server
    }

    async fn wait_until_ready(&mut self, port: u16) {
        // Generous: the server imports numpy, faiss and pyarrow before it listens.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("milvus-lite exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "milvus-lite did not listen on {port} within 120 s: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }

    fn settings(&self) -> VectorDbSettings {
        settings(&self.endpoint, 20, 2)
    }

    async fn store(&self) -> Arc<dyn VectorStore> {
        loupe_vectordb::open(&self.settings()).await.expect("open")
    }
}

impl Drop for MilvusLite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn settings(endpoint: &str, timeout_secs: u32, retries: u32) -> VectorDbSettings {
    let configs = BTreeMap::from([
        ("Engine".to_string(), "milvus".to_string()),
        ("Endpoint".to_string(), endpoint.to_string()),
        ("TimeoutSecs".to_string(), timeout_secs.to_string()),
        ("MaxRetries".to_string(), retries.to_string()),
    ]);
    // milvus-lite does not check credentials; they are sent all the same.
    let secrets = BTreeMap::from([
        ("Username".to_string(), "root".to_string()),
        ("Password".to_string(), "Milvus-secret-42".to_string()),
    ]);
    VectorDbSettings::parse(&configs, &secrets).expect("settings")
}

fn spec(name: &str, dim: usize) -> IndexSpec {
    IndexSpec {
        name: name.to_string(),
        dim,
        metric: Metric::Cosine,
    }
}

fn query<'a>(
    set: &'a str,
    vector: &'a [f32],
    k: usize,
    only: Option<&'a [String]>,
) -> VectorQuery<'a> {
    VectorQuery {
        index_set_id: set,
        vector,
        k,
        candidates: only,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    let server = MilvusLite::start().await;
    let store = server.store().await;
    store.check().await.expect("check");
    // HNSW is approximate in general (see the adapter's notes), hence the recall bound;
    // candidate searches are held to the exact top-k by the suite.
    conformance::run(&*store, "milvus", Ranking::Approximate { min_recall: 0.95 }).await;
}

/// A collection made beforehand with the seed schema (other lengths, its own index, not
/// loaded, holding data) is used as it is, and its dimension is enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uses_a_collection_created_beforehand_and_checks_its_dimension() {
    let server = MilvusLite::start().await;
    let client = ClientV2::new(&ConnectConfig::new().uri(server.endpoint.clone()))
        .await
        .expect("sdk client");
    let varchar = |name: &str, len: u32| {
        FieldSchema::new()
            .name(name)
            .data_type(DataType::VarChar)
            .max_length(len)
    };
    let schema = CollectionSchema::new()
        .add_field(varchar("id", 128).primary_key(true))
        .add_field(varchar("index_set_id", 64))
        .add_field(varchar("file_meta_id", 64))
        .add_field(varchar("dataset_id", 64))
        .add_field(varchar("dataset_version", 32))
        .add_field(varchar("uri", 512))
        .add_field(
            FieldSchema::new()
                .name("file_vector")
                .data_type(DataType::FloatVector)
                .dimension(8),
        );
    client
        .create_collection(
            CreateCollectionRequest::builder()
                .collection_name("seed_images")
                .schema(schema)
                .consistency_level(ConsistencyLevel::Bounded)
                .build()
                .unwrap(),
        )
        .await
        .expect("create collection");
    client
        .create_index(
            CreateIndexRequest::builder()
                .collection_name("seed_images")
                .index_param(
                    IndexParam::new()
                        .field_name("file_vector")
                        .index_type(IndexType::Flat)
                        .metric_type(MetricType::Ip),
                )
                // The SDK's sync wait starts with AllocTimestamp, which milvus-lite lacks.
                .sync(false)
                .build()
                .unwrap(),
        )
        .await
        .expect("create index");
    let mut gen = Vectors::seeded(3);
    let theirs = gen.unit(8);
    let text = |name: &str, value: &str| FieldData::VarChar {
        name: name.into(),
        values: vec![value.into()],
    };
    client
        .insert(
            InsertRequest::builder()
                .collection_name("seed_images")
                .columns(vec![
                    text("id", "pai-1"),
                    text("index_set_id", "set-pai"),
                    text("file_meta_id", "file-pai"),
                    text("dataset_id", "d1"),
                    text("dataset_version", "v1"),
                    text("uri", "oss://bucket/pai.jpg"),
                    FieldData::FloatVector {
                        name: "file_vector".into(),
                        values: vec![theirs.clone()],
                    },
                ])
                .build()
                .unwrap(),
        )
        .await
        .expect("insert");

    let store = server.store().await;
    let err = store
        .ensure_index(&spec("seed_images", 16))
        .await
        .expect_err("other dimension");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");
    assert!(err.message().contains("8-dimensional"), "{}", err.message());
    store
        .ensure_index(&spec("seed_images", 8))
        .await
        .expect("ensure the existing collection");
    assert_eq!(
        store.count("seed_images", "set-pai").await.expect("count"),
        1
    );
    let hits = store
        .search("seed_images", &query("set-pai", &theirs, 3, None))
        .await
        .expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].file_meta_id, "file-pai");
    assert!(
        (hits[0].score - 1.0).abs() < 1e-4,
        "raw inner product: {}",
        hits[0].score
    );

    // Writes through one adapter are seen at once through another client (Strong reads).
    let ours = conformance::record("set-loupe", 1, gen.unit(8));
    store
        .upsert("seed_images", std::slice::from_ref(&ours))
        .await
        .expect("upsert");
    let other = server.store().await;
    assert_eq!(
        other
            .count("seed_images", "set-loupe")
            .await
            .expect("count"),
        1
    );
    let hits = other
        .search(
            "seed_images",
            &query("set-loupe", &ours.file_vector, 1, None),
        )
        .await
        .expect("search");
    assert_eq!(hits[0].file_meta_id, "f-1");
    let err = other
        .upsert("seed_images", &[conformance::record("s", 2, gen.unit(9))])
        .await
        .expect_err("long vector");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");
    store.drop_index("seed_images").await.expect("drop");
}

fn tricky(set: &str, file: &str, vector: Vec<f32>) -> VectorRecord {
    VectorRecord {
        id: format!("{set}/{file}"),
        index_set_id: set.to_string(),
        file_meta_id: file.to_string(),
        dataset_id: "d\"1".into(),
        dataset_version: "v\\1".into(),
        uri: "oss://b/it's \"here\".jpg".into(),
        file_vector: vector,
    }
}

/// Quotes and backslashes in ids are data, never expression syntax: they neither break a
/// filter nor widen it to other sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_with_quotes_and_backslashes_stay_data() {
    let server = MilvusLite::start().await;
    let store = server.store().await;
    // Not a valid Milvus name either: the adapter maps it.
    let index = "clip-vit/b32 'quoted'";
    store.ensure_index(&spec(index, 4)).await.expect("create");
    let mut gen = Vectors::seeded(11);
    let set = r#"set "one" \ two"#;
    let escape = r#"x" or index_set_id != "y"#;
    let files = [
        r#"a"b"#,
        r"c\d",
        r#"e\"f"#,
        "g'h",
        "tab\there",
        "line\nbreak",
    ];
    let mut records: Vec<VectorRecord> =
        files.iter().map(|f| tricky(set, f, gen.unit(4))).collect();
    records.push(tricky("other", "plain", gen.unit(4)));
    store.upsert(index, &records).await.expect("upsert");
    assert_eq!(store.count(index, set).await.expect("count"), files.len());
    assert_eq!(store.count(index, escape).await.expect("count"), 0);

    let only: Vec<String> = [files[0], files[2], "never"].map(String::from).to_vec();
    let hits = store
        .search(index, &query(set, &records[2].file_vector, 5, Some(&only)))
        .await
        .expect("candidate search");
    assert_eq!(hits[0].file_meta_id, files[2]);
    let mut got: Vec<&str> = hits.iter().map(|h| h.file_meta_id.as_str()).collect();
    got.sort_unstable();
    assert_eq!(got, [files[0], files[2]]);

    // A set id that tries to close the literal deletes nothing.
    store
        .delete(index, escape, None)
        .await
        .expect("delete escape");
    let injected = vec![r#"a"b" or file_meta_id != ""#.to_string()];
    store
        .delete(index, set, Some(&injected))
        .await
        .expect("delete injected");
    assert_eq!(store.count(index, set).await.expect("count"), files.len());
    assert_eq!(store.count(index, "other").await.expect("count"), 1);

    let gone: Vec<String> = [files[1], files[5]].map(String::from).to_vec();
    store
        .delete(index, set, Some(&gone))
        .await
        .expect("delete files");
    assert_eq!(
        store.count(index, set).await.expect("count"),
        files.len() - 2
    );
    let hits = store
        .search(index, &query(set, &records[1].file_vector, 10, None))
        .await
        .expect("search");
    assert_eq!(hits.len(), files.len() - 2);
    assert!(hits.iter().all(|h| !gone.contains(&h.file_meta_id)));
    store.drop_index(index).await.expect("drop");
}

/// A server that is not there is `VectorStoreUnavailable` once the retries are spent,
/// and the error names no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_unavailable() {
    let port = free_port();
    let settings = settings(&format!("http://127.0.0.1:{port}"), 1, 1);
    let store = loupe_vectordb::open(&settings).await.expect("open is lazy");
    // A guard against hanging, not a timing assertion: two 1 s attempts fit many times over.
    let err = tokio::time::timeout(Duration::from_secs(60), store.check())
        .await
        .expect("gives up")
        .expect_err("nothing listens");
    assert_eq!(err.code(), ErrorCode::VectorStoreUnavailable, "{err}");
    let err = tokio::time::timeout(Duration::from_secs(60), store.ensure_index(&spec("x", 4)))
        .await
        .expect("gives up")
        .expect_err("nothing listens");
    assert_eq!(err.code(), ErrorCode::VectorStoreUnavailable, "{err}");
    let shown = format!("{err} {err:?} {}", err.message());
    assert!(!shown.contains("Milvus-secret-42"), "{shown}");
}
