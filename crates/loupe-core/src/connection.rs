//! Connections: configured services: object stores, vector databases, embedding models
//! and tagging models. Secrets are sealed at rest and never returned: reads show only
//! which secret names are set. Every workspace also has two built-in connections
//! ([`BuiltIn`]) that the zero-configuration path relies on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{ConnectionId, WorkspaceId};
use crate::time::Timestamp;
use crate::{Error, Result};

/// The kinds of connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ConnectionType {
    /// An S3-compatible object store: AWS S3, Alibaba OSS, MinIO, …
    ObjectStorage,
    /// A vector database: pgvector, Milvus, Elasticsearch or OpenSearch (or the
    /// embedded store, built in as `embedded-vectors`).
    VectorDatabase,
    /// A model that embeds images and texts: DashScope, PAI-EAS GME, OpenAI-compatible
    /// or the local model.
    EmbeddingModel,
    /// A model that tags images with a tag definition: OpenAI-compatible chat or the
    /// local zero-shot tagger.
    TaggingModel,
}

impl ConnectionType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionType::ObjectStorage => "ObjectStorage",
            ConnectionType::VectorDatabase => "VectorDatabase",
            ConnectionType::EmbeddingModel => "EmbeddingModel",
            ConnectionType::TaggingModel => "TaggingModel",
        }
    }

    /// Parses the stored name.
    pub fn from_stored(s: &str) -> Result<Self> {
        match s {
            "ObjectStorage" => Ok(ConnectionType::ObjectStorage),
            "VectorDatabase" => Ok(ConnectionType::VectorDatabase),
            "EmbeddingModel" => Ok(ConnectionType::EmbeddingModel),
            "TaggingModel" => Ok(ConnectionType::TaggingModel),
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
    /// A built-in connection (`local-model`, `embedded-vectors`): it cannot be changed,
    /// renamed or deleted.
    pub built_in: bool,
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
    /// `EmbeddingModel` and `TaggingModel`: `Provider` (required: `dashscope`, `pai-eas`,
    /// `openai` or `local` for embedding; `openai` or `local` for tagging), `BaseUrl`
    /// (required for remote providers: the full endpoint for `dashscope` and `pai-eas`,
    /// the API base ending in `/v1` for `openai`), `Model` (required for `dashscope` and
    /// `openai`), `Dimension` (embedding, required for remote providers: checked against
    /// every vector), `TimeoutSecs` (default 60), `MaxRetries` (default 3),
    /// `MaxConcurrency` (requests in flight, default 8), `MaxBatchSize`, `ImageMode`
    /// (`base64`, or `url`: presigned links for object-store datasets), `MaxImageBytes`
    /// (default 3000000 for `dashscope` and `pai-eas`).
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
    /// `ObjectStorage`: `AccessKeyId` and `AccessKeySecret` (required), `SessionToken` (optional).
    /// `VectorDatabase`: `Username` and `Password`, or `ApiKey` (Elasticsearch API key,
    /// Milvus token); all optional. `EmbeddingModel` and `TaggingModel`: `ApiKey`
    /// (required for `dashscope`; not used by `local`).
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
    /// by the other kinds.
    pub uri: Option<String>,
}

/// What a connection test found.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionTestResult {
    /// The service answered (a vector database or model that refused the credentials
    /// answered too).
    pub reachable: bool,
    /// Listing the location worked (object stores; always false for the other kinds).
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

/// The connections every workspace has from its creation on. Their ids are derived from
/// the workspace id, so they are stable and known without a lookup; they hold no secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    /// `local-model`: the in-process local embedder, which is also the zero-shot tagger.
    LocalModel,
    /// `embedded-vectors`: the embedded vector store under `$LOUPE_DATA_DIR/vectors`.
    EmbeddedVectors,
}

impl BuiltIn {
    /// Both built-ins.
    pub const ALL: [BuiltIn; 2] = [BuiltIn::LocalModel, BuiltIn::EmbeddedVectors];

    /// The connection name.
    pub fn name(self) -> &'static str {
        match self {
            BuiltIn::LocalModel => "local-model",
            BuiltIn::EmbeddedVectors => "embedded-vectors",
        }
    }

    /// The kind.
    pub fn connection_type(self) -> ConnectionType {
        match self {
            BuiltIn::LocalModel => ConnectionType::EmbeddingModel,
            BuiltIn::EmbeddedVectors => ConnectionType::VectorDatabase,
        }
    }

    /// The settings.
    pub fn configs(self) -> BTreeMap<String, String> {
        let (key, value) = match self {
            BuiltIn::LocalModel => ("Provider", "local"),
            BuiltIn::EmbeddedVectors => ("Engine", "embedded"),
        };
        BTreeMap::from([(key.to_string(), value.to_string())])
    }

    /// The id in a workspace: `conn-<name>-<workspace id without ws->`. Generated ids
    /// are `conn-` and lowercase alphanumerics only, so these cannot collide with them.
    /// Migration `0004_builtin_connections.sql` derives the same ids in SQL.
    pub fn id(self, ws: &WorkspaceId) -> ConnectionId {
        let suffix = ws
            .as_str()
            .strip_prefix(WorkspaceId::PREFIX)
            .unwrap_or(ws.as_str());
        ConnectionId::from_raw(format!("{}{}-{suffix}", ConnectionId::PREFIX, self.name()))
    }

    /// Which built-in an id names, if any.
    pub fn of(id: &ConnectionId) -> Option<BuiltIn> {
        let rest = id.as_str().strip_prefix(ConnectionId::PREFIX)?;
        BuiltIn::ALL.into_iter().find(|b| {
            rest.strip_prefix(b.name())
                .is_some_and(|r| r.starts_with('-'))
        })
    }

    /// The connection as it reads in a workspace created at `created`.
    pub fn connection(self, ws: &WorkspaceId, created: Timestamp) -> Connection {
        Connection {
            connection_id: self.id(ws),
            connection_name: self.name().to_string(),
            connection_type: self.connection_type(),
            configs: self.configs(),
            secret_names: Vec::new(),
            built_in: true,
            gmt_create_time: created,
            gmt_modified_time: created,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_are_stable_per_workspace_and_never_generated() {
        let ws = WorkspaceId::from_raw("ws-abc123");
        let id = BuiltIn::LocalModel.id(&ws);
        assert_eq!(id.as_str(), "conn-local-model-abc123");
        assert_eq!(BuiltIn::of(&id), Some(BuiltIn::LocalModel));
        assert_eq!(
            BuiltIn::of(&BuiltIn::EmbeddedVectors.id(&ws)),
            Some(BuiltIn::EmbeddedVectors)
        );
        for _ in 0..100 {
            assert_eq!(BuiltIn::of(&ConnectionId::generate()), None);
        }
        assert_eq!(
            BuiltIn::of(&ConnectionId::from_raw("conn-local-modelx")),
            None
        );
    }
}
