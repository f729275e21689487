//! A running Loupe for black-box tests: the real router served on 127.0.0.1:0 over an
//! isolated store (a fresh PostgreSQL schema or SQLite file), and a client that speaks
//! to it over real HTTP.

use std::path::PathBuf;

pub mod images;
pub mod models;

use loupe_api::{HttpOptions, ThumbnailCache};
use loupe_core::auth::Role;
use loupe_core::dataset::LocalRoots;
use std::sync::Arc;

use loupe_core::crypto::SecretBox;
use loupe_core::service::{Loupe, Settings};
use loupe_jobs::{WorkerOptions, WorkerPool};
use loupe_storage::Opener;
use loupe_store::testing::TestStore;
pub use loupe_store::Engine;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The master key of test servers.
pub const TEST_MASTER_KEY: [u8; 32] = [42; 32];

/// The body limit the test server runs with, small so tests can exceed it cheaply.
pub const TEST_BODY_LIMIT: usize = 64 * 1024;

pub use loupe_models::testing::model_data_dir;

/// A server and the owner key of its `default` workspace.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The owner key of the `default` workspace.
    pub owner_key: String,
    /// The services, to set up state a test needs without going through HTTP.
    pub loupe: Loupe,
    /// An object-store connection of the `default` workspace (its endpoint answers nothing).
    pub connection_id: String,
    /// A folder inside `LOUPE_LOCAL_ROOTS`.
    pub local_root: PathBuf,
    /// Where the server caches thumbnails.
    pub thumbnail_dir: PathBuf,
    client: reqwest::Client,
    store: Option<TestStore>,
    server: tokio::task::JoinHandle<()>,
    _root: tempfile::TempDir,
}

/// A response: status, the request id header and the JSON body (`Null` if none).
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `x-request-id` header.
    pub request_id: Option<String>,
    /// The body as JSON.
    pub body: Value,
}

impl Reply {
    /// The `Code` of an error envelope.
    pub fn code(&self) -> &str {
        self.body["Code"].as_str().unwrap_or_default()
    }

    /// Asserts an error envelope with this status and code, whose `RequestId` matches the header.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status of {:?}", self.body);
        assert_eq!(self.code(), code, "code of {:?}", self.body);
        assert!(
            self.body["Message"].as_str().is_some_and(|m| !m.is_empty()),
            "message of {:?}",
            self.body
        );
        assert_eq!(
            self.body["RequestId"].as_str(),
            self.request_id.as_deref(),
            "RequestId matches x-request-id"
        );
    }

    /// Asserts a 200 and returns the body.
    pub fn ok(self) -> Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected 200, got {:?}",
            self.body
        );
        self.body
    }
}

impl TestApp {
    /// Starts a server on the given engine with a bootstrapped `default` workspace.
    pub async fn start(engine: Engine) -> Self {
        Self::start_with(engine, |_| {}).await
    }

    /// Like [`TestApp::start`], with changed settings.
    pub async fn start_with(engine: Engine, change: impl FnOnce(&mut Settings)) -> Self {
        let store = TestStore::new(engine).await;
        let root = tempfile::tempdir().expect("temp dir");
        let local_root = root.path().join("images");
        std::fs::create_dir_all(&local_root).expect("local root");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut settings = Settings {
            local_roots: LocalRoots::new([local_root.clone()]),
            public_url: base.clone(),
            ..Settings::default()
        };
        change(&mut settings);
        let secrets = SecretBox::new(&TEST_MASTER_KEY);
        let loupe = Loupe::new(
            store.store.clone(),
            Arc::new(Opener::default()),
            Arc::new(loupe_vectordb::Opener::new(root.path().join("vectors"))),
            Arc::new(loupe_models::ModelHub::new(model_data_dir())),
            secrets,
            settings,
        );
        let owner_key = loupe
            .bootstrap()
            .await
            .expect("bootstrap")
            .expect("fresh store")
            .key;
        let thumbnails = root.path().join("thumbnails");
        std::fs::create_dir_all(&thumbnails).expect("thumbnail dir");
        let options = HttpOptions {
            max_body_bytes: TEST_BODY_LIMIT,
            thumbnail_cache: Some(Arc::new(
                ThumbnailCache::open(&thumbnails, 64 * 1024 * 1024).expect("thumbnail cache"),
            )),
            ..HttpOptions::default()
        };
        let router = loupe_api::router(loupe.clone(), &options);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let client = reqwest::Client::new();
        let connection = serde_json::json!({
            "ConnectionName": "test-store", "ConnectionType": "ObjectStorage",
            "Configs": {"Region": "us-east-1", "Endpoint": "http://127.0.0.1:9", "AddressingStyle": "path"},
            "Secrets": {"AccessKeyId": "test-access", "AccessKeySecret": "test-secret-value"}
        });
        let created = client
            .post(format!("{base}/api/v1/connections"))
            .bearer_auth(&owner_key)
            .json(&connection)
            .send()
            .await
            .expect("create connection");
        let created: Value = created.json().await.expect("connection json");
        let connection_id = created["ConnectionId"]
            .as_str()
            .expect("ConnectionId")
            .to_string();
        Self {
            base,
            owner_key,
            loupe,
            connection_id,
            local_root,
            thumbnail_dir: thumbnails,
            client,
            store: Some(store),
            server,
            _root: root,
        }
    }

