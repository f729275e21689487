//! Dataset jobs: PAI's CreateDatasetJob, ListDatasetJobs, GetDatasetJob, StopDatasetJob,
//! DeleteDatasetJob, and the job's failures and logs.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use loupe_core::ids::{DatasetId, JobId};
use loupe_core::job::{DatasetJob, JobAction, JobFailure, JobLog, JobMode, NewJob};
use loupe_core::job_spec::SemanticIndexSpec;
use loupe_core::page::PageRequest;
use loupe_core::store::JobFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::datasets::DatasetPath;
use super::{Acknowledged, PageQuery, ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// The `{DatasetId}/datasetjobs/{DatasetJobId}` path segments.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobPath {
    /// The dataset id (`d-…`).
    #[serde(rename = "DatasetId")]
    #[param(rename = "DatasetId")]
    pub dataset_id: String,
    /// The job id (`dsjob-…`).
    #[serde(rename = "DatasetJobId")]
    #[param(rename = "DatasetJobId")]
    pub dataset_job_id: String,
}

impl JobPath {
    fn ids(&self) -> (DatasetId, JobId) {
        (
            DatasetId::from_raw(self.dataset_id.clone()),
            JobId::from_raw(self.dataset_job_id.clone()),
        )
    }
}

/// `ListDatasetJobs` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct ListJobsQuery {
    /// Only jobs on this version, e.g. `v1`.
    pub dataset_version: Option<String>,
    /// Only jobs of this action.
    pub job_action: Option<JobAction>,
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub max_results: Option<u32>,
    /// The `NextToken` of the previous page.
    pub next_token: Option<String>,
}

/// The answer to `CreateDatasetJob`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreateJobResponse {
    /// The job id.
    pub dataset_job_id: JobId,
    /// The id of this request.
    pub request_id: String,
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetJobList {
    /// The jobs, newest first.
    pub dataset_jobs: Vec<DatasetJob>,
    /// How many match.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// A page of a job's failed files.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct JobFailureList {
    /// The files, by URI.
    pub failures: Vec<JobFailure>,
    /// How many files failed.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// A page of a job's log.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct JobLogList {
    /// The lines, oldest first.
    pub logs: Vec<JobLog>,
    /// How many lines the log has.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// Starts a job on a version. An `Idempotency-Key` header makes retries safe: the same
/// key returns the first job.
#[utoipa::path(post, path = "/api/v1/datasets/{DatasetId}/datasetjobs", tag = "jobs", operation_id = "CreateDatasetJob",
    params(DatasetPath, ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = NewJob, responses((status = 200, body = CreateJobResponse), WriteErrors))]
pub async fn create_job(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    headers: HeaderMap,
    Extension(RequestId(request_id)): Extension<RequestId>,
    ApiJson(new): ApiJson<NewJob>,
) -> Result<Json<CreateJobResponse>, ApiError> {
    let key = idempotency_key(&headers)?;
    let job = state.loupe.create_job(&ctx, &path.id(), new, key).await?;
    Ok(Json(CreateJobResponse {
        dataset_job_id: job.dataset_job_id,
        request_id,
    }))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| {
            ApiError::new(
                loupe_core::ErrorCode::InvalidParameter,
                "Idempotency-Key must be plain text",
            )
        })
}

/// `RefreshDatasetIndex` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RefreshIndex {
    /// The version to index, e.g. `v1`.
    pub dataset_version: String,
    /// Requests in flight to the embedding model (see `SemanticIndexSpec`).
    #[serde(default)]
    pub max_concurrency: Option<u32>,
}

/// The console's "Refresh now" after saving an `IndexConfig`: starts a `Full`
/// `SemanticIndex` job on the version with the dataset's current index configuration.
#[utoipa::path(post, path = "/api/v1/datasets/{DatasetId}/action/refreshindex", tag = "jobs", operation_id = "RefreshDatasetIndex",
    params(DatasetPath, ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = RefreshIndex, responses((status = 200, body = CreateJobResponse), WriteErrors))]
pub async fn refresh_index(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    headers: HeaderMap,
    Extension(RequestId(request_id)): Extension<RequestId>,
    ApiJson(refresh): ApiJson<RefreshIndex>,
) -> Result<Json<CreateJobResponse>, ApiError> {
    let key = idempotency_key(&headers)?;
    let spec = SemanticIndexSpec {
        max_concurrency: refresh.max_concurrency,
    };
    let new = NewJob {
        dataset_version: refresh.dataset_version,
        job_action: JobAction::SemanticIndex,
        job_mode: JobMode::Full,
        job_spec: Some(serde_json::to_value(spec).unwrap_or_default()),
        description: "refresh of the semantic index".to_string(),
        workspace_id: None,
    };
    let job = state.loupe.create_job(&ctx, &path.id(), new, key).await?;
    Ok(Json(CreateJobResponse {
        dataset_job_id: job.dataset_job_id,
        request_id,
    }))
}

