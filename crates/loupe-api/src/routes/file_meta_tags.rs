//! Tags of file metas: PAI's UpdateDatasetFileMetas (manual `user` and
//! `user-delete-ai-tags` changes on many files) and GetDatasetFileMetasStatistics (files
//! per folder, type or tag, within a search's filter).

use axum::extract::{Path, State};
use axum::{Extension, Json};
use loupe_core::file_tags::{DatasetFileMetasStat, DatasetFileMetasUpdate, FailedDetail};
use loupe_core::search::SearchRequest;
use loupe_core::service::StatisticsRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::datasets::DatasetPath;
use super::search::SearchFilterQuery;
use super::{ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// The answer to `UpdateDatasetFileMetas`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDatasetFileMetasResponse {
    /// `true` when every file was changed; `false` when some are in `FailedDetails`.
    pub status: bool,
    /// The files left unchanged and why (`Not Found`), in the order sent.
    pub failed_details: Vec<FailedDetail>,
    /// The id of this request.
    pub request_id: String,
}

/// `GetDatasetFileMetasStatistics` parameters besides the search filter's.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct StatisticsQuery {
    /// `filedir`, `file_type`, `tags.ai`, `tags.user`, `tags.user-delete-ai-tags` or
    /// `tags.all` (any case); left out, only `TotalCount` is answered.
    pub aggregate_by: Option<String>,
    /// Most buckets, 1 to 1000 (default 100); the largest are kept, ties by key.
    #[param(minimum = 1, maximum = 1000)]
    pub max_results: Option<u32>,
}

/// The answer to `GetDatasetFileMetasStatistics`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetFileMetasStatistics {
    /// Buckets, largest first, ties by key (bytewise).
    pub statistics: Vec<DatasetFileMetasStat>,
    /// How many files match the filter, each counted once.
    pub total_count: i64,
    /// The id of this request.
    pub request_id: String,
}

/// Adds and removes `user` tags, and hides (`user-delete-ai-tags`) or shows `ai` tags,
/// on up to 1000 files in one transaction (editor keys). Ids the version does not hold
/// are listed in `FailedDetails`; the other files are changed. Setting `ai` is refused:
/// only `IntelligentTag` jobs write it.
#[utoipa::path(put, path = "/api/v1/datasets/{DatasetId}/datasetfilemetas", tag = "filemetas",
    operation_id = "UpdateDatasetFileMetas", params(DatasetPath), request_body = DatasetFileMetasUpdate,
    responses((status = 200, body = UpdateDatasetFileMetasResponse), WriteErrors))]
pub async fn update_file_metas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    ApiJson(update): ApiJson<DatasetFileMetasUpdate>,
) -> Result<Json<UpdateDatasetFileMetasResponse>, ApiError> {
    let failed = state
        .loupe
        .update_file_meta_tags(&ctx, &path.id(), update)
        .await?;
    Ok(Json(UpdateDatasetFileMetasResponse {
        status: failed.is_empty(),
        failed_details: failed,
        request_id,
    }))
}

/// Counts a version's files by folder, type or tag, optionally within a search's filter:
/// the same tag lists, name, folder, type, time and `QueryExpression` parameters as
/// `ListDatasetFileMetas`, so a console shows facet counts beside its results. A ranking
/// (`QueryText` outside `QueryType=TAG`, `QueryImage`, `Content:`) selects no set of files
/// and is refused. For `tags.all` each file counts once per tag it shows:
/// (`ai` − `user-delete-ai-tags`) ∪ `user`.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/datasetfilemetas/statistics", tag = "filemetas",
    operation_id = "GetDatasetFileMetasStatistics", params(DatasetPath, SearchFilterQuery, StatisticsQuery),
    responses((status = 200, body = DatasetFileMetasStatistics), ReadErrors))]
pub async fn file_metas_statistics(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    ApiQuery(filter): ApiQuery<SearchFilterQuery>,
    ApiQuery(query): ApiQuery<StatisticsQuery>,
) -> Result<Json<DatasetFileMetasStatistics>, ApiError> {
    let search = SearchRequest::from(filter);
    let request = StatisticsRequest {
        search: &search,
        aggregate_by: query.aggregate_by.as_deref(),
        max_results: query.max_results,
    };
    let found = state
        .loupe
        .file_meta_statistics(&ctx, &path.id(), &request)
        .await?;
    Ok(Json(DatasetFileMetasStatistics {
        statistics: found.buckets,
        total_count: found.total_count,
        request_id,
    }))
}
