//! Workspaces: reading and changing the caller's own, and creating new ones from the
//! command line.

use crate::auth::{Role, WorkspaceCtx};
use crate::ids::WorkspaceId;
use crate::time::Timestamp;
use crate::workspace::{validate_description, validate_workspace_name, UpdateWorkspace, Workspace};
use crate::{Error, ErrorCode, Result};

use super::{IssuedKey, Loupe};

/// The workspace created on first start.
pub const DEFAULT_WORKSPACE: &str = "default";

impl Loupe {
    /// The caller's workspace.
    pub async fn get_workspace(&self, ctx: &WorkspaceCtx) -> Result<Workspace> {
        self.store.get_workspace(ctx.workspace_id()).await
    }

    /// Changes the caller's workspace; owners only.
    pub async fn update_workspace(
        &self,
        ctx: &WorkspaceCtx,
        update: &UpdateWorkspace,
    ) -> Result<Workspace> {
        ctx.require(Role::Owner)?;
        let ws = ctx.workspace_id();
        let Some(description) = &update.description else {
            return self.store.get_workspace(ws).await;
        };
        validate_description(description)?;
        self.store
            .update_workspace_description(ws, description)
            .await
    }

    /// Creates a workspace (command line only: creating tenants is an operator's act).
    pub async fn create_workspace(&self, name: &str) -> Result<Workspace> {
        validate_workspace_name(name)?;
        let workspace = new_workspace(name);
        self.store.insert_workspace(&workspace).await?;
        Ok(workspace)
    }

    /// Looks a workspace up by name for the command line.
    pub async fn workspace_by_name(&self, name: &str) -> Result<Workspace> {
        self.store
            .find_workspace_by_name(name)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::WorkspaceNotFound,
                    format!("workspace '{name}' not found"),
                )
            })
    }

    /// On an empty store, creates the `default` workspace with one owner key and
    /// returns that key; on any other store returns `None`.
    pub async fn bootstrap(&self) -> Result<Option<IssuedKey>> {
        let workspace = new_workspace(DEFAULT_WORKSPACE);
        let (record, token) = IssuedKey::prepare(Role::Owner, "bootstrap owner key");
        if !self.store.bootstrap(&workspace, &record).await? {
            return Ok(None);
        }
        Ok(Some(IssuedKey::from_record(&record, token)))
    }
}

fn new_workspace(name: &str) -> Workspace {
    Workspace {
        workspace_id: WorkspaceId::generate(),
        name: name.to_string(),
        description: String::new(),
        gmt_create_time: Timestamp::now(),
    }
}
