//! A real S3 server for tests: the `s3s-fs` binary serving a temporary folder, started on a free port and
//! killed when the guard drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{S3Settings, Timeouts};

/// The credentials the server checks (SigV4).
pub const ACCESS_KEY: &str = "loupe-test-access";
/// The secret that goes with [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "loupe-test-secret-3f9c";

const INSTALL_HINT: &str = "install it with `cargo install s3s-fs --version 0.14.1 --features binary --locked \
     --root $HOME/.cache/loupe-test` (tests/run.sh does this) or point LOUPE_TEST_S3S_FS at the binary";

/// A running s3s-fs; the server is killed on drop.
pub struct S3sFs {
    child: Child,
    data: tempfile::TempDir,
    log: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl S3sFs {
    /// Starts the server and waits until it accepts connections. Panics, saying how to install it, when the
    /// binary is missing: these tests must never pass without a server.
    pub async fn start() -> Self {
        let binary = binary();
        assert!(
            binary.is_file(),
            "s3s-fs not found at {}: {INSTALL_HINT}",
            binary.display()
        );
        let data = tempfile::tempdir().unwrap();
        let log = data.path().join("s3s-fs.log");
        let root = data.path().join("root");
        std::fs::create_dir(&root).unwrap();
        // s3s-fs takes a port number, not a listener; the port is free as soon as this probe is dropped.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start {}: {err}; {INSTALL_HINT}", binary.display())
            });
        let mut server = Self {
            child,
            data,
            log,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_ready(port).await;
        server
    }

    async fn wait_until_ready(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("s3s-fs exited with {status}: {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not listen on {port} within 15 s: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The folder of `bucket` on disk, created if needed.
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        let dir = self.data.path().join("root").join(bucket);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes one object straight into the served folder.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        write_file(&self.bucket_dir(bucket), key, bytes);
    }

    /// Settings for `bucket` + `prefix` on this server, with the right credentials.
    pub fn settings(&self, bucket: &str, prefix: &str) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".to_owned(),
            path_style: true,
            access_key_id: ACCESS_KEY.to_owned(),
            secret_access_key: SECRET_KEY.to_owned(),
            session_token: None,
            scheme: "s3".to_owned(),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                operation: Duration::from_secs(20),
                max_attempts: 2,
            },
        }
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LOUPE_TEST_S3S_FS") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").expect("HOME is not set");
    Path::new(&home).join(".cache/loupe-test/bin/s3s-fs")
}

fn write_file(dir: &Path, key: &str, bytes: &[u8]) {
    let path = dir.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}
