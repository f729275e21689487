//! Connection rows: settings as JSON, secrets as a sealed blob.

use std::collections::BTreeMap;

use loupe_core::connection::{BuiltIn, Connection, ConnectionType};
use loupe_core::ids::{ConnectionId, WorkspaceId};
use loupe_core::page::{Cursor, Page, PageRequest};
use loupe_core::store::ConnectionRecord;
use loupe_core::time::Timestamp;
use loupe_core::{Error, ErrorCode, Result};

use crate::errors::{db_error, unique_as};
use crate::pool::{fetch_page, on_pool, SqlStore};

const LIST: &str = "connections";
const COLUMNS: &str = "id, name, kind, config, secrets, created_at, modified_at";

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    id: String,
    name: String,
    kind: String,
    config: String,
    secrets: Vec<u8>,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<ConnectionRow> for ConnectionRecord {
    type Error = Error;

    fn try_from(row: ConnectionRow) -> Result<Self> {
        let stored: StoredConfig = serde_json::from_str(&row.config)
            .map_err(|e| Error::internal("reading connection", e))?;
        let connection_id = ConnectionId::from_raw(row.id);
        Ok(ConnectionRecord {
            connection: Connection {
                built_in: BuiltIn::of(&connection_id).is_some(),
                connection_id,
                connection_name: row.name,
                connection_type: ConnectionType::from_stored(&row.kind)?,
                configs: stored.configs,
                secret_names: stored.secret_names,
                gmt_create_time: Timestamp::from_millis(row.created_at),
                gmt_modified_time: Timestamp::from_millis(row.modified_at),
            },
            sealed_secrets: row.secrets,
        })
    }
}

/// The clear part of a connection: settings and the names (not values) of its secrets.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredConfig {
    configs: BTreeMap<String, String>,
    secret_names: Vec<String>,
}

pub(crate) fn config_json(c: &Connection) -> Result<String> {
    serde_json::to_string(&StoredConfig {
        configs: c.configs.clone(),
        secret_names: c.secret_names.clone(),
    })
    .map_err(|e| Error::internal("encoding connection", e))
}

fn name_taken(name: &str) -> impl FnOnce(sqlx::Error) -> Error {
    unique_as(
        ErrorCode::ConnectionAlreadyExists,
        format!("a connection named '{name}' exists already in this workspace: choose another ConnectionName"),
    )
}

fn not_found(id: &ConnectionId) -> Error {
    Error::new(
        ErrorCode::ConnectionNotFound,
        format!("connection '{id}' not found"),
    )
}

/// The insert of one connection row with its config JSON, bound for whichever engine
/// executes it (a pool or a workspace-creating transaction).
macro_rules! insert_connection_query {
    ($ws:expr, $c:expr, $config:expr, $sealed:expr) => {
        sqlx::query(
            "INSERT INTO connections (id, workspace_id, name, kind, config, secrets, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($c.connection_id.as_str())
        .bind($ws.as_str())
        .bind($c.connection_name.as_str())
        .bind($c.connection_type.as_str())
        .bind($config)
        .bind($sealed)
        .bind($c.gmt_create_time.millis())
        .bind($c.gmt_modified_time.millis())
    };
}

/// Inserts a workspace's built-in connections inside the transaction that creates it
/// (`$tx` is the transaction). They hold no secrets, so their sealed blob is empty.
macro_rules! insert_builtins {
    ($tx:expr, $workspace:expr) => {{
        let ws = &$workspace.workspace_id;
        for builtin in loupe_core::connection::BuiltIn::ALL {
            let c = builtin.connection(ws, $workspace.gmt_create_time);
            let config = $crate::connections::config_json(&c)?;
            $crate::connections::insert_connection_query!(ws, c, config, Vec::<u8>::new())
                .execute(&mut *$tx)
                .await
                .map_err($crate::errors::db_error)?;
        }
    }};
}
pub(crate) use {insert_builtins, insert_connection_query};

impl SqlStore {
    pub(crate) async fn insert_connection_row(
        &self,
        ws: &WorkspaceId,
        r: &ConnectionRecord,
    ) -> Result<()> {
        let c = &r.connection;
        let config = config_json(c)?;
        let conflict = name_taken(&c.connection_name);
        on_pool!(self, p => insert_connection_query!(ws, c, &config, &r.sealed_secrets)
            .execute(p)
            .await
            .map(drop)
            .map_err(conflict))
    }

    pub(crate) async fn connection_row(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<ConnectionRecord> {
        let sql = format!("SELECT {COLUMNS} FROM connections WHERE workspace_id = $1 AND id = $2");
        let row: Option<ConnectionRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        row.ok_or_else(|| not_found(id))?.try_into()
    }

    pub(crate) async fn connection_page(
        &self,
        ws: &WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<Connection>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections WHERE workspace_id = $1 \
             AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let after = page.after.as_ref();
        let (rows, total): (Vec<ConnectionRow>, i64) = fetch_page!(
            self,
            &sql,
            "SELECT COUNT(*) FROM connections WHERE workspace_id = $1",
            [ws.as_str()],
            [after.map(|c| c.key), after.map(|c| c.id.as_str())],
            page.limit
        );
        let items = rows
            .into_iter()
            .map(|row| ConnectionRecord::try_from(row).map(|r| r.connection))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit, total, |c| {
            Cursor::new(
                LIST,
                c.gmt_create_time.millis(),
                c.connection_id.to_string(),
            )
        }))
    }

    pub(crate) async fn update_connection_row(
        &self,
        ws: &WorkspaceId,
        r: &ConnectionRecord,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE connections SET name = $3, config = $4, secrets = $5, modified_at = $6 \
                           WHERE workspace_id = $1 AND id = $2";
        let c = &r.connection;
        let config = config_json(c)?;
        let conflict = name_taken(&c.connection_name);
        let affected = on_pool!(self, p => sqlx::query(SQL)
            .bind(ws.as_str())
            .bind(c.connection_id.as_str())
            .bind(&c.connection_name)
            .bind(&config)
            .bind(&r.sealed_secrets)
            .bind(c.gmt_modified_time.millis())
            .execute(p)
            .await
            .map_err(conflict)?
            .rows_affected());
        if affected == 0 {
            return Err(not_found(&c.connection_id));
        }
        Ok(())
    }

    pub(crate) async fn delete_connection_row(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<()> {
        const SQL: &str = "DELETE FROM connections WHERE workspace_id = $1 AND id = $2";
        let affected = on_pool!(self, p => sqlx::query(SQL)
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(p)
            .await
            .map_err(db_error)?
            .rows_affected());
        if affected == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }
}
