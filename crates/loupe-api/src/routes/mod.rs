//! One module per resource. Each handler extracts its input, calls one service method
//! and maps the result.

mod api_keys;
mod connections;
mod datasets;
mod file_meta_tags;
mod file_metas;
mod health;
mod jobs;
mod links;
mod search;
mod tag_definitions;
mod versions;
mod workspace;

use axum::Extension;
use loupe_core::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::envelope::RequestId;
use crate::error::{ApiError, ErrorEnvelope};
use crate::openapi::ApiDoc;
use crate::AppState;

/// Every documented route, collected with its OpenAPI operation.
pub fn api_router() -> OpenApiRouter<AppState> {
    use utoipa::OpenApi as _;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(
            workspace::get_workspace,
            workspace::update_workspace
        ))
        .routes(routes!(api_keys::create_api_key, api_keys::list_api_keys))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(datasets::create_dataset, datasets::list_datasets))
        .routes(routes!(
            datasets::get_dataset,
            datasets::update_dataset,
            datasets::delete_dataset
        ))
        .routes(routes!(
            connections::create_connection,
            connections::list_connections
        ))
        .routes(routes!(
            connections::get_connection,
            connections::update_connection,
            connections::delete_connection
        ))
        .routes(routes!(connections::test_connection))
        .routes(routes!(
            tag_definitions::create_tag_definition,
            tag_definitions::list_tag_definitions
        ))
        .routes(routes!(
            tag_definitions::get_tag_definition,
            tag_definitions::update_tag_definition,
            tag_definitions::delete_tag_definition
        ))
        .routes(routes!(jobs::create_job, jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::delete_job))
        .routes(routes!(jobs::stop_job))
        .routes(routes!(jobs::refresh_index))
        .routes(routes!(jobs::list_failures))
        .routes(routes!(jobs::list_logs))
        .routes(routes!(search::list_file_metas))
        .routes(routes!(file_metas::create_file_metas))
        .routes(routes!(search::search_file_metas))
        .routes(routes!(file_metas::get_file_meta))
        .routes(routes!(file_meta_tags::update_file_metas))
        .routes(routes!(file_meta_tags::file_metas_statistics))
        .routes(routes!(links::download))
        .routes(routes!(links::thumbnail))
        .routes(routes!(versions::create_version, versions::list_versions))
        .routes(routes!(
            versions::get_version,
            versions::update_version,
            versions::delete_version
        ))
}

/// Answer for paths no route serves.
pub async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::RouteNotFound,
        "no route serves this path: see /docs for the API",
    )
}

/// Answer for a known path with a method it does not serve.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this path does not serve that method: see /docs for the API",
    )
}

/// `MaxResults` and `NextToken`, shared by every list call.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct PageQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub max_results: Option<u32>,
    /// The `NextToken` of the previous page.
    pub next_token: Option<String>,
}

/// The answer of calls that return nothing but an acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Acknowledged {
    /// The id of this request.
    pub request_id: String,
}

impl Acknowledged {
    fn new(Extension(RequestId(request_id)): Extension<RequestId>) -> Self {
        Self { request_id }
    }
}

/// Errors of calls that only read.
#[derive(IntoResponses)]
#[expect(dead_code, reason = "documents responses; never constructed")]
pub enum ReadErrors {
    /// A parameter is invalid (`InvalidParameter`, `InvalidNextToken`).
    #[response(status = 400)]
    BadRequest(ErrorEnvelope),
    /// No key or an invalid one (`MissingApiKey`, `InvalidApiKey`).
    #[response(status = 401)]
    Unauthenticated(ErrorEnvelope),
    /// The key's role may not do this (`PermissionDenied`).
    #[response(status = 403)]
    Forbidden(ErrorEnvelope),
    /// Not found in the key's workspace.
    #[response(status = 404)]
    NotFound(ErrorEnvelope),
    /// An internal fault.
    #[response(status = 500)]
    Internal(ErrorEnvelope),
    /// The store is unavailable or the request timed out.
    #[response(status = 503)]
    Unavailable(ErrorEnvelope),
}

/// Errors of calls that take a body or change state.
#[derive(IntoResponses)]
#[expect(dead_code, reason = "documents responses; never constructed")]
pub enum WriteErrors {
    /// Malformed JSON, a body that does not fit the schema, or an invalid value.
    #[response(status = 400)]
    BadRequest(ErrorEnvelope),
    /// No key or an invalid one (`MissingApiKey`, `InvalidApiKey`).
    #[response(status = 401)]
    Unauthenticated(ErrorEnvelope),
    /// The key's role may not do this (`PermissionDenied`).
    #[response(status = 403)]
    Forbidden(ErrorEnvelope),
    /// Not found in the key's workspace.
    #[response(status = 404)]
    NotFound(ErrorEnvelope),
    /// The change clashes with existing state, e.g. a duplicate name.
    #[response(status = 409)]
    Conflict(ErrorEnvelope),
    /// The body is larger than the server accepts (`PayloadTooLarge`).
    #[response(status = 413)]
    PayloadTooLarge(ErrorEnvelope),
    /// The body is not JSON (`UnsupportedMediaType`).
    #[response(status = 415)]
    UnsupportedMediaType(ErrorEnvelope),
    /// An internal fault.
    #[response(status = 500)]
    Internal(ErrorEnvelope),
    /// The store is unavailable or the request timed out.
    #[response(status = 503)]
    Unavailable(ErrorEnvelope),
}
