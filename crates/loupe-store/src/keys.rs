//! API key rows. Only the SHA-256 of a token is stored.

use loupe_core::auth::WorkspaceCtx;
use loupe_core::ids::{ApiKeyId, WorkspaceId};
use loupe_core::page::{Cursor, Page, PageRequest};
use loupe_core::store::ApiKeyRecord;
use loupe_core::time::Timestamp;
use loupe_core::workspace::ApiKey;
use loupe_core::{Error, ErrorCode, Result};

use crate::errors::db_error;
use crate::pool::{fetch_page, on_pool, SqlStore};
use crate::rows::{convert_all, parse_role, ApiKeyRow, API_KEY_COLUMNS};

const LIST: &str = "api_keys";

/// The insert of one key, bound for whichever engine executes it (a pool or a
/// bootstrap transaction).
macro_rules! insert_key_query {
    ($ws:expr, $key:expr) => {
        sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, name, role, token_hash, display_prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($key.key_id.as_str())
        .bind($ws.as_str())
        .bind($key.name.as_str())
        .bind($key.role.as_str())
        .bind($key.token_hash.as_str())
        .bind($key.display_prefix.as_str())
        .bind($key.created.millis())
    };
}
pub(crate) use insert_key_query;

impl SqlStore {
    pub(crate) async fn insert_key_row(&self, ws: &WorkspaceId, key: &ApiKeyRecord) -> Result<()> {
        on_pool!(self, p => insert_key_query!(ws, key)
            .execute(p)
            .await
            .map(drop)
            .map_err(db_error))
    }

    pub(crate) async fn key_context(&self, token_hash: &str) -> Result<Option<WorkspaceCtx>> {
        const SQL: &str = "SELECT id, workspace_id, role FROM api_keys \
                           WHERE token_hash = $1 AND revoked_at IS NULL";
        let row: Option<(String, String, String)> = on_pool!(self, p => sqlx::query_as(SQL)
            .bind(token_hash)
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        let Some((key_id, workspace_id, role)) = row else {
            return Ok(None);
        };
        Ok(Some(WorkspaceCtx::new(
            WorkspaceId::from_raw(workspace_id),
            ApiKeyId::from_raw(key_id),
            parse_role(&role)?,
        )))
    }

    pub(crate) async fn key_page(
        &self,
        ws: &WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1 \
             AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let after = page.after.as_ref();
        let (rows, total): (Vec<ApiKeyRow>, i64) = fetch_page!(
            self,
            &sql,
            "SELECT COUNT(*) FROM api_keys WHERE workspace_id = $1",
            [ws.as_str()],
            [after.map(|c| c.key), after.map(|c| c.id.as_str())],
            page.limit
        );
        let keys: Vec<ApiKey> = convert_all(rows)?;
        Ok(Page::from_overfetch(keys, page.limit, total, |k| {
            Cursor::new(LIST, k.gmt_create_time.millis(), k.key_id.to_string())
        }))
    }

    pub(crate) async fn revoke_key_row(
        &self,
        ws: &WorkspaceId,
        key_id: &ApiKeyId,
        at: Timestamp,
    ) -> Result<()> {
        const SQL: &str = "UPDATE api_keys SET revoked_at = $3 \
                           WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL";
        let affected = on_pool!(self, p => sqlx::query(SQL)
            .bind(ws.as_str())
            .bind(key_id.as_str())
            .bind(at.millis())
            .execute(p)
            .await
            .map_err(db_error)?
            .rows_affected());
        if affected == 0 {
            return Err(Error::new(
                ErrorCode::ApiKeyNotFound,
                format!("API key '{key_id}' not found or already revoked"),
            ));
        }
        Ok(())
    }
}
