//! Workspace rows and the first-start bootstrap.

use loupe_core::ids::WorkspaceId;
use loupe_core::store::ApiKeyRecord;
use loupe_core::workspace::Workspace;
use loupe_core::{Error, ErrorCode, Result};

use crate::connections::insert_builtins;
use crate::errors::{db_error, unique_as};
use crate::keys::insert_key_query;
use crate::pool::{on_pool, SqlStore};
use crate::rows::{WorkspaceRow, WORKSPACE_COLUMNS};

const INSERT_WORKSPACE: &str =
    "INSERT INTO workspaces (id, name, description, created_at) VALUES ($1, $2, $3, $4)";

impl SqlStore {
    pub(crate) async fn bootstrap_first(
        &self,
        workspace: &Workspace,
        key: &ApiKeyRecord,
    ) -> Result<bool> {
        let outcome: Result<bool> = on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workspaces")
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
            if existing > 0 {
                return Ok(false);
            }
            sqlx::query(INSERT_WORKSPACE)
                .bind(workspace.workspace_id.as_str())
                .bind(&workspace.name)
                .bind(&workspace.description)
                .bind(workspace.gmt_create_time.millis())
                .execute(&mut *tx)
                .await
                .map_err(unique_as(ErrorCode::WorkspaceAlreadyExists, "raced"))?;
            insert_key_query!(workspace.workspace_id, key)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            insert_builtins!(tx, workspace);
            tx.commit().await.map_err(db_error)?;
            Ok(true)
        }
        .await);
        // Another replica bootstrapping at the same moment wins the unique name; this
        // one then has nothing to do.
        match outcome {
            Err(e) if e.code() == ErrorCode::WorkspaceAlreadyExists => Ok(false),
            other => other,
        }
    }

    pub(crate) async fn insert_workspace_row(&self, workspace: &Workspace) -> Result<()> {
        let conflict = unique_as(
            ErrorCode::WorkspaceAlreadyExists,
            format!("workspace '{}' exists already", workspace.name),
        );
        on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            sqlx::query(INSERT_WORKSPACE)
                .bind(workspace.workspace_id.as_str())
                .bind(&workspace.name)
                .bind(&workspace.description)
                .bind(workspace.gmt_create_time.millis())
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
            insert_builtins!(tx, workspace);
            tx.commit().await.map_err(db_error)
        }
        .await)
    }

    pub(crate) async fn find_workspace_named(&self, name: &str) -> Result<Option<Workspace>> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE name = $1");
        let row: Option<WorkspaceRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(name)
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        Ok(row.map(Workspace::from))
    }

    pub(crate) async fn workspace(&self, ws: &WorkspaceId) -> Result<Workspace> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1");
        let row: Option<WorkspaceRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        row.map(Workspace::from)
            .ok_or_else(|| workspace_not_found(ws))
    }

    pub(crate) async fn set_workspace_description(
        &self,
        ws: &WorkspaceId,
        description: &str,
    ) -> Result<Workspace> {
        let sql = format!(
            "UPDATE workspaces SET description = $2 WHERE id = $1 RETURNING {WORKSPACE_COLUMNS}"
        );
        let row: Option<WorkspaceRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(description)
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        row.map(Workspace::from)
            .ok_or_else(|| workspace_not_found(ws))
    }
}

fn workspace_not_found(ws: &WorkspaceId) -> Error {
    Error::new(
        ErrorCode::WorkspaceNotFound,
        format!("workspace '{ws}' not found"),
    )
}
