//! [`MetadataStore`] for [`SqlStore`]: each call delegates to the module that owns the table.

use async_trait::async_trait;
use loupe_core::auth::WorkspaceCtx;
use loupe_core::connection::Connection;
use loupe_core::dataset::{Dataset, DatasetUpdate};
use loupe_core::file_meta::{FileMetaRecord, SortOrder};
use loupe_core::ids::{ApiKeyId, ConnectionId, DatasetId, JobId, WorkspaceId};
use loupe_core::job::{DatasetJob, JobFailure, JobLog, JobMode, JobStatus};
use loupe_core::page::{Page, PageRequest};
use loupe_core::query::Expr;
use loupe_core::search::SearchSort;
use loupe_core::store::{
    ApiKeyRecord, ClaimedTask, ConnectionRecord, ConnectionStore, DatasetFilter, FileCounts,
    FileMetaStore, JobFilter, JobStore, JobTally, Lease, MetadataStore, NewJobRecord, NewTask,
    PendingFile, ProbedFile, TaskOutcome, VersionTally,
};
use loupe_core::time::Timestamp;
use loupe_core::version::{DatasetVersion, VersionName, VersionState};
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
        build: Option<&NewJobRecord>,
    ) -> Result<DatasetVersion> {
        self.create_version_row(ws, dataset, description, at, build)
            .await
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

#[async_trait]
impl ConnectionStore for SqlStore {
    async fn insert_connection(&self, ws: &WorkspaceId, record: &ConnectionRecord) -> Result<()> {
        self.insert_connection_row(ws, record).await
    }

    async fn get_connection(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<ConnectionRecord> {
        self.connection_row(ws, id).await
    }

    async fn list_connections(
        &self,
        ws: &WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<Connection>> {
        self.connection_page(ws, page).await
    }

    async fn update_connection(&self, ws: &WorkspaceId, record: &ConnectionRecord) -> Result<()> {
        self.update_connection_row(ws, record).await
    }

    async fn delete_connection(&self, ws: &WorkspaceId, id: &ConnectionId) -> Result<()> {
        self.delete_connection_row(ws, id).await
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn create_job(&self, ws: &WorkspaceId, job: &NewJobRecord) -> Result<DatasetJob> {
        self.create_job_row(ws, job).await
    }

    async fn get_job(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
    ) -> Result<DatasetJob> {
        self.job(ws, dataset, id).await
    }

    async fn list_jobs(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        filter: &JobFilter,
        page: &PageRequest,
    ) -> Result<Page<DatasetJob>> {
        self.job_page(ws, dataset, filter, page).await
    }

    async fn stop_job(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        at: Timestamp,
    ) -> Result<DatasetJob> {
        self.stop_job_row(ws, dataset, id, at).await
    }

    async fn delete_job(&self, ws: &WorkspaceId, dataset: &DatasetId, id: &JobId) -> Result<()> {
        self.delete_job_row(ws, dataset, id).await
    }

    async fn list_job_failures(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        page: &PageRequest,
    ) -> Result<Page<JobFailure>> {
        self.failure_page(ws, dataset, id, page).await
    }

    async fn list_job_logs(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        page: &PageRequest,
    ) -> Result<Page<JobLog>> {
        let page = self.log_page(ws, dataset, id, page).await?;
        Ok(Page {
            items: page.items.into_iter().map(|(_, log)| log).collect(),
            total_count: page.total_count,
            next_token: page.next_token,
        })
    }

    async fn claim_task(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedTask>> {
        self.claim(now, lease_until).await
    }

    async fn heartbeat(&self, task_id: i64, attempt: i32, lease_until: Timestamp) -> Result<Lease> {
        self.beat(task_id, attempt, lease_until).await
    }

    async fn finish_task(
        &self,
        task_id: i64,
        attempt: i32,
        outcome: &TaskOutcome,
        at: Timestamp,
    ) -> Result<bool> {
        self.finish(task_id, attempt, outcome, at).await
    }

    async fn enqueue_tasks(&self, job: &JobId, tasks: &[NewTask], at: Timestamp) -> Result<()> {
        self.enqueue(job, tasks, at).await
    }

    async fn set_job_total(&self, job: &JobId, total: i64) -> Result<()> {
        self.set_total(job, total).await
    }

    async fn record_failures(
        &self,
        job: &JobId,
        failures: &[(String, String)],
        at: Timestamp,
    ) -> Result<()> {
        self.record_failure_rows(job, failures, at).await
    }

    async fn append_log(
        &self,
        job: &JobId,
        level: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.log(job, level, message, at).await
    }

    async fn job_tally(&self, job: &JobId) -> Result<JobTally> {
        self.tally(job).await
    }

    async fn complete_job(
        &self,
        job: &JobId,
        status: JobStatus,
        message: &str,
        counts: FileCounts,
        at: Timestamp,
    ) -> Result<()> {
        self.complete(job, status, message, counts, at).await
    }
}

#[async_trait]
impl FileMetaStore for SqlStore {
    async fn upsert_listed(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        job: &JobId,
        mode: JobMode,
        chunk: i64,
        rows: &[FileMetaRecord],
        at: Timestamp,
    ) -> Result<i64> {
        self.upsert_listed_rows(ws, version_row, job, mode, chunk, rows, at)
            .await
    }

    async fn refresh_statistics(&self) -> Result<()> {
        self.analyze_file_metas().await
    }

    async fn delete_unlisted(&self, version_row: i64, job: &JobId) -> Result<i64> {
        self.delete_unlisted_rows(version_row, job).await
    }

    async fn clear_version(&self, version_row: i64) -> Result<()> {
        self.clear_version_rows(version_row).await
    }

    async fn pending_in_chunk(&self, version_row: i64, chunk: i64) -> Result<Vec<PendingFile>> {
        self.pending_rows(version_row, chunk).await
    }

    async fn complete_probe(
        &self,
        version_row: i64,
        probed: &[ProbedFile],
        failed: &[String],
    ) -> Result<()> {
        self.complete_probe_rows(version_row, probed, failed).await
    }

    async fn version_tally(&self, version_row: i64) -> Result<VersionTally> {
        self.tally_version(version_row).await
    }

    async fn set_version_state(
        &self,
        version_row: i64,
        state: VersionState,
        tally: Option<VersionTally>,
        at: Timestamp,
    ) -> Result<()> {
        self.set_state(version_row, state, tally, at).await
    }

    async fn version_row(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        version: VersionName,
    ) -> Result<(i64, VersionState)> {
        self.version_row_of(ws, dataset, version).await
    }

    async fn insert_file_metas(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        rows: &[FileMetaRecord],
        at: Timestamp,
    ) -> Result<()> {
        self.insert_api_rows(ws, version_row, rows, at).await
    }

    async fn search_file_metas(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        filter: Option<&Expr>,
        sort: SearchSort,
        order: SortOrder,
        page: &PageRequest,
    ) -> Result<Page<FileMetaRecord>> {
        self.file_meta_page(ws, version_row, filter, sort, order, page)
            .await
    }

    async fn filtered_file_ids(
        &self,
        version_row: i64,
        filter: &Expr,
        within: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<String>> {
        SqlStore::filtered_file_ids(self, version_row, filter, within, limit).await
    }

    async fn file_meta_by_uri(
        &self,
        version_row: i64,
        uri: &str,
    ) -> Result<Option<FileMetaRecord>> {
        self.file_meta_with_uri(version_row, uri).await
    }

    async fn get_file_meta(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        file_id: &str,
    ) -> Result<FileMetaRecord> {
        self.file_meta(ws, version_row, file_id).await
    }

    async fn file_metas_by_ids(
        &self,
        version_row: i64,
        ids: &[String],
    ) -> Result<Vec<FileMetaRecord>> {
        self.file_metas_with_ids(version_row, ids).await
    }

    async fn file_tags(
        &self,
        version_row: i64,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, loupe_core::file_meta::FileTags>> {
        self.tags_of(version_row, ids).await
    }
}
