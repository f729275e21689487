//! Search: PAI's `ListDatasetFileMetas`, as `GET` with query parameters (lists
//! comma-joined, as PAI's SDKs send them) and as `POST …/search` with the same fields as
//! a JSON body (lists as arrays).

use axum::extract::{Path, State};
use axum::Json;
use loupe_core::file_meta::SortOrder;
use loupe_core::search::{split_list, QueryType, SearchRequest, SearchSort};
use serde::Deserialize;
use utoipa::IntoParams;

use super::datasets::DatasetPath;
use super::file_metas::DatasetFileMetaList;
use super::ReadErrors;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// The filter half of `ListDatasetFileMetas`' parameters, which
/// `GetDatasetFileMetasStatistics` takes too (facet counts within a search's filter).
/// Every condition given must hold.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct SearchFilterQuery {
    /// The version, e.g. `v1`.
    pub dataset_version: String,
    /// `MIX` (default), `TAG` or `VECTOR`.
    pub query_type: Option<QueryType>,
    /// Text to rank by (`MIX`, `VECTOR`), or one more required tag (`TAG`).
    pub query_text: Option<String>,
    /// Comma-joined tags: files with at least one.
    pub query_tags_include_any: Option<String>,
    /// Comma-joined tags: files with all of them.
    pub query_tags_include_all: Option<String>,
    /// Comma-joined tags: files with none of them.
    pub query_tags_exclude: Option<String>,
    /// The tag group the tag lists look at: `all` (default), `ai` or `user`.
    pub tag_group: Option<String>,
    /// Files whose name contains this (case-insensitive).
    pub query_file_name: Option<String>,
    /// Files whose folder contains this (case-insensitive).
    pub query_file_dir: Option<String>,
    /// Comma-joined `FileType`s.
    pub query_file_type_include_any: Option<String>,
    /// Comma-joined MIME types.
    pub query_content_type_include_any: Option<String>,
    /// ISO 8601: files updated at or after.
    pub start_file_update_time: Option<String>,
    /// ISO 8601: files updated at or before.
    pub end_file_update_time: Option<String>,
    /// ISO 8601: tags changed at or after.
    pub start_tag_update_time: Option<String>,
    /// ISO 8601: tags changed at or before.
    pub end_tag_update_time: Option<String>,
    /// The query DSL (see the README).
    pub query_expression: Option<String>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    pub workspace_id: Option<String>,
}

impl From<SearchFilterQuery> for SearchRequest {
    fn from(q: SearchFilterQuery) -> Self {
        SearchRequest {
            query_tags_include_any: split_list(q.query_tags_include_any.as_deref()),
            query_tags_include_all: split_list(q.query_tags_include_all.as_deref()),
            query_tags_exclude: split_list(q.query_tags_exclude.as_deref()),
            query_file_type_include_any: split_list(q.query_file_type_include_any.as_deref()),
            query_content_type_include_any: split_list(q.query_content_type_include_any.as_deref()),
            dataset_version: q.dataset_version,
            query_type: q.query_type,
            query_text: q.query_text,
            tag_group: q.tag_group,
            query_file_name: q.query_file_name,
            query_file_dir: q.query_file_dir,
            start_file_update_time: q.start_file_update_time,
            end_file_update_time: q.end_file_update_time,
            start_tag_update_time: q.start_tag_update_time,
            end_tag_update_time: q.end_tag_update_time,
            query_expression: q.query_expression,
            workspace_id: q.workspace_id,
            ..SearchRequest::default()
        }
    }
}

/// The ranking, order and paging half of `ListDatasetFileMetas`' parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct SearchQuery {
    /// A file meta id or `Uri` of this version to rank by (an upload goes in the POST body).
    pub query_image: Option<String>,
    /// Leave the query image's own file out of the hits.
    pub exclude_query_image: Option<bool>,
    /// How many of the closest files to rank (1 to 1000, default 10).
    #[param(minimum = 1, maximum = 1000)]
    pub top_k: Option<u32>,
    /// Only hits scoring above this.
    pub score_threshold: Option<f64>,
    /// `FileName` (default), `FileUpdateTime` or `FileCreateTime`; ranked searches are by score.
    pub sort_by: Option<SearchSort>,
    /// `ASC` (default) or `DESC`.
    pub order: Option<SortOrder>,
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub max_results: Option<u32>,
    /// The `NextToken` of the previous page of the same search.
    pub next_token: Option<String>,
}

impl SearchQuery {
    fn with_filter(self, filter: SearchFilterQuery) -> SearchRequest {
        SearchRequest {
            query_image: self.query_image,
            exclude_query_image: self.exclude_query_image,
            top_k: self.top_k,
            score_threshold: self.score_threshold,
            sort_by: self.sort_by,
            order: self.order,
            max_results: self.max_results,
            next_token: self.next_token,
            ..filter.into()
        }
    }
}

/// Searches a version's files: tag lists over a tag group, name and folder, types, time
/// ranges and the `QueryExpression` DSL, all ANDed; ranked by `QueryText` or
/// `QueryImage` (or a `Content:` clause) when given, best first with a `Score`; otherwise
/// in `SortBy` order. Every hit has signed `DownloadUrl` and `ThumbnailUrl`.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/datasetfilemetas", tag = "filemetas",
    operation_id = "ListDatasetFileMetas", params(DatasetPath, SearchFilterQuery, SearchQuery),
    responses((status = 200, body = DatasetFileMetaList), ReadErrors))]
pub async fn list_file_metas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    ApiQuery(filter): ApiQuery<SearchFilterQuery>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<DatasetFileMetaList>, ApiError> {
    search(&state, &ctx, &path, query.with_filter(filter)).await
}

/// `ListDatasetFileMetas` with a JSON body: the same fields, lists as arrays, and
/// `QueryImage` may be an uploaded `data:image/…;base64,…`.
#[utoipa::path(post, path = "/api/v1/datasets/{DatasetId}/datasetfilemetas/search", tag = "filemetas",
    operation_id = "SearchDatasetFileMetas", params(DatasetPath), request_body = SearchRequest,
    responses((status = 200, body = DatasetFileMetaList), ReadErrors))]
pub async fn search_file_metas(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    ApiJson(request): ApiJson<SearchRequest>,
) -> Result<Json<DatasetFileMetaList>, ApiError> {
    search(&state, &ctx, &path, request).await
}

async fn search(
    state: &AppState,
    ctx: &loupe_core::auth::WorkspaceCtx,
    path: &DatasetPath,
    request: SearchRequest,
) -> Result<Json<DatasetFileMetaList>, ApiError> {
    let found = state.loupe.search(ctx, &path.id(), &request).await?;
    Ok(Json(DatasetFileMetaList {
        dataset_file_metas: found.items,
        total_count: found.total_count,
        next_token: found.next_token,
    }))
}
