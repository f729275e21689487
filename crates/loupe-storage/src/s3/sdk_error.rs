//! SDK errors turned into [`StorageError`]s, by HTTP status first and S3 error code second.

use std::error::Error as StdError;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::StorageError;

/// S3 error codes that mean "try again later" even when the status does not say so (`RequestTimeout` is a 400).
const RETRYABLE_CODES: &[&str] = &[
    "RequestTimeout",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "TooManyRequests",
    "InternalError",
    "ServiceUnavailable",
];

/// Classifies a failed call on `what` (the URI of the object or location). The detail never holds
/// credentials: it is built from the status, the S3 error code and message, or the connection error.
pub(super) fn storage_error<E>(err: &SdkError<E, HttpResponse>, what: String) -> StorageError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match err {
        SdkError::TimeoutError(_) => StorageError::Retryable {
            what,
            detail: "timed out".to_owned(),
        },
        SdkError::DispatchFailure(failure) if failure.is_user() => StorageError::Fatal {
            what,
            detail: format!("request could not be sent: {}", DisplayErrorContext(err)),
        },
        SdkError::DispatchFailure(_) => StorageError::Retryable {
            what,
            detail: format!("connection failed: {}", DisplayErrorContext(err)),
        },
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let (code, message) = (service.err().code(), service.err().message());
            by_status(status, code, message, what)
        }
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            if !(200..300).contains(&status) {
                return by_status(status, None, None, what);
            }
            // A success status with a body that could not be read: a connection that broke off is worth a
            // retry, a body that is not S3's (a wrong endpoint) is not.
            let detail = format!("unreadable response: {}", DisplayErrorContext(err));
            if has_io_source(err) {
                StorageError::Retryable { what, detail }
            } else {
                StorageError::Fatal { what, detail }
            }
        }
        _ => StorageError::Fatal {
            what,
            detail: DisplayErrorContext(err).to_string(),
        },
    }
}

fn by_status(status: u16, code: Option<&str>, message: Option<&str>, what: String) -> StorageError {
    let mut detail = format!("http {status}");
    if let Some(code) = code {
        detail = format!("{detail} {code}");
    }
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        detail = format!("{detail}: {message}");
    }
    let is_code = |wanted: &[&str]| code.is_some_and(|code| wanted.contains(&code));
    match status {
        404 => StorageError::NotFound { what },
        _ if is_code(&["NoSuchKey", "NoSuchBucket", "NotFound"]) => StorageError::NotFound { what },
        403 => StorageError::PermissionDenied { what, detail },
        429 | 500..=599 => StorageError::Retryable { what, detail },
        _ if is_code(RETRYABLE_CODES) => StorageError::Retryable { what, detail },
        _ => StorageError::Fatal { what, detail },
    }
}

fn has_io_source(err: &(dyn StdError + 'static)) -> bool {
    let mut source = err.source();
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, code: Option<&str>) -> StorageError {
        by_status(status, code, Some("msg"), "s3://b/k".to_owned())
    }

    #[test]
    fn statuses_map_to_categories() {
        assert!(matches!(class(404, None), StorageError::NotFound { .. }));
        assert!(matches!(
            class(400, Some("NoSuchBucket")),
            StorageError::NotFound { .. }
        ));
        assert!(matches!(
            class(403, Some("AccessDenied")),
            StorageError::PermissionDenied { .. }
        ));
        assert!(class(429, None).is_retryable());
        assert!(class(503, Some("SlowDown")).is_retryable());
        assert!(class(400, Some("RequestTimeout")).is_retryable());
        assert!(matches!(
            class(400, Some("InvalidArgument")),
            StorageError::Fatal { .. }
        ));
    }

    #[test]
    fn detail_names_status_code_and_message() {
        let err = class(403, Some("AccessDenied"));
        assert_eq!(
            err.to_string(),
            "permission denied on s3://b/k: http 403 AccessDenied: msg"
        );
    }
}
