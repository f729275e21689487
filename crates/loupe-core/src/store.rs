//! The metadata store port. PostgreSQL (production) and SQLite (embedded default)
//! implement it in `loupe-store`; one conformance suite runs against both.
//!
//! Every call about tenant data takes the [`WorkspaceId`] of the caller, which only
//! the authenticator can produce from a key, so no call can reach another tenant's rows.

use async_trait::async_trait;

use crate::auth::{Role, WorkspaceCtx};
use crate::dataset::{Dataset, DatasetUpdate};
use crate::ids::{ApiKeyId, DatasetId, WorkspaceId};
use crate::page::{Page, PageRequest};
use crate::time::Timestamp;
use crate::version::{DatasetVersion, VersionName};
use crate::workspace::{ApiKey, Workspace};
use crate::Result;

/// A key to store: the token itself is never given to the store.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    /// The key id.
    pub key_id: ApiKeyId,
    /// What it is for.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// The first characters of the token.
    pub display_prefix: String,
    /// When it was made.
    pub created: Timestamp,
}

/// Filters of `ListDatasets`.
#[derive(Debug, Clone, Default)]
pub struct DatasetFilter {
    /// Keep datasets whose name contains this text.
    pub name_contains: Option<String>,
}

/// Persistence of workspaces, keys, datasets and versions.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Fails unless the store answers and every migration this binary knows is applied.
    async fn check_ready(&self) -> Result<()>;

    /// Creates the first workspace with an owner key, but only when the store has no
    /// workspace at all. Returns `false` when some workspace already existed, so several
    /// replicas starting together bootstrap exactly once.
    async fn bootstrap(&self, workspace: &Workspace, owner_key: &ApiKeyRecord) -> Result<bool>;

    /// Creates a workspace; `WorkspaceAlreadyExists` if the name is taken.
    async fn insert_workspace(&self, workspace: &Workspace) -> Result<()>;
    /// Looks a workspace up by name (for the command line).
    async fn find_workspace_by_name(&self, name: &str) -> Result<Option<Workspace>>;
    /// Reads the caller's workspace.
    async fn get_workspace(&self, ws: &WorkspaceId) -> Result<Workspace>;
    /// Changes the workspace description.
    async fn update_workspace_description(
        &self,
        ws: &WorkspaceId,
        description: &str,
    ) -> Result<Workspace>;

    /// Stores a new key.
    async fn insert_api_key(&self, ws: &WorkspaceId, key: &ApiKeyRecord) -> Result<()>;
    /// Resolves a token hash to the context of an unrevoked key.
    async fn authenticate(&self, token_hash: &str) -> Result<Option<WorkspaceCtx>>;
    /// Lists the workspace's keys, newest first.
    async fn list_api_keys(&self, ws: &WorkspaceId, page: &PageRequest) -> Result<Page<ApiKey>>;
    /// Revokes a key; `ApiKeyNotFound` if it is not one of the workspace's unrevoked keys.
    async fn revoke_api_key(
        &self,
        ws: &WorkspaceId,
        key_id: &ApiKeyId,
        at: Timestamp,
    ) -> Result<()>;

    /// Creates a dataset; `DatasetAlreadyExists` if the name is taken in the workspace.
    async fn insert_dataset(&self, ws: &WorkspaceId, dataset: &Dataset) -> Result<()>;
    /// Reads a dataset; `DatasetNotFound` if it is not in the workspace.
    async fn get_dataset(&self, ws: &WorkspaceId, id: &DatasetId) -> Result<Dataset>;
    /// Lists datasets, newest first.
    async fn list_datasets(
        &self,
        ws: &WorkspaceId,
        filter: &DatasetFilter,
        page: &PageRequest,
    ) -> Result<Page<Dataset>>;
    /// Applies the given changes and returns the new state.
    async fn update_dataset(
        &self,
        ws: &WorkspaceId,
        id: &DatasetId,
        update: &DatasetUpdate,
        at: Timestamp,
    ) -> Result<Dataset>;
    /// Deletes a dataset and all its versions.
    async fn delete_dataset(&self, ws: &WorkspaceId, id: &DatasetId) -> Result<()>;

    /// Creates the next version (`v{n+1}`, numbers never reused) in state `Pending`.
    async fn create_version(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        description: &str,
        at: Timestamp,
    ) -> Result<DatasetVersion>;
    /// Reads a version; `DatasetNotFound` or `DatasetVersionNotFound`.
    async fn get_version(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Result<DatasetVersion>;
    /// Lists versions, oldest first.
    async fn list_versions(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        page: &PageRequest,
    ) -> Result<Page<DatasetVersion>>;
    /// Changes a version's description.
    async fn update_version_description(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
        description: &str,
        at: Timestamp,
    ) -> Result<DatasetVersion>;
    /// Deletes a version.
    async fn delete_version(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Result<()>;
}
