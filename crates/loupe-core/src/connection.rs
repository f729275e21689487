//! Connections: configured external services: object stores and vector databases;
//! model kinds join later. Secrets are sealed at rest and never
//! returned: reads show only which secret names are set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::ConnectionId;
use crate::time::Timestamp;
use crate::{Error, Result};

/// The kinds of connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ConnectionType {
    /// An S3-compatible object store: AWS S3, Alibaba OSS, MinIO, …
    ObjectStorage,
    /// A vector database: pgvector, Milvus, Elasticsearch or OpenSearch.
    VectorDatabase,
}

impl ConnectionType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionType::ObjectStorage => "ObjectStorage",
            ConnectionType::VectorDatabase => "VectorDatabase",
        }
    }

    /// Parses the stored name.
    pub fn from_stored(s: &str) -> Result<Self> {
        match s {
            "ObjectStorage" => Ok(ConnectionType::ObjectStorage),
            "VectorDatabase" => Ok(ConnectionType::VectorDatabase),
            other => Err(Error::internal(
                "reading connection",
                format!("unknown type '{other}'"),
            )),
        }
    }
}

/// A connection as the API shows it: never its secrets.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Connection {
    /// The connection id (`conn-…`).
    pub connection_id: ConnectionId,
    /// Unique within the workspace.
    pub connection_name: String,
    /// The kind.
    pub connection_type: ConnectionType,
    /// Non-secret settings, e.g. `Endpoint`, `Region`, `AddressingStyle`.
    pub configs: BTreeMap<String, String>,
    /// The names of the secrets that are set (their values are never shown).
    pub secret_names: Vec<String>,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_create_time: Timestamp,
    /// When it was last changed.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_modified_time: Timestamp,
}

/// `CreateConnection` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewConnection {
    /// 1 to 128 letters, digits, `_`, `-` or `.`.
    pub connection_name: String,
    /// The kind.
    pub connection_type: ConnectionType,
    /// `ObjectStorage`: `Region` (required), `Endpoint` (URL, for S3-compatible services and OSS),
    /// `AddressingStyle` (`path` or `virtual`, default `virtual`).
    /// `VectorDatabase`: `Engine` (required: `pgvector`, `milvus`, `elasticsearch` or
    /// `opensearch`), `Endpoint` (required: `postgres://host:port/database` for pgvector,
    /// `http(s)://host:port` for the others; never credentials), `Database` (the
    /// PostgreSQL schema for pgvector, default `public`; the Milvus database),
    /// `TimeoutSecs` (per request, default 30), `MaxRetries` (default 3).
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
    /// `ObjectStorage`: `AccessKeyId` and `AccessKeySecret` (required), `SessionToken` (optional).
    /// `VectorDatabase`: `Username` and `Password`, or `ApiKey` (Elasticsearch API key,
    /// Milvus token); all optional.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

/// `UpdateConnection` body: only the fields given change; `Secrets` replaces all secrets.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ConnectionUpdate {
    /// New name.
    pub connection_name: Option<String>,
    /// New settings (replace the old ones).
    pub configs: Option<BTreeMap<String, String>>,
    /// New secrets (replace the old ones).
    pub secrets: Option<BTreeMap<String, String>>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    pub workspace_id: Option<String>,
}

/// `TestConnection` body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ConnectionTest {
    /// A location to try, e.g. `s3://bucket/prefix`; needed for object stores, ignored
    /// for vector databases.
    pub uri: Option<String>,
}

/// What a connection test found.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionTestResult {
    /// The service answered (a vector database that refused the credentials answered too).
    pub reachable: bool,
    /// Listing the location worked (object stores; always false for vector databases).
    pub can_list: bool,
    /// What worked and what did not, in words.
    pub message: String,
}

/// A connection with its secrets opened, for adapters only.
#[derive(Clone)]
pub struct OpenedConnection {
    /// The connection.
    pub connection: Connection,
    /// Secret values by name.
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for OpenedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedConnection")
            .field("connection", &self.connection)
            .field("secrets", &"[redacted]")
            .finish()
    }
}

/// The settings an object-store connection must have, checked at create and update.
pub fn validate_object_storage(
    configs: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<()> {
    const CONFIGS: &[&str] = &["Region", "Endpoint", "AddressingStyle"];
    const SECRETS: &[&str] = &["AccessKeyId", "AccessKeySecret", "SessionToken"];
    if let Some(unknown) = configs.keys().find(|k| !CONFIGS.contains(&k.as_str())) {
        return Err(Error::invalid(format!(
            "unknown Configs key '{unknown}' for ObjectStorage: use {}",
            CONFIGS.join(", ")
        )));
    }
    if let Some(unknown) = secrets.keys().find(|k| !SECRETS.contains(&k.as_str())) {
        return Err(Error::invalid(format!(
            "unknown Secrets key '{unknown}' for ObjectStorage: use {}",
            SECRETS.join(", ")
        )));
    }
    if configs.get("Region").is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::invalid(
            "Configs.Region is required, e.g. us-east-1 or oss-cn-hangzhou",
        ));
    }
    if let Some(endpoint) = configs.get("Endpoint") {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            || endpoint.len() > 512
        {
            return Err(Error::invalid(format!(
                "Configs.Endpoint '{endpoint}' must be an http:// or https:// URL"
            )));
        }
    }
    if let Some(style) = configs.get("AddressingStyle") {
        if style != "path" && style != "virtual" {
            return Err(Error::invalid(
                "Configs.AddressingStyle must be path or virtual",
            ));
        }
    }
    for required in ["AccessKeyId", "AccessKeySecret"] {
        if secrets.get(required).is_none_or(|v| v.is_empty()) {
            return Err(Error::invalid(format!("Secrets.{required} is required")));
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
    Ok(())
}
