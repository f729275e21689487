//! The settings of a `VectorDatabase` connection: which engine, where, and how to sign
//! in. Parsed once, at create and update (so a bad setting is refused with its name) and
//! again when an adapter opens the connection.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{Error, Result};

/// The vector databases Loupe speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL with the pgvector extension (also the SQL shape of Hologres).
    Pgvector,
    /// Milvus ≥ 2.4 over its gRPC API.
    Milvus,
    /// Elasticsearch ≥ 8.x (`dense_vector`, kNN search).
    Elasticsearch,
    /// OpenSearch with the k-NN plugin (also Lindorm's vector engine).
    OpenSearch,
    /// The embedded store in process, under `$LOUPE_DATA_DIR/vectors`: only the
    /// built-in `embedded-vectors` connection uses it.
    Embedded,
}

impl Engine {
    /// The `Configs.Engine` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Pgvector => "pgvector",
            Engine::Milvus => "milvus",
            Engine::Elasticsearch => "elasticsearch",
            Engine::OpenSearch => "opensearch",
            Engine::Embedded => "embedded",
        }
    }

    const ALL: [Engine; 5] = [
        Engine::Pgvector,
        Engine::Milvus,
        Engine::Elasticsearch,
        Engine::OpenSearch,
        Engine::Embedded,
    ];
}

/// A parsed `VectorDatabase` connection. `Debug` hides the secrets.
#[derive(Clone)]
pub struct VectorDbSettings {
    /// The engine.
    pub engine: Engine,
    /// `postgres://host:port/db` for pgvector, `http(s)://host:port` for the others.
    pub endpoint: String,
    /// Milvus database, or the PostgreSQL schema for pgvector; `None` for the default.
    pub database: Option<String>,
    /// User name (pgvector, Milvus, Elasticsearch/OpenSearch basic auth).
    pub username: Option<String>,
    /// Password for that user.
    pub password: Option<String>,
    /// API key (Elasticsearch `ApiKey`, Milvus token), instead of user and password.
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries of a request that failed with 429, 5xx or a transport error.
    pub max_retries: u32,
}

impl std::fmt::Debug for VectorDbSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorDbSettings")
            .field("engine", &self.engine)
            .field("endpoint", &self.endpoint)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

const CONFIGS: &[&str] = &[
    "Engine",
    "Endpoint",
    "Database",
    "TimeoutSecs",
    "MaxRetries",
];
const SECRETS: &[&str] = &["Username", "Password", "ApiKey"];

fn number(configs: &BTreeMap<String, String>, key: &str, default: u64, max: u64) -> Result<u64> {
    match configs.get(key) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(Error::invalid(format!(
                "Configs.{key} '{text}' must be a whole number from 0 to {max}"
            ))),
        },
    }
}

