//! API keys of the caller's workspace (admin keys and up).

use axum::extract::{Path, State};
use axum::{Extension, Json};
use loupe_core::ids::ApiKeyId;
use loupe_core::page::PageRequest;
use loupe_core::workspace::{ApiKey, CreatedApiKey, NewApiKey};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Acknowledged, PageQuery, ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// A page of keys.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ApiKeyList {
    /// The keys, newest first.
    pub api_keys: Vec<ApiKey>,
    /// How many keys the workspace has.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// Issues a key. The token is in this answer only: store it now.
#[utoipa::path(post, path = "/api/v1/apikeys", tag = "apikeys", operation_id = "CreateApiKey",
    request_body = NewApiKey, responses((status = 200, body = CreatedApiKey), WriteErrors))]
pub async fn create_api_key(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(new): ApiJson<NewApiKey>,
) -> Result<Json<CreatedApiKey>, ApiError> {
    Ok(Json(state.loupe.create_api_key(&ctx, &new).await?))
}

/// Lists the workspace's keys; tokens are never shown.
#[utoipa::path(get, path = "/api/v1/apikeys", tag = "apikeys", operation_id = "ListApiKeys",
    params(PageQuery), responses((status = 200, body = ApiKeyList), ReadErrors))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let page = PageRequest::parse("api_keys", query.max_results, query.next_token.as_deref())?;
    let page = state.loupe.list_api_keys(&ctx, &page).await?;
    Ok(Json(ApiKeyList {
        api_keys: page.items,
        total_count: page.total_count,
        next_token: page.next_token,
    }))
}

/// Revokes a key; it fails from its next request on.
#[utoipa::path(delete, path = "/api/v1/apikeys/{KeyId}", tag = "apikeys", operation_id = "RevokeApiKey",
    params(("KeyId" = String, Path, description = "The key id (`ak-…`)")),
    responses((status = 200, body = Acknowledged), WriteErrors))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(key_id): Path<String>,
    request_id: Extension<RequestId>,
) -> Result<Json<Acknowledged>, ApiError> {
    state
        .loupe
        .revoke_api_key(&ctx, &ApiKeyId::from_raw(key_id))
        .await?;
    Ok(Json(Acknowledged::new(request_id)))
}