    /// A new key of the `default` workspace.
    pub async fn key(&self, role: Role) -> String {
        self.loupe
            .create_api_key_for("default", role, "test")
            .await
            .expect("create key")
            .key
    }

    /// A new workspace and its owner key.
    pub async fn workspace(&self, name: &str) -> String {
        self.loupe
            .create_workspace(name)
            .await
            .expect("create workspace");
        self.loupe
            .create_api_key_for(name, Role::Owner, "test")
            .await
            .expect("create key")
            .key
    }

    /// Sends a request with an optional key and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request).await
    }

    /// Sends raw bytes with the given content type (for malformed-input tests).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        key: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        Self::reply(request).await
    }

    async fn reply(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches the server");
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("non-JSON body: {}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            request_id,
            body,
        }
    }

    /// GET with a key.
    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// POST JSON with a key.
    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// PUT JSON with a key.
    pub async fn put(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(key), Some(body)).await
    }

    /// DELETE with a key.
    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// Creates an object-store connection in the key's workspace and returns its id.
    pub async fn connection(&self, key: &str, name: &str) -> String {
        let body = serde_json::json!({
            "ConnectionName": name, "ConnectionType": "ObjectStorage",
            "Configs": {"Region": "us-east-1", "Endpoint": "http://127.0.0.1:9", "AddressingStyle": "path"},
            "Secrets": {"AccessKeyId": "test-access", "AccessKeySecret": "test-secret-value"}
        });
        let reply = self.post("/api/v1/connections", key, body).await.ok();
        reply["ConnectionId"]
            .as_str()
            .expect("ConnectionId")
            .to_string()
    }

    /// Creates a dataset on S3 (with a connection of its own) and returns its id. Keys
    /// below admin use the `default` workspace's connection.
    pub async fn dataset(&self, key: &str, name: &str) -> String {
        let admin = self.get("/api/v1/apikeys", key).await.status.is_success();
        let connection = match admin {
            true => self.connection(key, &format!("for-{name}")).await,
            false => self.connection_id.clone(),
        };
        let body = serde_json::json!({"Name": name, "Uri": "s3://bucket/frames", "ConnectionId": connection});
        let reply = self.post("/api/v1/datasets", key, body).await.ok();
        reply["DatasetId"].as_str().expect("DatasetId").to_string()
    }

    /// Creates the dataset's next version as the owner (its build job is left queued).
    pub async fn new_version(&self, dataset: impl std::fmt::Display) {
        let path = format!("/api/v1/datasets/{dataset}/versions");
        self.post(&path, &self.owner_key, serde_json::json!({}))
            .await
            .ok();
    }

    /// The isolated store behind the server.
    pub fn test_store(&self) -> &TestStore {
        self.store.as_ref().expect("running")
    }

    /// A worker pool on this server's services, woken by its store.
    pub fn workers(&self, options: WorkerOptions) -> WorkerPool {
        let wake = self.test_store().store.job_wakeups();
        WorkerPool::new(self.loupe.clone(), wake, options)
    }

    /// Runs tasks on one pool until none is runnable.
    pub async fn run_jobs(&self, pool: &WorkerPool) {
        while pool.run_one().await.expect("run a task") {}
    }

    /// The first job of a dataset (e.g. the build its first version started).
    pub async fn first_job(&self, key: &str, dataset: &str) -> String {
        let jobs = self
            .get(&format!("/api/v1/datasets/{dataset}/datasetjobs"), key)
            .await
            .ok();
        jobs["DatasetJobs"][0]["DatasetJobId"]
            .as_str()
            .expect("a job")
            .to_string()
    }

    /// Starts a job on a dataset and returns its id.
    pub async fn create_job(&self, dataset: &str, body: Value) -> String {
        let path = format!("/api/v1/datasets/{dataset}/datasetjobs");
        let reply = self.post(&path, &self.owner_key, body).await.ok();
        reply["DatasetJobId"]
            .as_str()
            .expect("DatasetJobId")
            .to_string()
    }

    /// Reads a job.
    pub async fn job(&self, dataset: &str, job: &str) -> Value {
        let path = format!("/api/v1/datasets/{dataset}/datasetjobs/{job}");
        self.get(&path, &self.owner_key).await.ok()
    }

    /// Starts a job, runs every runnable task on `pool`, and returns the job as it ended.
    pub async fn run_job(&self, pool: &WorkerPool, dataset: &str, body: Value) -> Value {
        let job = self.create_job(dataset, body).await;
        self.run_jobs(pool).await;
        self.job(dataset, &job).await
    }

    /// Runs tasks on `pool` until the job is final, waiting out retry backoffs; panics
    /// after two minutes.
    pub async fn run_until_final(&self, pool: &WorkerPool, dataset: &str, job: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            self.run_jobs(pool).await;
            let read = self.job(dataset, job).await;
            let status = read["Status"].as_str().unwrap_or_default();
            if !matches!(status, "Pending" | "Running") {
                return read;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job never ended: {read}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Stops the server and drops the test schema.
    pub async fn cleanup(mut self) {
        self.server.abort();
        if let Some(store) = self.store.take() {
            store.cleanup().await;
        }
    }
}
