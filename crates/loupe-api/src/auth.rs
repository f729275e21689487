//! The auth extractor: turns `Authorization: Bearer <key>` into the [`WorkspaceCtx`]
//! that scopes every call. Handlers never see a workspace id from anywhere else.

use axum::extract::{FromRequestParts, Query};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use loupe_core::auth::WorkspaceCtx;
use loupe_core::service::check_workspace_param;
use loupe_core::ErrorCode;
use serde::Deserialize;

use crate::error::ApiError;
use crate::AppState;

/// An authenticated caller.
pub struct Auth(pub WorkspaceCtx);

/// The PAI-compatible `WorkspaceId` query parameter that any call may carry.
#[derive(Deserialize)]
struct WorkspaceParam {
    #[serde(rename = "WorkspaceId")]
    workspace_id: Option<String>,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::new(
                ErrorCode::MissingApiKey,
                "this call needs an API key: send Authorization: Bearer lp_…",
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .unwrap_or_default();
        let ctx = state.loupe.authenticate(token).await?;
        // A malformed query is reported by the handler's own query extractor.
        if let Ok(Query(param)) = Query::<WorkspaceParam>::try_from_uri(&parts.uri) {
            check_workspace_param(&ctx, param.workspace_id.as_deref())?;
        }
        Ok(Auth(ctx))
    }
}
