//! Extractors whose rejections speak the error envelope: a malformed body, a wrong
//! type or an unknown field is a 4xx that names the problem, never axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use loupe_core::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Needs `Content-Type: application/json`.
pub struct ApiJson<T>(pub T);

/// A JSON body that may be left out entirely (no body, or an empty one), as PAI
/// clients do for calls whose fields are all optional.
pub struct OptionalJson<T>(pub T);

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = is_json(&req);
        let bytes = read_body(req, state).await?;
        if !is_json {
            return Err(not_json());
        }
        parse(&bytes).map(ApiJson)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = is_json(&req);
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !is_json {
            return Err(not_json());
        }
        parse(&bytes).map(OptionalJson)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| {
                let detail = rejection.body_text();
                let detail = detail
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&detail);
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    format!("query parameters are invalid: {detail}"),
                )
            })
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

fn not_json() -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        "the body must be JSON: send Content-Type: application/json",
    )
}

/// Reads the body under the configured limit.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the body is larger than the server accepts (LOUPE_MAX_BODY_BYTES)",
            )
        } else {
            ApiError::new(ErrorCode::InvalidBody, "the body could not be read")
        }
    })
}

/// Parses JSON in two steps so a truncated or malformed body is always
/// `MalformedJson`, whatever its first key, and a schema error names the field at fault.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|err| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {err}"),
        )
    })?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = if path == "." {
            format!("the body does not match the schema: {}", err.inner())
        } else {
            format!(
                "the body does not match the schema at {path}: {}",
                err.inner()
            )
        };
        ApiError::new(ErrorCode::InvalidBody, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    #[expect(dead_code, reason = "fields exist to be parsed")]
    struct Body {
        name: String,
        #[serde(default)]
        labels: Vec<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    #[expect(dead_code, reason = "fields exist to be parsed")]
    struct Inner {
        key: String,
    }

    fn code_and_message(json: &str) -> (ErrorCode, String) {
        let err = parse::<Body>(json.as_bytes()).unwrap_err();
        (err.0.code(), err.0.message().to_string())
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert_eq!(code_and_message("{\"Name\": ").0, ErrorCode::MalformedJson);
        assert_eq!(code_and_message("{} trailing").0, ErrorCode::MalformedJson);
        assert_eq!(
            code_and_message("{\"Unknown\": ").0,
            ErrorCode::MalformedJson
        );
    }

    #[test]
    fn schema_errors_name_the_field() {
        let (code, message) = code_and_message(r#"{"Name": "a", "Labels": [{"Key": 5}]}"#);
        assert_eq!(code, ErrorCode::InvalidBody);
        assert!(message.contains("Labels[0].Key"), "{message}");
        let (code, message) = code_and_message(r#"{"Name": "a", "Bogus": 1}"#);
        assert_eq!(code, ErrorCode::InvalidBody);
        assert!(message.contains("unknown field `Bogus`"), "{message}");
        let (_, message) = code_and_message("{}");
        assert!(message.contains("missing field `Name`"), "{message}");
    }
}
