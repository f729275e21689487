//! The metadata store port. PostgreSQL (production) and SQLite (embedded default)
//! implement it in `loupe-store`; one conformance suite runs against both.
//!
//! Every call about tenant data takes the [`WorkspaceId`] of the caller, which only
//! the authenticator can produce from a key, so no call can reach another tenant's rows.

use async_trait::async_trait;

use crate::auth::{Role, WorkspaceCtx};
use crate::connection::Connection;
use crate::dataset::{Dataset, DatasetUpdate};
use crate::file_meta::{FileMetaRecord, FileTags, SortOrder};
use crate::ids::{ApiKeyId, ConnectionId, DatasetId, JobId, TagDefinitionId, WorkspaceId};
use crate::job::{DatasetJob, JobAction, JobFailure, JobLog, JobMode, JobStatus};
use crate::model::Tag;
use crate::page::{Page, PageRequest};
use crate::query::Expr;
use crate::search::SearchSort;
use crate::tag_definition::TagDefinition;
use crate::time::Timestamp;
use crate::version::{DatasetVersion, VersionName, VersionState};
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
    /// A `build` job is created in the same transaction (its version fields are filled
    /// in here), so a version never exists without the job that fills it.
    async fn create_version(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        description: &str,
        at: Timestamp,
        build: Option<&NewJobRecord>,
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

/// A connection row: settings in clear, secrets sealed.
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    /// What the API shows.
    pub connection: Connection,
    /// The sealed secrets JSON (see [`crate::crypto::SecretBox`]).
    pub sealed_secrets: Vec<u8>,
}

/// Persistence of connections.
#[async_trait]
pub trait ConnectionStore: Send + Sync + 'static {
    /// Creates one; `ConnectionAlreadyExists` if the name is taken.
    async fn insert_connection(&self, ws: &WorkspaceId, record: &ConnectionRecord) -> Result<()>;
    /// Reads one; `ConnectionNotFound` outside the workspace.
    async fn get_connection(&self, ws: &WorkspaceId, id: &ConnectionId)
        -> Result<ConnectionRecord>;
    /// Lists the workspace's connections, newest first.
    async fn list_connections(
        &self,
        ws: &WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<Connection>>;
    /// Replaces name, settings and sealed secrets.
    async fn update_connection(&self, ws: &WorkspaceId, record: &ConnectionRecord) -> Result<()>;
    /// Deletes one.
    async fn delete_connection(&self, ws: &WorkspaceId, id: &ConnectionId) -> Result<()>;
}

/// Persistence of tag definitions.
#[async_trait]
pub trait TagDefinitionStore: Send + Sync + 'static {
    /// Creates one; `TagDefinitionAlreadyExists` if the name is taken.
    async fn insert_tag_definition(&self, ws: &WorkspaceId, def: &TagDefinition) -> Result<()>;
    /// Reads one; `TagDefinitionNotFound` outside the workspace.
    async fn get_tag_definition(
        &self,
        ws: &WorkspaceId,
        id: &TagDefinitionId,
    ) -> Result<TagDefinition>;
    /// Lists the workspace's definitions, newest first.
    async fn list_tag_definitions(
        &self,
        ws: &WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<TagDefinition>>;
    /// Replaces name, prompt, tags, version and description, but only if the stored
    /// version is still `expected_version` (two concurrent updates must not both bump
    /// from the same version); `Conflict`-category error otherwise.
    async fn update_tag_definition(
        &self,
        ws: &WorkspaceId,
        def: &TagDefinition,
        expected_version: i64,
    ) -> Result<()>;
    /// Deletes one.
    async fn delete_tag_definition(&self, ws: &WorkspaceId, id: &TagDefinitionId) -> Result<()>;
}

/// A job to create, with the tasks it starts with.
#[derive(Debug, Clone)]
pub struct NewJobRecord {
    /// What the API shows (status `Pending`, counters 0).
    pub job: DatasetJob,
    /// The version's name.
    pub version: VersionName,
    /// `Idempotency-Key` of the request that created it.
    pub idempotency_key: Option<String>,
    /// Its first tasks.
    pub tasks: Vec<NewTask>,
}

/// A unit of work of a job.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// Unique within the job, so enqueueing the same task twice is harmless.
    pub key: String,
    /// What the runner needs.
    pub payload: serde_json::Value,
    /// Attempts before the task fails for good.
    pub max_attempts: i32,
}

