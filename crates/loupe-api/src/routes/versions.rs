//! Dataset versions: PAI's CreateDatasetVersion, ListDatasetVersions, GetDatasetVersion,
//! UpdateDatasetVersion, DeleteDatasetVersion.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use loupe_core::ids::DatasetId;
use loupe_core::page::PageRequest;
use loupe_core::version::{DatasetVersion, NewVersion, VersionName, VersionUpdate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::datasets::DatasetPath;
use super::{Acknowledged, PageQuery, ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::AppState;

/// The `{DatasetId}/versions/{VersionName}` path segments.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    /// The dataset id (`d-…`).
    #[serde(rename = "DatasetId")]
    #[param(rename = "DatasetId")]
    pub dataset_id: String,
    /// The version name (`v1`, `v2`, …).
    #[serde(rename = "VersionName")]
    #[param(rename = "VersionName")]
    pub version_name: String,
}

impl VersionPath {
    fn parts(&self) -> Result<(DatasetId, VersionName), ApiError> {
        let name = self.version_name.parse()?;
        Ok((DatasetId::from_raw(self.dataset_id.clone()), name))
    }
}

/// The answer to `CreateDatasetVersion`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVersionResponse {
    /// The new version's name (`v1`, `v2`, …).
    #[schema(example = "v1")]
    pub version_name: String,
    /// The id of this request.
    pub request_id: String,
}

/// A page of versions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetVersionList {
    /// The versions, oldest first.
    pub dataset_versions: Vec<DatasetVersion>,
    /// How many versions the dataset has.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// Records a new version (`v{n+1}`) in state `Pending`. The body may be omitted.
#[utoipa::path(post, path = "/api/v1/datasets/{DatasetId}/versions", tag = "versions",
    operation_id = "CreateDatasetVersion", params(DatasetPath), request_body(content = NewVersion),
    responses((status = 200, body = CreateVersionResponse), WriteErrors))]
pub async fn create_version(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    OptionalJson(new): OptionalJson<NewVersion>,
) -> Result<Json<CreateVersionResponse>, ApiError> {
    let version = state.loupe.create_version(&ctx, &path.id(), &new).await?;
    Ok(Json(CreateVersionResponse {
        version_name: version.version_name.to_string(),
        request_id,
    }))
}

/// Lists a dataset's versions, oldest first.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/versions", tag = "versions",
    operation_id = "ListDatasetVersions", params(DatasetPath, PageQuery),
    responses((status = 200, body = DatasetVersionList), ReadErrors))]
pub async fn list_versions(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<DatasetVersionList>, ApiError> {
    let page = PageRequest::parse("versions", query.max_results, query.next_token.as_deref())?;
    let page = state.loupe.list_versions(&ctx, &path.id(), &page).await?;
    Ok(Json(DatasetVersionList {
        dataset_versions: page.items,
        total_count: page.total_count,
        next_token: page.next_token,
    }))
}

/// Reads a version.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}/versions/{VersionName}", tag = "versions",
    operation_id = "GetDatasetVersion", params(VersionPath),
    responses((status = 200, body = DatasetVersion), ReadErrors))]
pub async fn get_version(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<VersionPath>,
) -> Result<Json<DatasetVersion>, ApiError> {
    let (dataset, name) = path.parts()?;
    Ok(Json(state.loupe.get_version(&ctx, &dataset, name).await?))
}

/// Changes a version's description.
#[utoipa::path(put, path = "/api/v1/datasets/{DatasetId}/versions/{VersionName}", tag = "versions",
    operation_id = "UpdateDatasetVersion", params(VersionPath), request_body = VersionUpdate,
    responses((status = 200, body = DatasetVersion), WriteErrors))]
pub async fn update_version(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<VersionPath>,
    ApiJson(update): ApiJson<VersionUpdate>,
) -> Result<Json<DatasetVersion>, ApiError> {
    let (dataset, name) = path.parts()?;
    Ok(Json(
        state
            .loupe
            .update_version(&ctx, &dataset, name, &update)
            .await?,
    ))
}

/// Deletes a version. Its name is never reused.
#[utoipa::path(delete, path = "/api/v1/datasets/{DatasetId}/versions/{VersionName}", tag = "versions",
    operation_id = "DeleteDatasetVersion", params(VersionPath),
    responses((status = 200, body = Acknowledged), WriteErrors))]
pub async fn delete_version(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<VersionPath>,
    request_id: Extension<RequestId>,
) -> Result<Json<Acknowledged>, ApiError> {
    let (dataset, name) = path.parts()?;
    state.loupe.delete_version(&ctx, &dataset, name).await?;
    Ok(Json(Acknowledged::new(request_id)))
}
