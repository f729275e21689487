//! The caller's own workspace.

use axum::extract::State;
use axum::Json;
use loupe_core::workspace::{UpdateWorkspace, Workspace};

use super::{ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

/// Reads the workspace the key belongs to.
#[utoipa::path(get, path = "/api/v1/workspace", tag = "workspace", operation_id = "GetWorkspace",
    responses((status = 200, body = Workspace), ReadErrors))]
pub async fn get_workspace(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<Workspace>, ApiError> {
    Ok(Json(state.loupe.get_workspace(&ctx).await?))
}

/// Changes the workspace description (owner keys only).
#[utoipa::path(put, path = "/api/v1/workspace", tag = "workspace", operation_id = "UpdateWorkspace",
    request_body = UpdateWorkspace, responses((status = 200, body = Workspace), WriteErrors))]
pub async fn update_workspace(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(update): ApiJson<UpdateWorkspace>,
) -> Result<Json<Workspace>, ApiError> {
    Ok(Json(state.loupe.update_workspace(&ctx, &update).await?))
}
