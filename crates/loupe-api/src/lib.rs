//! The HTTP edge of Loupe: routes, the auth extractor, the error envelope and the
//! OpenAPI document. Handlers extract, call a [`loupe_core::service::Loupe`] method and
//! map the result; no SQL and no business rule lives here.

mod auth;
mod envelope;
mod error;
mod extract;
mod openapi;
mod routes;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use loupe_core::service::Loupe;
use tower_http::catch_panic::CatchPanicLayer;

pub use error::ApiError;
pub use openapi::openapi;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The domain services.
    pub loupe: Loupe,
}

/// The complete router: API, health, spec and docs, with the layers every response
/// passes through (request id, error envelope, panic guard, body limit).
pub fn router(loupe: Loupe, options: &HttpOptions) -> Router {
    let (api, spec) = routes::api_router().split_for_parts();
    api.merge(openapi::docs_router(spec))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(CatchPanicLayer::custom(envelope::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            options.request_timeout,
            envelope::request_envelope,
        ))
        .with_state(AppState { loupe })
}
