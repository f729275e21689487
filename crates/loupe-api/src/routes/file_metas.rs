//! File metas: PAI's GetDatasetFileMeta and CreateDatasetFileMetas (the listing,
//! ListDatasetFileMetas, is the search: see [`super::search`]).

use axum::extract::{Path, State};
use axum::{Extension, Json};
use loupe_core::file_meta::DatasetFileMeta;
use loupe_core::ids::DatasetId;
use loupe_core::service::NewFileMetas;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::datasets::DatasetPath;
use super::{ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// `GetDatasetFileMeta` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct VersionQuery {
    /// The version, e.g. `v1`.
    pub dataset_version: String,
}

/// The `{DatasetId}/datasetfilemetas/{DatasetFileMetaId}` path segments.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FileMetaPath {
    /// The dataset id (`d-…`).
    #[serde(rename = "DatasetId")]
    #[param(rename = "DatasetId")]
    pub dataset_id: String,
    /// The file meta id.
    #[serde(rename = "DatasetFileMetaId")]
    #[param(rename = "DatasetFileMetaId")]
    pub dataset_file_meta_id: String,
}

/// A page of file metas.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetFileMetaList {
    /// The files.
    pub dataset_file_metas: Vec<DatasetFileMeta>,
    /// How many files the version holds.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// The answer to `CreateDatasetFileMetas`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFileMetasResponse {
    /// The ids of the registered files, in the order given.
    pub dataset_file_meta_ids: Vec<String>,
    /// The id of this request.
    pub request_id: String,
}

/// Reads one file meta with signed links.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/datasetfilemetas/{DatasetFileMetaId}", tag = "filemetas",
    operation_id = "GetDatasetFileMeta", params(FileMetaPath, VersionQuery),
    responses((status = 200, body = DatasetFileMeta), ReadErrors))]
pub async fn get_file_meta(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<FileMetaPath>,
    ApiQuery(query): ApiQuery<VersionQuery>,
) -> Result<Json<DatasetFileMeta>, ApiError> {
    let dataset = DatasetId::from_raw(path.dataset_id);
    let meta = state
        .loupe
        .get_file_meta(
            &ctx,
            &dataset,
            &query.dataset_version,
            &path.dataset_file_meta_id,
        )
        .await?;
    Ok(Json(meta))
}

/// Registers files directly, for platforms that list their own storage (at most 1000 a call).
#[utoipa::path(post, path = "/api/v1/datasets/{DatasetId}/datasetfilemetas", tag = "filemetas",
    operation_id = "CreateDatasetFileMetas", params(DatasetPath), request_body = NewFileMetas,
    responses((status = 200, body = CreateFileMetasResponse), WriteErrors))]
pub async fn create_file_metas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    ApiJson(new): ApiJson<NewFileMetas>,
) -> Result<Json<CreateFileMetasResponse>, ApiError> {
    let ids = state.loupe.create_file_metas(&ctx, &path.id(), new).await?;
    Ok(Json(CreateFileMetasResponse {
        dataset_file_meta_ids: ids,
        request_id,
    }))
}
