//! Driver errors become domain errors here, at the store boundary, so no layer above
//! ever string-matches a driver error.

use loupe_core::{Error, ErrorCode};

/// Any database failure: connection trouble is `StoreUnavailable` (retryable), the rest internal.
pub(crate) fn db_error(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::unavailable(err),
        other => Error::internal("metadata store query failed", other),
    }
}

/// Like [`db_error`], but a unique-constraint violation becomes the given conflict.
/// Each statement using this has exactly one unique constraint a client can hit.
pub(crate) fn unique_as(
    code: ErrorCode,
    message: impl Into<String>,
) -> impl FnOnce(sqlx::Error) -> Error {
    let message = message.into();
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::new(code, message),
        _ => db_error(err),
    }
}

/// The error for a dataset that is not in the caller's workspace (or does not exist:
/// the two are indistinguishable on purpose).
pub(crate) fn dataset_not_found(id: &str) -> Error {
    Error::new(
        ErrorCode::DatasetNotFound,
        format!("dataset '{id}' not found"),
    )
}
