//! The outermost middleware: gives every request an id, answers every error with the
//! JSON envelope, bounds how long a request may take, and logs each fault once.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use loupe_core::{Category, ErrorCode};
use rand::Rng;

use crate::error::{ApiError, ErrorEnvelope};

/// The header that carries the request id both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The id of the current request, readable by handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A client may pass its own id (for tracing across services) if it is short and plain;
/// otherwise a random one is made.
fn request_id_of(req: &Request) -> String {
    let given = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    match given {
        Some(id) => id.to_string(),
        None => hex::encode(rand::thread_rng().gen::<[u8; 12]>()),
    }
}

/// Wraps every request; see the module docs.
pub async fn request_envelope(
    State(timeout): State<Duration>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let mut response = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorCode::RequestTimeout,
            format!("the request took longer than {} s", timeout.as_secs()),
        )
        .into_response(),
    };
    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        response = render(&error, &request_id);
        let fault = error.0.category() == Category::Internal;
        if fault {
            tracing::error!(
                request.id = %request_id, http.method = %method, http.path = %path,
                error.code = ?error.0.code(), error.message = %error.0.message(),
                error.cause = ?error.0.cause(), "request failed"
            );
        } else if response.status().is_server_error() {
            tracing::warn!(
                request.id = %request_id, http.method = %method, http.path = %path,
                error.code = ?error.0.code(), error.cause = ?error.0.cause(), "request failed"
            );
        }
    }
    tracing::debug!(
        request.id = %request_id, http.method = %method, http.path = %path,
        http.status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0, "request"
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The envelope for an error. Faults get a fixed message: their detail is only logged.
fn render(error: &ApiError, request_id: &str) -> Response {
    let message = match error.0.category() {
        Category::Internal => {
            "an internal error occurred; the request id identifies it in the server log".to_string()
        }
        _ => error.0.message().to_string(),
    };
    let body = ErrorEnvelope {
        code: error.0.code(),
        message,
        request_id: request_id.to_string(),
    };
    let mut response = (error.status(), Json(body)).into_response();
    if error.0.category() == Category::Unauthenticated {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A panic in a handler is a fault like any other: 500 with the envelope, never a dropped connection.
#[expect(
    clippy::needless_pass_by_value,
    reason = "CatchPanicLayer hands the payload over by value"
)]
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".to_string());
    let error = ApiError::from(loupe_core::Error::internal("handler panicked", detail));
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(error);
    response
}
