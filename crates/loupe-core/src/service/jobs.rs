//! Dataset jobs: create (with their first tasks), read, list, stop, delete, and the
//! failures and logs of a job.

use crate::auth::{Role, WorkspaceCtx};
use crate::connection::BuiltIn;
use crate::ids::{ConnectionId, DatasetId, JobId, TagDefinitionId};
use crate::job::{
    initial_tasks, DatasetJob, JobAction, JobFailure, JobLog, JobMode, JobStatus, NewJob,
};
use crate::job_spec::{read_spec, IntelligentTagRevertSpec, IntelligentTagSpec};
use crate::page::{Page, PageRequest};
use crate::store::{JobFilter, NewJobRecord};
use crate::time::Timestamp;
use crate::version::VersionName;
use crate::version::VersionState;
use crate::{Error, ErrorCode, Result};

use super::{check_workspace_param, Loupe};

/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 128;

impl Loupe {
    /// Creates a job on a version (editors). The same `Idempotency-Key` returns the first job.
    pub async fn create_job(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        new: NewJob,
        idempotency_key: Option<String>,
    ) -> Result<DatasetJob> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, new.workspace_id.as_deref())?;
        if idempotency_key
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY)
        {
            return Err(Error::invalid(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters"
            )));
        }
        crate::dataset::validate_details(Some(&new.description), None)?;
        let version: VersionName = new.dataset_version.parse()?;
        let spec = crate::job_spec::check_spec(new.job_action, new.job_spec)?;
        self.store.get_dataset(ctx.workspace_id(), dataset).await?;
        let spec = self
            .check_job_inputs(ctx, dataset, version, new.job_action, spec)
            .await?;
        let record = self.job_record(
            dataset,
            version,
            new.job_action,
            new.job_mode,
            spec,
            new.description,
            idempotency_key,
            Timestamp::now(),
        );
        self.store.create_job(ctx.workspace_id(), &record).await
    }

    /// What an index, tag or revert job needs must exist before it is queued: a ready
    /// version, the connections, the tag definition, the job to revert. Returns the spec
    /// with defaults filled in, so the job runs with what was checked.
    async fn check_job_inputs(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        version: VersionName,
        action: JobAction,
        spec: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let ws = ctx.workspace_id();
        if action == JobAction::FileMetaBuild {
            return Ok(spec);
        }
        let (_, state) = self.store.version_row(ws, dataset, version).await?;
        if state != VersionState::Ready {
            return Err(Error::new(
                ErrorCode::VersionNotReady,
                format!(
                    "version {version} is {}: {} runs on a Ready version; wait for its FileMetaBuild job (or build the version again)",
                    state.as_str(),
                    action.as_str()
                ),
            ));
        }
        match action {
            JobAction::FileMetaBuild => Ok(spec),
            JobAction::SemanticIndex => {
                let config = self.store.get_dataset(ws, dataset).await?.index_config;
                for id in [
                    &config.embedding_connection_id,
                    &config.vector_connection_id,
                ] {
                    self.store
                        .get_connection(ws, &ConnectionId::from_raw(id))
                        .await
                        .map_err(|e| {
                            Error::new(
                                e.code(),
                                format!("{}: fix the dataset's IndexConfig", e.message()),
                            )
                        })?;
                }
                Ok(spec)
            }
            JobAction::IntelligentTag => {
                let mut parsed: IntelligentTagSpec = read_spec(&spec)?;
                self.store
                    .get_tag_definition(ws, &TagDefinitionId::from_raw(&parsed.tag_definition_id))
                    .await?;
                let connection = parsed
                    .connection_id
                    .get_or_insert_with(|| BuiltIn::LocalModel.id(ws).to_string());
                self.check_tagging_connection(ws, &ConnectionId::from_raw(connection.as_str()))
                    .await?;
                serde_json::to_value(&parsed).map_err(|e| Error::internal("writing a job spec", e))
            }
            JobAction::IntelligentTagRevert => {
                let parsed: IntelligentTagRevertSpec = read_spec(&spec)?;
                let target = self
                    .store
                    .get_job(ws, dataset, &JobId::from_raw(&parsed.tag_job_id))
                    .await?;
                if target.job_action != JobAction::IntelligentTag
                    || target.dataset_version != version.to_string()
                {
                    return Err(Error::invalid(format!(
                        "JobSpec.TagJobId '{}' is not an IntelligentTag job of version {version}",
                        parsed.tag_job_id
                    )));
                }
                if !target.status.is_final() {
                    return Err(Error::new(
                        ErrorCode::JobConflict,
                        format!(
                            "job '{}' is still {}: stop it or wait for it before reverting its tags",
                            parsed.tag_job_id,
                            target.status.as_str()
                        ),
                    ));
                }
                Ok(spec)
            }
        }
    }

    /// A new job record in state `Pending`, with its action's first tasks.
    #[expect(clippy::too_many_arguments, reason = "every field of a new job")]
    pub(super) fn job_record(
        &self,
        dataset: &DatasetId,
        version: VersionName,
        action: JobAction,
        mode: JobMode,
        spec: serde_json::Value,
        description: String,
        idempotency_key: Option<String>,
        now: Timestamp,
    ) -> NewJobRecord {
        NewJobRecord {
            job: DatasetJob {
                dataset_job_id: JobId::generate(),
                dataset_id: dataset.clone(),
                dataset_version: version.to_string(),
                job_action: action,
                job_mode: mode,
                job_spec: spec,
                description,
                status: JobStatus::Pending,
                total_file_count: 0,
                completed_file_count: 0,
                failed_file_count: 0,
                message: String::new(),
                create_time: now,
                start_time: None,
                finish_time: None,
            },
            version,
            idempotency_key,
            tasks: initial_tasks(action),
        }
    }

    /// Reads a job.
    pub async fn get_job(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        id: &JobId,
    ) -> Result<DatasetJob> {
        self.store.get_job(ctx.workspace_id(), dataset, id).await
    }

    /// Lists a dataset's jobs, newest first.
    pub async fn list_jobs(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        filter: &JobFilter,
        page: &PageRequest,
    ) -> Result<Page<DatasetJob>> {
        self.store
            .list_jobs(ctx.workspace_id(), dataset, filter, page)
            .await
    }

    /// Asks a job to stop (editors): queued tasks are cancelled, running ones end at their next file.
    pub async fn stop_job(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        id: &JobId,
    ) -> Result<DatasetJob> {
        ctx.require(Role::Editor)?;
        self.store
            .stop_job(ctx.workspace_id(), dataset, id, Timestamp::now())
            .await
    }

    /// Deletes a finished job (editors).
    pub async fn delete_job(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        id: &JobId,
    ) -> Result<()> {
        ctx.require(Role::Editor)?;
        self.store.delete_job(ctx.workspace_id(), dataset, id).await
    }

    /// The files a job could not process.
    pub async fn list_job_failures(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        id: &JobId,
        page: &PageRequest,
    ) -> Result<Page<JobFailure>> {
        self.store
            .list_job_failures(ctx.workspace_id(), dataset, id, page)
            .await
    }

    /// A job's log.
    pub async fn list_job_logs(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        id: &JobId,
        page: &PageRequest,
    ) -> Result<Page<JobLog>> {
        self.store
            .list_job_logs(ctx.workspace_id(), dataset, id, page)
            .await
    }
}