/// What a worker needs to know about the job of a claimed task.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The tenant.
    pub workspace_id: WorkspaceId,
    /// The job.
    pub job_id: JobId,
    /// The dataset.
    pub dataset_id: DatasetId,
    /// The version's internal row id.
    pub version_row: i64,
    /// The version's name.
    pub version: VersionName,
    /// What the job does.
    pub action: JobAction,
    /// Full or incremental.
    pub mode: JobMode,
    /// The action's options.
    pub spec: serde_json::Value,
}

/// A task a worker holds under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    /// The task row.
    pub task_id: i64,
    /// The task key.
    pub key: String,
    /// This attempt's number (1 for the first); every later write is fenced by it.
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// What to do.
    pub payload: serde_json::Value,
    /// The job.
    pub job: JobContext,
}

/// How a task ended.
#[derive(Debug, Clone)]
pub enum TaskOutcome {
    /// Done; these file counts are added to the job's progress.
    Succeeded {
        /// Files done.
        completed: i64,
        /// Files that failed.
        failed: i64,
    },
    /// A retryable fault: run again after this time.
    Retry {
        /// What went wrong.
        error: String,
        /// When to try again.
        run_after: Timestamp,
    },
    /// A fatal fault: the task fails for good.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Still ours; `stop` says a stop was requested.
    Held {
        /// The job was asked to stop.
        stop: bool,
    },
    /// Another worker took the task over (our lease expired): stop writing at once.
    Lost,
}

/// What a job's finalization needs to decide its status.
#[derive(Debug, Clone)]
pub struct JobTally {
    /// A stop was requested.
    pub stop_requested: bool,
    /// The error of a work task that failed for good, if any.
    pub failed_task_error: Option<String>,
    /// Files recorded as failed.
    pub failed_files: i64,
    /// Undefined tag names a tagging job dropped.
    pub dropped_tags: i64,
}

/// Filters of `ListDatasetJobs`.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs on this version.
    pub version: Option<VersionName>,
    /// Only jobs of this action.
    pub action: Option<JobAction>,
}

/// The job queue and job records. Worker-side calls take ids from a claimed task, not
/// a workspace: workers serve every tenant, and each row they touch belongs to the job.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Creates a job and its first tasks in one transaction. `JobConflict` when another
    /// job of the same action is active on the version. With an idempotency key that
    /// was used before, returns the earlier job instead.
    async fn create_job(&self, ws: &WorkspaceId, job: &NewJobRecord) -> Result<DatasetJob>;
    /// Reads a job.
    async fn get_job(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
    ) -> Result<DatasetJob>;
    /// Lists a dataset's jobs, newest first.
    async fn list_jobs(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        filter: &JobFilter,
        page: &PageRequest,
    ) -> Result<Page<DatasetJob>>;
    /// Requests a stop: queued tasks are cancelled, running ones end at their next file.
    async fn stop_job(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        at: Timestamp,
    ) -> Result<DatasetJob>;
    /// Deletes a finished job with its tasks, failures and logs; `JobConflict` while it runs.
    async fn delete_job(&self, ws: &WorkspaceId, dataset: &DatasetId, id: &JobId) -> Result<()>;
    /// Lists the files a job could not process.
    async fn list_job_failures(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        page: &PageRequest,
    ) -> Result<Page<JobFailure>>;
    /// Lists a job's log, oldest first.
    async fn list_job_logs(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        page: &PageRequest,
    ) -> Result<Page<JobLog>>;

    /// Claims the next runnable task (queued and due, or running with an expired lease)
    /// under a lease until `lease_until`. The attempt number goes up by one.
    async fn claim_task(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedTask>>;
    /// Extends the lease, fenced by attempt.
    async fn heartbeat(&self, task_id: i64, attempt: i32, lease_until: Timestamp) -> Result<Lease>;
    /// Ends a task, fenced by attempt (`false`: the lease was lost and nothing changed).
    /// When it was the job's last open work task, enqueues the job's `finalize` task.
    async fn finish_task(
        &self,
        task_id: i64,
        attempt: i32,
        outcome: &TaskOutcome,
        at: Timestamp,
    ) -> Result<bool>;
    /// Adds tasks to a running job; tasks whose key exists already are skipped.
    async fn enqueue_tasks(&self, job: &JobId, tasks: &[NewTask], at: Timestamp) -> Result<()>;
    /// Sets the job's total file count (a running figure while it lists).
    async fn set_job_total(&self, job: &JobId, total: i64) -> Result<()>;
    /// Records per-file failures (idempotent per job and URI).
    async fn record_failures(
        &self,
        job: &JobId,
        failures: &[(String, String)],
        at: Timestamp,
    ) -> Result<()>;
    /// Appends to the job's log.
    async fn append_log(
        &self,
        job: &JobId,
        level: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// What finalization needs.
    async fn job_tally(&self, job: &JobId) -> Result<JobTally>;
    /// Marks the job final with exact counters.
    async fn complete_job(
        &self,
        job: &JobId,
        status: JobStatus,
        message: &str,
        counts: FileCounts,
        at: Timestamp,
    ) -> Result<()>;
}

/// A job's file counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Files the job worked on.
    pub total: i64,
    /// Files done.
    pub completed: i64,
    /// Files failed.
    pub failed: i64,
}

