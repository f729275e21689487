//! [`MetadataStore`] for [`SqlStore`]: each call delegates to the module that owns the table.

use async_trait::async_trait;
use loupe_core::auth::WorkspaceCtx;
use loupe_core::dataset::{Dataset, DatasetUpdate};
use loupe_core::ids::{ApiKeyId, DatasetId, WorkspaceId};
use loupe_core::page::{Page, PageRequest};
use loupe_core::store::{ApiKeyRecord, DatasetFilter, MetadataStore};
use loupe_core::time::Timestamp;
use loupe_core::version::{DatasetVersion, VersionName};
use loupe_core::workspace::{ApiKey, Workspace};
use loupe_core::Result;

use crate::SqlStore;

#[async_trait]
impl MetadataStore for SqlStore {
    async fn check_ready(&self) -> Result<()> {
        self.readiness().await
    }

    async fn bootstrap(&self, workspace: &Workspace, owner_key: &ApiKeyRecord) -> Result<bool> {
        self.bootstrap_first(workspace, owner_key).await
    }

    async fn insert_workspace(&self, workspace: &Workspace) -> Result<()> {
        self.insert_workspace_row(workspace).await
    }

    async fn find_workspace_by_name(&self, name: &str) -> Result<Option<Workspace>> {
        self.find_workspace_named(name).await
    }

    async fn get_workspace(&self, ws: &WorkspaceId) -> Result<Workspace> {
        self.workspace(ws).await
    }

    async fn update_workspace_description(
        &self,
        ws: &WorkspaceId,
        description: &str,
    ) -> Result<Workspace> {
        self.set_workspace_description(ws, description).await
    }

    async fn insert_api_key(&self, ws: &WorkspaceId, key: &ApiKeyRecord) -> Result<()> {
        self.insert_key_row(ws, key).await
    }

    async fn authenticate(&self, token_hash: &str) -> Result<Option<WorkspaceCtx>> {
        self.key_context(token_hash).await
    }

    async fn list_api_keys(&self, ws: &WorkspaceId, page: &PageRequest) -> Result<Page<ApiKey>> {
        self.key_page(ws, page).await
    }

    async fn revoke_api_key(
        &self,
        ws: &WorkspaceId,
        key_id: &ApiKeyId,
        at: Timestamp,
    ) -> Result<()> {
        self.revoke_key_row(ws, key_id, at).await
    }

    async fn insert_dataset(&self, ws: &WorkspaceId, dataset: &Dataset) -> Result<()> {
        self.insert_dataset_row(ws, dataset).await
    }

    async fn get_dataset(&self, ws: &WorkspaceId, id: &DatasetId) -> Result<Dataset> {
        self.dataset(ws, id).await
    }

    async fn list_datasets(
        &self,
        ws: &WorkspaceId,
        filter: &DatasetFilter,
        page: &PageRequest,
    ) -> Result<Page<Dataset>> {
        self.dataset_page(ws, filter, page).await
    }

    async fn update_dataset(
        &self,
        ws: &WorkspaceId,
        id: &DatasetId,
        update: &DatasetUpdate,
        at: Timestamp,
    ) -> Result<Dataset> {
        self.update_dataset_row(ws, id, update, at).await
    }

    async fn delete_dataset(&self, ws: &WorkspaceId, id: &DatasetId) -> Result<()> {
        self.delete_dataset_row(ws, id).await
    }

    async fn create_version(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        description: &str,
        at: Timestamp,
    ) -> Result<DatasetVersion> {
        self.create_version_row(ws, dataset, description, at).await
    }

    async fn get_version(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Result<DatasetVersion> {
        self.version(ws, dataset, name).await
    }

    async fn list_versions(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        page: &PageRequest,
    ) -> Result<Page<DatasetVersion>> {
        self.version_page(ws, dataset, page).await
    }

    async fn update_version_description(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
        description: &str,
        at: Timestamp,
    ) -> Result<DatasetVersion> {
        self.set_version_description(ws, dataset, name, description, at)
            .await
    }

    async fn delete_version(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Result<()> {
        self.delete_version_row(ws, dataset, name).await
    }
}
