//! File metas: PAI's ListDatasetFileMetas (listing for now; search joins later),
//! GetDatasetFileMeta and CreateDatasetFileMetas.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use loupe_core::file_meta::{DatasetFileMeta, FileMetaSort, SortOrder};
use loupe_core::ids::DatasetId;
use loupe_core::page::PageRequest;
use loupe_core::service::{NewFileMetas, VECTOR_LIST};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::datasets::DatasetPath;
use super::{ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// `ListDatasetFileMetas` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct ListFileMetasQuery {
    /// The version, e.g. `v1`.
    pub dataset_version: String,
    /// `FileName` (default) or `FileUpdateTime`.
    pub sort_by: Option<FileMetaSort>,
    /// `ASC` (default) or `DESC`.
    pub order: Option<SortOrder>,
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub max_results: Option<u32>,
    /// The `NextToken` of the previous page (with the same `SortBy` and `Order`).
    pub next_token: Option<String>,
    /// `VECTOR` ranks the version's indexed files by similarity to `QueryText` (with
    /// the dataset's `IndexConfig` model); left out, files are listed in `SortBy` order.
    pub query_type: Option<QueryType>,
    /// The text to search for, e.g. `a fallen traffic cone at night`.
    pub query_text: Option<String>,
    /// How many of the closest files to rank (1 to 1000, default 10); `MaxResults`
    /// pages through them.
    #[param(minimum = 1, maximum = 1000)]
    pub top_k: Option<u32>,
}

/// How `ListDatasetFileMetas` finds files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum QueryType {
    /// By similarity of image embeddings to the query text.
    Vector,
}

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

/// Pages through a version's files, with signed `DownloadUrl` and `ThumbnailUrl`; with
/// `QueryType=VECTOR`, through the `TopK` files closest to `QueryText`, best first, each
/// with its `Score`.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/datasetfilemetas", tag = "filemetas",
    operation_id = "ListDatasetFileMetas", params(DatasetPath, ListFileMetasQuery),
    responses((status = 200, body = DatasetFileMetaList), ReadErrors))]
pub async fn list_file_metas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    ApiQuery(query): ApiQuery<ListFileMetasQuery>,
) -> Result<Json<DatasetFileMetaList>, ApiError> {
    if query.query_type == Some(QueryType::Vector) {
        let page = PageRequest::parse(VECTOR_LIST, query.max_results, query.next_token.as_deref())?;
        let found = state
            .loupe
            .vector_query(
                &ctx,
                &path.id(),
                &query.dataset_version,
                query.query_text.as_deref().unwrap_or_default(),
                query.top_k,
                &page,
            )
            .await?;
        return Ok(Json(DatasetFileMetaList {
            dataset_file_metas: found.items,
            total_count: found.total_count,
            next_token: found.next_token,
        }));
    }
    let sort = query.sort_by.unwrap_or_default();
    let order = query.order.unwrap_or_default();
    let list = match sort {
        FileMetaSort::FileName => "files-by-name",
        FileMetaSort::FileUpdateTime => "files-by-time",
    };
    let page = PageRequest::parse(list, query.max_results, query.next_token.as_deref())?;
    let found = state
        .loupe
        .list_file_metas(&ctx, &path.id(), &query.dataset_version, sort, order, &page)
        .await?;
    Ok(Json(DatasetFileMetaList {
        dataset_file_metas: found.items,
        total_count: found.total_count,
        next_token: found.next_token,
    }))
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