/// Lists a dataset's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/datasetjobs", tag = "jobs", operation_id = "ListDatasetJobs",
    params(DatasetPath, ListJobsQuery), responses((status = 200, body = DatasetJobList), ReadErrors))]
pub async fn list_jobs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    ApiQuery(query): ApiQuery<ListJobsQuery>,
) -> Result<Json<DatasetJobList>, ApiError> {
    let page = PageRequest::parse("jobs", query.max_results, query.next_token.as_deref())?;
    let version = query
        .dataset_version
        .as_deref()
        .map(str::parse)
        .transpose()?;
    let filter = JobFilter {
        version,
        action: query.job_action,
    };
    let page = state
        .loupe
        .list_jobs(&ctx, &path.id(), &filter, &page)
        .await?;
    Ok(Json(DatasetJobList {
        dataset_jobs: page.items,
        total_count: page.total_count,
        next_token: page.next_token,
    }))
}

/// Reads a job: status and progress.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/datasetjobs/{DatasetJobId}", tag = "jobs",
    operation_id = "GetDatasetJob", params(JobPath), responses((status = 200, body = DatasetJob), ReadErrors))]
pub async fn get_job(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<JobPath>,
) -> Result<Json<DatasetJob>, ApiError> {
    let (dataset, job) = path.ids();
    Ok(Json(state.loupe.get_job(&ctx, &dataset, &job).await?))
}

/// Deletes a finished job with its failures and logs.
#[utoipa::path(delete, path = "/api/v1/datasets/{DatasetId}/datasetjobs/{DatasetJobId}", tag = "jobs",
    operation_id = "DeleteDatasetJob", params(JobPath), responses((status = 200, body = Acknowledged), WriteErrors))]
pub async fn delete_job(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<JobPath>,
    request_id: Extension<RequestId>,
) -> Result<Json<Acknowledged>, ApiError> {
    let (dataset, job) = path.ids();
    state.loupe.delete_job(&ctx, &dataset, &job).await?;
    Ok(Json(Acknowledged::new(request_id)))
}

/// Stops a job: queued work is cancelled, running tasks end at their next file.
#[utoipa::path(put, path = "/api/v1/datasets/{DatasetId}/datasetjobs/{DatasetJobId}/action/stop", tag = "jobs",
    operation_id = "StopDatasetJob", params(JobPath), responses((status = 200, body = DatasetJob), WriteErrors))]
pub async fn stop_job(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<JobPath>,
) -> Result<Json<DatasetJob>, ApiError> {
    let (dataset, job) = path.ids();
    Ok(Json(state.loupe.stop_job(&ctx, &dataset, &job).await?))
}

/// Lists the files a job could not process, with the reason for each.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/datasetjobs/{DatasetJobId}/failures", tag = "jobs",
    operation_id = "ListDatasetJobFailures", params(JobPath, PageQuery),
    responses((status = 200, body = JobFailureList), ReadErrors))]
pub async fn list_failures(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<JobPath>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<JobFailureList>, ApiError> {
    let (dataset, job) = path.ids();
    let page = PageRequest::parse("failures", query.max_results, query.next_token.as_deref())?;
    let page = state
        .loupe
        .list_job_failures(&ctx, &dataset, &job, &page)
        .await?;
    Ok(Json(JobFailureList {
        failures: page.items,
        total_count: page.total_count,
        next_token: page.next_token,
    }))
}

/// Lists a job's log, oldest first.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/datasetjobs/{DatasetJobId}/logs", tag = "jobs",
    operation_id = "ListDatasetJobLogs", params(JobPath, PageQuery), responses((status = 200, body = JobLogList), ReadErrors))]
pub async fn list_logs(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<JobPath>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<JobLogList>, ApiError> {
    let (dataset, job) = path.ids();
    let page = PageRequest::parse("logs", query.max_results, query.next_token.as_deref())?;
    let page = state
        .loupe
        .list_job_logs(&ctx, &dataset, &job, &page)
        .await?;
    Ok(Json(JobLogList {
        logs: page.items,
        total_count: page.total_count,
        next_token: page.next_token,
    }))
}
