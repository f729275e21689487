//! Domain errors as HTTP responses. A handler's error becomes a response that carries
//! the error in its extensions; [`crate::envelope`] then writes the one JSON envelope,
//! with the request id, and logs faults once.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loupe_core::{Category, Error, ErrorCode};
use serde::Serialize;
use utoipa::ToSchema;

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError(pub Arc<Error>);

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(Arc::new(Error::new(code, message)))
    }

    /// The HTTP status of this error's category.
    pub fn status(&self) -> StatusCode {
        status_of(self.0.category())
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self(Arc::new(err))
    }
}

/// The one mapping from error categories to HTTP statuses.
pub fn status_of(category: Category) -> StatusCode {
    match category {
        Category::Invalid => StatusCode::BAD_REQUEST,
        Category::Unauthenticated => StatusCode::UNAUTHORIZED,
        Category::Forbidden => StatusCode::FORBIDDEN,
        Category::NotFound => StatusCode::NOT_FOUND,
        Category::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Category::Conflict => StatusCode::CONFLICT,
        Category::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Category::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Category::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Category::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// The error body of every failed call, as in PAI.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorEnvelope {
    /// Stable error code; match on this, not on the message.
    pub code: ErrorCode,
    /// What went wrong and what to fix.
    pub message: String,
    /// The id of this request, also in the `x-request-id` header; quote it when reporting a fault.
    pub request_id: String,
}