/// A version's registered files, as counted after a build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionTally {
    /// File metas.
    pub files: i64,
    /// Their total size.
    pub bytes: i64,
    /// File metas not yet probed.
    pub pending: i64,
}

/// A pending file for the header probe.
#[derive(Debug, Clone)]
pub struct PendingFile {
    /// File meta id.
    pub file_id: String,
    /// Key relative to the dataset's URI.
    pub key: String,
    /// Full URI.
    pub uri: String,
    /// Size from the listing.
    pub size: i64,
    /// Fingerprint from the listing (empty when the listing gave none).
    pub fingerprint: String,
}

/// What the header probe found for one file.
#[derive(Debug, Clone)]
pub struct ProbedFile {
    /// File meta id.
    pub file_id: String,
    /// Width in pixels.
    pub width: i64,
    /// Height in pixels.
    pub height: i64,
    /// MIME type from the magic bytes.
    pub content_type: String,
    /// A content hash, when the listing had none (local files).
    pub fingerprint: Option<String>,
}

/// Persistence of file metas.
#[async_trait]
pub trait FileMetaStore: Send + Sync + 'static {
    /// Writes listed files in bulk for a build job. Rows this job listed already keep
    /// their state (a retried listing is harmless); other rows are reset to `pending`
    /// in `chunk` when `Full`, or when their size, time or fingerprint changed in
    /// `Increment`. Returns how many rows of the batch are pending in `chunk`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call per listed batch carries its whole context"
    )]
    async fn upsert_listed(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        job: &JobId,
        mode: JobMode,
        chunk: i64,
        rows: &[FileMetaRecord],
        at: Timestamp,
    ) -> Result<i64>;
    /// Refreshes the planner's statistics after a bulk load (PostgreSQL; SQLite needs none),
    /// so later per-row updates are planned as index lookups, not scans of the version.
    async fn refresh_statistics(&self) -> Result<()>;
    /// Deletes the version's rows that the job did not list (files gone from storage).
    async fn delete_unlisted(&self, version_row: i64, job: &JobId) -> Result<i64>;
    /// Deletes every file meta of the version.
    async fn clear_version(&self, version_row: i64) -> Result<()>;
    /// The pending files of a probe chunk.
    async fn pending_in_chunk(&self, version_row: i64, chunk: i64) -> Result<Vec<PendingFile>>;
    /// Stores probe results: probed rows become `done`, failed ones are deleted.
    async fn complete_probe(
        &self,
        version_row: i64,
        probed: &[ProbedFile],
        failed: &[String],
    ) -> Result<()>;
    /// Counts the version's rows.
    async fn version_tally(&self, version_row: i64) -> Result<VersionTally>;
    /// Sets a version's state and, when given, its counters.
    async fn set_version_state(
        &self,
        version_row: i64,
        state: VersionState,
        tally: Option<VersionTally>,
        at: Timestamp,
    ) -> Result<()>;
    /// The internal row id and state of a version.
    async fn version_row(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        version: VersionName,
    ) -> Result<(i64, VersionState)>;
    /// Inserts file metas registered through the API (done rows); existing ids are updated.
    async fn insert_file_metas(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        rows: &[FileMetaRecord],
        at: Timestamp,
    ) -> Result<()>;
    /// A page of a version's file metas that pass `filter`, in `sort` order.
    async fn search_file_metas(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        filter: Option<&Expr>,
        sort: SearchSort,
        order: SortOrder,
        page: &PageRequest,
    ) -> Result<Page<FileMetaRecord>>;
    /// The ids of the version's files (among `within`, when given) that pass `filter`,
    /// at most `limit`: the candidate set a filtered vector search ranks.
    async fn filtered_file_ids(
        &self,
        version_row: i64,
        filter: &Expr,
        within: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<String>>;
    /// The version's file with this URI, if any.
    async fn file_meta_by_uri(&self, version_row: i64, uri: &str)
        -> Result<Option<FileMetaRecord>>;
    /// Reads one file meta.
    async fn get_file_meta(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        file_id: &str,
    ) -> Result<FileMetaRecord>;
    /// Reads the file metas of these ids that exist in the version, in no order.
    async fn file_metas_by_ids(
        &self,
        version_row: i64,
        ids: &[String],
    ) -> Result<Vec<FileMetaRecord>>;
    /// The tags of these files by group; files without tags are absent.
    async fn file_tags(
        &self,
        version_row: i64,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, FileTags>>;
}

/// The kinds of per-file work whose outcome is remembered for `Increment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkKind {
    /// Embedding into the vector index.
    Index,
    /// Smart tagging.
    Tag,
}

