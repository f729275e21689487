//! Connections: settings in clear, secrets sealed with the master key, never returned.

use std::collections::BTreeMap;

use crate::auth::{Role, WorkspaceCtx};
use crate::connection::{
    validate_object_storage, BuiltIn, Connection, ConnectionTest, ConnectionTestResult,
    ConnectionType, ConnectionUpdate, NewConnection, OpenedConnection,
};
use crate::dataset::StorageUri;
use crate::ids::{ConnectionId, WorkspaceId};
use crate::modelconn::{ModelKind, ModelSettings};
use crate::page::{Page, PageRequest};
use crate::store::ConnectionRecord;
use crate::time::Timestamp;
use crate::vectordb::{Engine, VectorDbSettings};
use crate::workspace::validate_name;
use crate::{Category, Error, ErrorCode, Result};

use super::{check_workspace_param, Loupe};

/// The associated data that binds sealed secrets to their row.
fn seal_context(ws: &WorkspaceId, id: &ConnectionId) -> String {
    format!("{ws}/{id}")
}

fn validate(
    kind: ConnectionType,
    configs: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<()> {
    match kind {
        ConnectionType::ObjectStorage => validate_object_storage(configs, secrets),
        ConnectionType::VectorDatabase => {
            let settings = VectorDbSettings::parse(configs, secrets)?;
            if settings.engine == Engine::Embedded {
                // One embedded store per process, reached through the built-in.
                return Err(Error::invalid(format!(
                    "Configs.Engine embedded is the built-in '{}' connection: use its ConnectionId",
                    BuiltIn::EmbeddedVectors.name()
                )));
            }
            Ok(())
        }
        ConnectionType::EmbeddingModel => {
            ModelSettings::parse(ModelKind::Embedding, configs, secrets).map(|_| ())
        }
        ConnectionType::TaggingModel => {
            ModelSettings::parse(ModelKind::Tagging, configs, secrets).map(|_| ())
        }
    }
}

/// Built-ins keep their settings, name and existence: the zero-configuration path and
/// every index configuration that defaults to them rely on it.
fn refuse_builtin(id: &ConnectionId, what: &str) -> Result<()> {
    match BuiltIn::of(id) {
        Some(builtin) => Err(Error::new(
            ErrorCode::ConnectionReadOnly,
            format!(
                "'{}' is a built-in connection and cannot be {what}: create a connection of your own instead",
                builtin.name()
            ),
        )),
        None => Ok(()),
    }
}

impl Loupe {
    /// Creates a connection (admins).
    pub async fn create_connection(
        &self,
        ctx: &WorkspaceCtx,
        new: NewConnection,
    ) -> Result<Connection> {
        ctx.require(Role::Admin)?;
        check_workspace_param(ctx, new.workspace_id.as_deref())?;
        validate_name("ConnectionName", &new.connection_name, 128)?;
        validate(new.connection_type, &new.configs, &new.secrets)?;
        let now = Timestamp::now();
        let connection = Connection {
            connection_id: ConnectionId::generate(),
            connection_name: new.connection_name,
            connection_type: new.connection_type,
            configs: new.configs,
            secret_names: new.secrets.keys().cloned().collect(),
            built_in: false,
            gmt_create_time: now,
            gmt_modified_time: now,
        };
        let record = self.seal(ctx, connection, &new.secrets)?;
        self.store
            .insert_connection(ctx.workspace_id(), &record)
            .await?;
        Ok(record.connection)
    }

    fn seal(
        &self,
        ctx: &WorkspaceCtx,
        connection: Connection,
        secrets: &BTreeMap<String, String>,
    ) -> Result<ConnectionRecord> {
        let plain =
            serde_json::to_vec(secrets).map_err(|e| Error::internal("encoding secrets", e))?;
        let sealed_secrets = self.secrets.seal(
            &plain,
            &seal_context(ctx.workspace_id(), &connection.connection_id),
        )?;
        Ok(ConnectionRecord {
            connection,
            sealed_secrets,
        })
    }

    /// Reads a connection (never its secrets).
    pub async fn get_connection(
        &self,
        ctx: &WorkspaceCtx,
        id: &ConnectionId,
    ) -> Result<Connection> {
        Ok(self
            .store
            .get_connection(ctx.workspace_id(), id)
            .await?
            .connection)
    }

    /// Lists connections.
    pub async fn list_connections(
        &self,
        ctx: &WorkspaceCtx,
        page: &PageRequest,
    ) -> Result<Page<Connection>> {
        self.store.list_connections(ctx.workspace_id(), page).await
    }

    /// Changes a connection (admins). Given secrets replace all old ones.
    pub async fn update_connection(
        &self,
        ctx: &WorkspaceCtx,
        id: &ConnectionId,
        update: ConnectionUpdate,
    ) -> Result<Connection> {
        ctx.require(Role::Admin)?;
        check_workspace_param(ctx, update.workspace_id.as_deref())?;
        // Existence first, so another workspace's built-in id reads as missing.
        self.store.get_connection(ctx.workspace_id(), id).await?;
        refuse_builtin(id, "changed or renamed")?;
        let opened = self.open_connection(ctx.workspace_id(), id).await?;
        let mut connection = opened.connection;
        if let Some(name) = update.connection_name {
            validate_name("ConnectionName", &name, 128)?;
            connection.connection_name = name;
        }
        if let Some(configs) = update.configs {
            connection.configs = configs;
        }
        let secrets = update.secrets.unwrap_or(opened.secrets);
        validate(connection.connection_type, &connection.configs, &secrets)?;
        connection.secret_names = secrets.keys().cloned().collect();
        connection.gmt_modified_time = Timestamp::now();
        let record = self.seal(ctx, connection, &secrets)?;
        self.store
            .update_connection(ctx.workspace_id(), &record)
            .await?;
        Ok(record.connection)
    }

    /// Deletes a connection (admins).
    pub async fn delete_connection(&self, ctx: &WorkspaceCtx, id: &ConnectionId) -> Result<()> {
        ctx.require(Role::Admin)?;
        self.store.get_connection(ctx.workspace_id(), id).await?;
        refuse_builtin(id, "deleted")?;
        self.store.delete_connection(ctx.workspace_id(), id).await
    }

    /// The connection with its secrets opened, for adapters only: never for a response.
    pub(super) async fn open_connection(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<OpenedConnection> {
        let record = self.store.get_connection(ws, id).await?;
        if record.connection.built_in {
            // Built-ins hold no secrets, and their rows carry no sealed blob.
            return Ok(OpenedConnection {
                connection: record.connection,
                secrets: BTreeMap::new(),
            });
        }
        let plain = self
            .secrets
            .open(&record.sealed_secrets, &seal_context(ws, id))?;
        let secrets =
            serde_json::from_slice(&plain).map_err(|e| Error::internal("decoding secrets", e))?;
        Ok(OpenedConnection {
            connection: record.connection,
            secrets,
        })
    }

    /// Tries the connection and says what worked (admins): an object store against a
    /// location, a vector database with one cheap authenticated request, an embedding
    /// model by embedding one short text, a tagging model by tagging one tiny image.
    pub async fn test_connection(
        &self,
        ctx: &WorkspaceCtx,
        id: &ConnectionId,
        test: &ConnectionTest,
    ) -> Result<ConnectionTestResult> {
        ctx.require(Role::Admin)?;
        let opened = self.open_connection(ctx.workspace_id(), id).await?;
        match opened.connection.connection_type {
            ConnectionType::ObjectStorage => self.test_object_storage(&opened, test).await,
            ConnectionType::VectorDatabase => self.test_vector_database(&opened).await,
            ConnectionType::EmbeddingModel | ConnectionType::TaggingModel => {
                self.test_model(&opened).await
            }
        }
    }

    async fn test_object_storage(
        &self,
        opened: &OpenedConnection,
        test: &ConnectionTest,
    ) -> Result<ConnectionTestResult> {
        let Some(uri) = test.uri.as_deref() else {
            return Err(Error::invalid(
                "Uri is required to test an ObjectStorage connection, e.g. s3://bucket/prefix",
            ));
        };
        let location = StorageUri::parse(uri)?;
        if !location.needs_connection() {
            return Err(Error::invalid(
                "Uri must be s3:// or oss:// to test an ObjectStorage connection",
            ));
        }
        let store = self.opener.open(&location, Some(opened))?;
        Ok(match store.check().await {
            Ok(report) => ConnectionTestResult {
                reachable: true,
                can_list: report.can_list,
                message: report.message,
            },
            Err(err) => ConnectionTestResult {
                reachable: !err.is_retryable(),
                can_list: false,
                message: err.to_string(),
            },
        })
    }

    async fn test_vector_database(
        &self,
        opened: &OpenedConnection,
    ) -> Result<ConnectionTestResult> {
        let settings = VectorDbSettings::parse(&opened.connection.configs, &opened.secrets)?;
        let checked = match self.vector_opener.open(&settings).await {
            Ok(store) => store.check().await,
            Err(err) => Err(err),
        };
        match checked {
            Ok(()) => Ok(ConnectionTestResult {
                reachable: true,
                can_list: false,
                message: match settings.engine {
                    Engine::Embedded => "the embedded store is open in the data folder".to_string(),
                    engine => format!("{} answered and accepted the credentials", engine.as_str()),
                },
            }),
            // A fault of ours is a 500, with its detail in the log only.
            Err(err) if err.category() == Category::Internal => Err(err),
            // The adapters' messages name the setting to fix and never a secret.
            Err(err) => Ok(ConnectionTestResult {
                reachable: err.code() == ErrorCode::VectorStoreError,
                can_list: false,
                message: err.message().to_string(),
            }),
        }
    }
}