/// The embedded store lives in the data folder: it has nowhere to point and no one to
/// sign in as.
fn embedded(
    configs: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<VectorDbSettings> {
    if let Some(key) = configs.keys().find(|k| *k != "Engine") {
        return Err(Error::invalid(format!(
            "Configs.{key} is not used by the embedded engine: remove it"
        )));
    }
    if let Some(key) = secrets.keys().next() {
        return Err(Error::invalid(format!(
            "Secrets.{key} is not used by the embedded engine: remove it"
        )));
    }
    Ok(VectorDbSettings {
        engine: Engine::Embedded,
        endpoint: String::new(),
        database: None,
        username: None,
        password: None,
        api_key: None,
        timeout: Duration::from_secs(30),
        max_retries: 0,
    })
}

impl VectorDbSettings {
    /// Parses and checks a connection's configs and secrets.
    pub fn parse(
        configs: &BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Result<Self> {
        if let Some(unknown) = configs.keys().find(|k| !CONFIGS.contains(&k.as_str())) {
            return Err(Error::invalid(format!(
                "unknown Configs key '{unknown}' for VectorDatabase: use {}",
                CONFIGS.join(", ")
            )));
        }
        if let Some(unknown) = secrets.keys().find(|k| !SECRETS.contains(&k.as_str())) {
            return Err(Error::invalid(format!(
                "unknown Secrets key '{unknown}' for VectorDatabase: use {}",
                SECRETS.join(", ")
            )));
        }
        let names = || {
            Engine::ALL
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let engine = match configs.get("Engine") {
            None => {
                return Err(Error::invalid(format!(
                    "Configs.Engine is required: one of {}",
                    names()
                )))
            }
            Some(e) => Engine::ALL
                .into_iter()
                .find(|x| x.as_str().eq_ignore_ascii_case(e.trim()))
                .ok_or_else(|| {
                    Error::invalid(format!("Configs.Engine '{e}' is not one of {}", names()))
                })?,
        };
        if engine == Engine::Embedded {
            return embedded(configs, secrets);
        }
        let endpoint = configs
            .get("Endpoint")
            .map(|e| e.trim().to_string())
            .unwrap_or_default();
        let schemes: &[&str] = match engine {
            Engine::Pgvector => &["postgres://", "postgresql://"],
            _ => &["http://", "https://"],
        };
        if endpoint.len() > 512 || !schemes.iter().any(|s| endpoint.starts_with(s)) {
            return Err(Error::invalid(format!(
                "Configs.Endpoint is required for {} and must start with {}",
                engine.as_str(),
                schemes.join(" or ")
            )));
        }
        if engine == Engine::Pgvector && endpoint.contains('@') {
            return Err(Error::invalid(
                "Configs.Endpoint must not hold credentials: put them in Secrets.Username and Secrets.Password",
            ));
        }
        let database = configs
            .get("Database")
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        if let Some(db) = &database {
            let ok = db.len() <= 63
                && db.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(Error::invalid(format!(
                    "Configs.Database '{db}' must be 1 to 63 letters, digits or '_', starting with a letter or '_'"
                )));
            }
        }
        if secrets
            .values()
            .chain(configs.values())
            .any(|v| v.len() > 4096)
        {
            return Err(Error::invalid(
                "a Configs or Secrets value is longer than 4096 characters",
            ));
        }
        let secret = |k: &str| secrets.get(k).filter(|v| !v.is_empty()).cloned();
        let (username, password) = (secret("Username"), secret("Password"));
        if password.is_some() && username.is_none() {
            return Err(Error::invalid("Secrets.Password needs Secrets.Username"));
        }
        Ok(Self {
            engine,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            database,
            username,
            password,
            api_key: secret("ApiKey"),
            timeout: Duration::from_secs(number(configs, "TimeoutSecs", 30, 600)?.max(1)),
            max_retries: u32::try_from(number(configs, "MaxRetries", 3, 10)?).unwrap_or(3),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_names_what_is_wrong() {
        let ok = VectorDbSettings::parse(
            &map(&[("Engine", "Elasticsearch"), ("Endpoint", "http://es:9200/")]),
            &map(&[("Username", "elastic"), ("Password", "pw")]),
        )
        .expect("valid");
        assert_eq!(ok.engine, Engine::Elasticsearch);
        assert_eq!(ok.endpoint, "http://es:9200");
        assert!(!format!("{ok:?}").contains("pw"));

        for (configs, secrets, needle) in [
            (
                vec![("Endpoint", "http://x")],
                vec![],
                "Configs.Engine is required",
            ),
            (
                vec![("Engine", "faiss"), ("Endpoint", "http://x")],
                vec![],
                "'faiss' is not one of",
            ),
            (
                vec![("Engine", "milvus")],
                vec![],
                "Configs.Endpoint is required",
            ),
            (
                vec![("Engine", "pgvector"), ("Endpoint", "http://x")],
                vec![],
                "postgres://",
            ),
            (
                vec![("Engine", "pgvector"), ("Endpoint", "postgres://u:p@h/db")],
                vec![],
                "must not hold credentials",
            ),
            (
                vec![
                    ("Engine", "milvus"),
                    ("Endpoint", "http://x"),
                    ("TimeoutSecs", "-1"),
                ],
                vec![],
                "Configs.TimeoutSecs",
            ),
            (
                vec![
                    ("Engine", "milvus"),
                    ("Endpoint", "http://x"),
                    ("Database", "a-b"),
                ],
                vec![],
                "Configs.Database",
            ),
            (
                vec![
                    ("Engine", "milvus"),
                    ("Endpoint", "http://x"),
                    ("Color", "red"),
                ],
                vec![],
                "unknown Configs key 'Color'",
            ),
            (
                vec![("Engine", "milvus"), ("Endpoint", "http://x")],
                vec![("Token", "t")],
                "unknown Secrets key 'Token'",
            ),
            (
                vec![("Engine", "milvus"), ("Endpoint", "http://x")],
                vec![("Password", "t")],
                "needs Secrets.Username",
            ),
        ] {
            let err = VectorDbSettings::parse(&map(&configs), &map(&secrets)).expect_err(needle);
            assert!(
                err.message().contains(needle),
                "{needle}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn the_embedded_engine_takes_no_endpoint_and_no_secrets() {
        let ok = VectorDbSettings::parse(&map(&[("Engine", "embedded")]), &map(&[])).unwrap();
        assert_eq!(ok.engine, Engine::Embedded);
        let err = VectorDbSettings::parse(
            &map(&[("Engine", "embedded"), ("Endpoint", "http://x")]),
            &map(&[]),
        )
        .unwrap_err();
        assert!(err.message().contains("Configs.Endpoint"), "{err}");
        let err =
            VectorDbSettings::parse(&map(&[("Engine", "embedded")]), &map(&[("Password", "pw")]))
                .unwrap_err();
        assert!(err.message().contains("Secrets.Password"), "{err}");
    }
}