impl WorkKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkKind::Index => "index",
            WorkKind::Tag => "tag",
        }
    }
}

/// A file a job processed, with what it produced.
#[derive(Debug, Clone)]
pub struct WorkDone {
    /// File meta id.
    pub file_id: String,
    /// The fingerprint the file had when it was read.
    pub fingerprint: String,
    /// For tagging: the tags given (they replace the file's `ai` tags of the same source).
    pub tags: Vec<Tag>,
}

/// The outcome of one batch of an index or tag job, written in one transaction.
#[derive(Debug, Clone)]
pub struct WorkResult {
    /// The version's row id.
    pub version_row: i64,
    /// Index or tag.
    pub kind: WorkKind,
    /// The job.
    pub job: JobId,
    /// What the work ran with apart from the file (model, index, definition version).
    pub work_key: String,
    /// For tagging: the tag definition the tags come from.
    pub source: String,
    /// Files done.
    pub done: Vec<WorkDone>,
    /// Files that failed, with their fingerprint (their reasons go to the job's failures).
    pub failed: Vec<(String, String)>,
    /// Tag names the model gave that the definition does not hold (dropped).
    pub dropped_tags: i64,
    /// When.
    pub at: Timestamp,
}

/// Bookkeeping of index and tag jobs. Worker-side: ids come from a claimed task.
#[async_trait]
pub trait WorkStore: Send + Sync + 'static {
    /// Ids of the version's probed files after `after` (in id order), at most `limit`.
    /// With `unchanged_key` (`Increment`), files whose last work of `kind` succeeded with
    /// their current fingerprint and that key are left out.
    async fn files_to_work(
        &self,
        version_row: i64,
        kind: WorkKind,
        unchanged_key: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>>;
    /// Ids with a work record of `kind` whose file meta is gone from the version.
    async fn vanished_work(
        &self,
        version_row: i64,
        kind: WorkKind,
        limit: usize,
    ) -> Result<Vec<String>>;
    /// Drops work records (after their vectors were deleted).
    async fn forget_work(&self, version_row: i64, kind: WorkKind, ids: &[String]) -> Result<()>;
    /// Stamps file metas, replaces tags and records the outcome of a batch.
    async fn record_work(&self, result: &WorkResult) -> Result<()>;
    /// Removes the `ai` tags a job wrote and its tag work records; returns the files touched.
    async fn revert_tags(&self, version_row: i64, tag_job: &JobId, at: Timestamp) -> Result<i64>;
    /// Whether the job has tasks beyond its first (a retried plan must not enqueue twice).
    async fn job_task_count(&self, job: &JobId) -> Result<i64>;
}

/// Tags people edit, and counts of a version's files by folder, type or tag.
#[async_trait]
pub trait TagStore: Send + Sync + 'static {
    /// Applies the edits in one transaction; files whose tags changed get
    /// `tag_update_time = at`. Returns the ids the version does not hold (left untouched).
    async fn edit_tags(
        &self,
        version_row: i64,
        edits: &[crate::file_tags::FileTagEdit],
        at: Timestamp,
    ) -> Result<Vec<String>>;
    /// Counts the version's files that pass `filter` in one statement: the `limit`
    /// largest buckets of `by` (ties by key, bytewise), and the total; without `by`,
    /// the total only.
    async fn file_meta_statistics(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        by: Option<crate::file_tags::AggregateBy>,
        filter: Option<&crate::query::Expr>,
        limit: u32,
    ) -> Result<crate::file_tags::FileMetaStatistics>;
}

/// Everything the services need from the metadata store.
pub trait Store:
    MetadataStore
    + ConnectionStore
    + JobStore
    + FileMetaStore
    + TagDefinitionStore
    + WorkStore
    + TagStore
{
}
impl<
        T: MetadataStore
            + ConnectionStore
            + JobStore
            + FileMetaStore
            + TagDefinitionStore
            + WorkStore
            + TagStore,
    > Store for T
{
}
