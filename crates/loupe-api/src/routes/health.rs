//! Liveness and readiness probes; no key needed.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::AppState;

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// Always `ok` when the call succeeds.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "Healthz", security(()),
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The metadata store answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "Readyz", security(()),
    responses((status = 200, body = Health),
        (status = 503, description = "not ready (`StoreUnavailable`)", body = crate::error::ErrorEnvelope)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.loupe.store().check_ready().await?;
    Ok(Json(Health { status: "ok" }))
}
