//! Datasets: PAI's CreateDataset, ListDatasets, GetDataset, UpdateDataset, DeleteDataset.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use loupe_core::dataset::{Dataset, DatasetUpdate, NewDataset};
use loupe_core::ids::DatasetId;
use loupe_core::page::PageRequest;
use loupe_core::store::DatasetFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Acknowledged, ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// The answer to `CreateDataset`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDatasetResponse {
    /// The new dataset's id.
    pub dataset_id: DatasetId,
    /// The id of this request.
    pub request_id: String,
}

/// `ListDatasets` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct ListDatasetsQuery {
    /// Keep datasets whose name contains this text (case-insensitive).
    pub name: Option<String>,
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub max_results: Option<u32>,
    /// The `NextToken` of the previous page.
    pub next_token: Option<String>,
}

/// A page of datasets.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetList {
    /// The datasets, newest first.
    pub datasets: Vec<Dataset>,
    /// How many datasets match.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// The `{DatasetId}` path segment.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DatasetPath {
    /// The dataset id (`d-…`).
    #[serde(rename = "DatasetId")]
    #[param(rename = "DatasetId")]
    pub dataset_id: String,
}

impl DatasetPath {
    pub(super) fn id(&self) -> DatasetId {
        DatasetId::from_raw(self.dataset_id.clone())
    }
}

/// Creates a dataset. Nothing is read from storage yet: versions do that.
#[utoipa::path(post, path = "/api/v1/datasets", tag = "datasets", operation_id = "CreateDataset",
    request_body = NewDataset, responses((status = 200, body = CreateDatasetResponse), WriteErrors))]
pub async fn create_dataset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(RequestId(request_id)): Extension<RequestId>,
    ApiJson(new): ApiJson<NewDataset>,
) -> Result<Json<CreateDatasetResponse>, ApiError> {
    let dataset = state.loupe.create_dataset(&ctx, new).await?;
    Ok(Json(CreateDatasetResponse {
        dataset_id: dataset.dataset_id,
        request_id,
    }))
}

/// Lists the workspace's datasets, newest first.
#[utoipa::path(get, path = "/api/v1/datasets", tag = "datasets", operation_id = "ListDatasets",
    params(ListDatasetsQuery), responses((status = 200, body = DatasetList), ReadErrors))]
pub async fn list_datasets(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListDatasetsQuery>,
) -> Result<Json<DatasetList>, ApiError> {
    let page = PageRequest::parse("datasets", query.max_results, query.next_token.as_deref())?;
    let filter = DatasetFilter {
        name_contains: query.name.filter(|n| !n.is_empty()),
    };
    let page = state.loupe.list_datasets(&ctx, &filter, &page).await?;
    Ok(Json(DatasetList {
        datasets: page.items,
        total_count: page.total_count,
        next_token: page.next_token,
    }))
}

/// Reads a dataset.
#[utoipa::path(get, path = "/api/v1/datasets/{DatasetId}", tag = "datasets", operation_id = "GetDataset",
    params(DatasetPath), responses((status = 200, body = Dataset), ReadErrors))]
pub async fn get_dataset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
) -> Result<Json<Dataset>, ApiError> {
    Ok(Json(state.loupe.get_dataset(&ctx, &path.id()).await?))
}

/// Changes a dataset's name, description or labels.
#[utoipa::path(put, path = "/api/v1/datasets/{DatasetId}", tag = "datasets", operation_id = "UpdateDataset",
    params(DatasetPath), request_body = DatasetUpdate,
    responses((status = 200, body = Dataset), WriteErrors))]
pub async fn update_dataset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    ApiJson(update): ApiJson<DatasetUpdate>,
) -> Result<Json<Dataset>, ApiError> {
    Ok(Json(
        state
            .loupe
            .update_dataset(&ctx, &path.id(), &update)
            .await?,
    ))
}

/// Deletes a dataset and its versions. The files in storage are not touched.
#[utoipa::path(delete, path = "/api/v1/datasets/{DatasetId}", tag = "datasets", operation_id = "DeleteDataset",
    params(DatasetPath), responses((status = 200, body = Acknowledged), WriteErrors))]
pub async fn delete_dataset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<DatasetPath>,
    request_id: Extension<RequestId>,
) -> Result<Json<Acknowledged>, ApiError> {
    state.loupe.delete_dataset(&ctx, &path.id()).await?;
    Ok(Json(Acknowledged::new(request_id)))
}
