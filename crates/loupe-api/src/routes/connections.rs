//! Connections: PAI's CreateConnection, ListConnections, GetConnection, UpdateConnection,
//! DeleteConnection, and a test action. Secrets go in and never come out.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use loupe_core::connection::{
    Connection, ConnectionTest, ConnectionTestResult, ConnectionUpdate, NewConnection,
};
use loupe_core::ids::ConnectionId;
use loupe_core::page::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Acknowledged, PageQuery, ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::AppState;

/// The `{ConnectionId}` path segment.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConnectionPath {
    /// The connection id (`conn-…`).
    #[serde(rename = "ConnectionId")]
    #[param(rename = "ConnectionId")]
    pub connection_id: String,
}

impl ConnectionPath {
    fn id(&self) -> ConnectionId {
        ConnectionId::from_raw(self.connection_id.clone())
    }
}

/// A page of connections.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionList {
    /// The connections, newest first.
    pub connections: Vec<Connection>,
    /// How many the workspace has.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// Creates a connection (admin keys). Secrets are sealed with the server's master key.
#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", operation_id = "CreateConnection",
    request_body = NewConnection, responses((status = 200, body = Connection), WriteErrors))]
pub async fn create_connection(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(new): ApiJson<NewConnection>,
) -> Result<Json<Connection>, ApiError> {
    Ok(Json(state.loupe.create_connection(&ctx, new).await?))
}

/// Lists the workspace's connections.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", operation_id = "ListConnections",
    params(PageQuery), responses((status = 200, body = ConnectionList), ReadErrors))]
pub async fn list_connections(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ConnectionList>, ApiError> {
    let page = PageRequest::parse(
        "connections",
        query.max_results,
        query.next_token.as_deref(),
    )?;
    let page = state.loupe.list_connections(&ctx, &page).await?;
    Ok(Json(ConnectionList {
        connections: page.items,
        total_count: page.total_count,
        next_token: page.next_token,
    }))
}

/// Reads a connection; secrets show only by name.
#[utoipa::path(get, path = "/api/v1/connections/{ConnectionId}", tag = "connections",
    operation_id = "GetConnection", params(ConnectionPath), responses((status = 200, body = Connection), ReadErrors))]
pub async fn get_connection(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<ConnectionPath>,
) -> Result<Json<Connection>, ApiError> {
    Ok(Json(state.loupe.get_connection(&ctx, &path.id()).await?))
}

/// Changes a connection (admin keys); `Secrets`, when given, replaces all secrets.
#[utoipa::path(put, path = "/api/v1/connections/{ConnectionId}", tag = "connections",
    operation_id = "UpdateConnection", params(ConnectionPath), request_body = ConnectionUpdate,
    responses((status = 200, body = Connection), WriteErrors))]
pub async fn update_connection(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<ConnectionPath>,
    ApiJson(update): ApiJson<ConnectionUpdate>,
) -> Result<Json<Connection>, ApiError> {
    Ok(Json(
        state
            .loupe
            .update_connection(&ctx, &path.id(), update)
            .await?,
    ))
}

/// Deletes a connection (admin keys).
#[utoipa::path(delete, path = "/api/v1/connections/{ConnectionId}", tag = "connections",
    operation_id = "DeleteConnection", params(ConnectionPath), responses((status = 200, body = Acknowledged), WriteErrors))]
pub async fn delete_connection(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<ConnectionPath>,
    request_id: Extension<RequestId>,
) -> Result<Json<Acknowledged>, ApiError> {
    state.loupe.delete_connection(&ctx, &path.id()).await?;
    Ok(Json(Acknowledged::new(request_id)))
}

/// Tries the connection on a location and reports reachability and permissions.
#[utoipa::path(post, path = "/api/v1/connections/{ConnectionId}/action/test", tag = "connections",
    operation_id = "TestConnection", params(ConnectionPath), request_body = ConnectionTest,
    responses((status = 200, body = ConnectionTestResult), WriteErrors))]
pub async fn test_connection(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<ConnectionPath>,
    OptionalJson(test): OptionalJson<ConnectionTest>,
) -> Result<Json<ConnectionTestResult>, ApiError> {
    Ok(Json(
        state.loupe.test_connection(&ctx, &path.id(), &test).await?,
    ))
}
