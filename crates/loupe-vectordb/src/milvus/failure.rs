//! What a failed Milvus call means: worth a retry or not, and which Loupe error it is.
//!
//! Milvus answers in two layers: gRPC statuses for the transport, and a `Status` inside
//! each reply for the server's verdict, with a modern `code` (merr, Milvus ≥ 2.3) and a
//! legacy `error_code`. Both are read, so 2.4 servers and milvus-lite are understood alike.

use std::time::Duration;

use loupe_core::vector::{index_not_found, refused, unavailable};
use loupe_core::Error;
use milvus::v2::error::Error as SdkError;

use crate::retry::Attempt;

const STORE: &str = "milvus";

// merr codes and legacy `ErrorCode`s this adapter acts on.
const COLLECTION_NOT_FOUND: i32 = 100;
const LEGACY_COLLECTION_NOT_EXISTS: i32 = 4;
const COLLECTION_NOT_LOADED: i32 = 101;
const INDEX_NOT_FOUND: i32 = 700;
const LEGACY_INDEX_NOT_EXIST: i32 = 25;
const SERVICE_UNAVAILABLE: i32 = 2;
const SERVICE_RATE_LIMIT: i32 = 8;
const LEGACY_NOT_SHARD_LEADER: i32 = 45;
const LEGACY_RATE_LIMIT: i32 = 49;
const LEGACY_NOT_READY_SERVE: i32 = 56;

// gRPC status codes (fixed by the gRPC spec), compared as numbers so this crate needs no
// direct tonic dependency.
const GRPC_CANCELLED: i32 = 1;
const GRPC_UNKNOWN: i32 = 2;
const GRPC_DEADLINE_EXCEEDED: i32 = 4;
const GRPC_PERMISSION_DENIED: i32 = 7;
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
const GRPC_ABORTED: i32 = 10;
const GRPC_INTERNAL: i32 = 13;
const GRPC_UNAVAILABLE: i32 = 14;
const GRPC_UNAUTHENTICATED: i32 = 16;

/// One failed attempt.
#[derive(Debug)]
pub enum Failure {
    /// The SDK's error.
    Sdk(SdkError),
    /// The attempt outlived the connection's timeout.
    TimedOut(Duration),
}

/// The error itself, looking through the SDK's own retry wrapper.
fn root(err: &SdkError) -> &SdkError {
    match err {
        SdkError::RetryExhausted { source, .. } => root(source),
        other => other,
    }
}

fn server_codes(err: &SdkError) -> Option<(i32, i32)> {
    match root(err) {
        SdkError::Server(e) => Some((e.code(), e.legacy_code())),
        _ => None,
    }
}

fn grpc_code(err: &SdkError) -> Option<i32> {
    match root(err) {
        SdkError::Grpc(status) => Some(i32::from(status.code())),
        _ => None,
    }
}

/// Whether the server said the collection does not exist.
pub fn is_collection_missing(err: &SdkError) -> bool {
    server_codes(err).is_some_and(|(code, legacy)| {
        code == COLLECTION_NOT_FOUND || legacy == LEGACY_COLLECTION_NOT_EXISTS
    })
}

/// Whether the server said the collection is not loaded for search.
pub fn is_not_loaded(err: &SdkError) -> bool {
    server_codes(err).is_some_and(|(code, _)| code == COLLECTION_NOT_LOADED)
}

/// Whether the server said the field has no index.
pub fn is_index_missing(err: &SdkError) -> bool {
    server_codes(err)
        .is_some_and(|(code, legacy)| code == INDEX_NOT_FOUND || legacy == LEGACY_INDEX_NOT_EXIST)
}

fn transient_grpc(code: i32) -> bool {
    matches!(
        code,
        GRPC_CANCELLED
            | GRPC_UNKNOWN
            | GRPC_DEADLINE_EXCEEDED
            | GRPC_RESOURCE_EXHAUSTED
            | GRPC_ABORTED
            | GRPC_INTERNAL
            | GRPC_UNAVAILABLE
    )
}

/// Whether repeating the request may succeed: transport failures, timeouts, rate limits
/// and a server that is not ready. Every write this adapter sends is idempotent (upserts
/// by primary key, deletes by filter), so replaying one after an ambiguous failure is safe.
fn transient(err: &SdkError) -> bool {
    match root(err) {
        SdkError::Grpc(status) => transient_grpc(i32::from(status.code())),
        SdkError::Timeout(_) | SdkError::Cancelled(_) => true,
        SdkError::Server(e) => {
            matches!(e.code(), SERVICE_UNAVAILABLE | SERVICE_RATE_LIMIT)
                || matches!(
                    e.legacy_code(),
                    LEGACY_RATE_LIMIT | LEGACY_NOT_READY_SERVE | LEGACY_NOT_SHARD_LEADER
                )
        }
        _ => false,
    }
}

/// The retry decision for one failed attempt.
pub fn attempt<T>(failure: Failure) -> Attempt<T, Failure> {
    let retry = match &failure {
        Failure::TimedOut(_) => true,
        Failure::Sdk(err) => transient(err),
    };
    if retry {
        Attempt::Retry(failure, None)
    } else {
        Attempt::Fail(failure)
    }
}

/// The Loupe error for a failure that ended the call. `what` names the operation; the
/// text comes from the server or the transport and never holds the credentials, which
/// travel only in request metadata.
pub fn to_error(index: &str, what: &str, failure: Failure) -> Error {
    let err = match failure {
        Failure::TimedOut(after) => {
            return unavailable(STORE, format!("{what} timed out after {after:?}"))
        }
        Failure::Sdk(err) => err,
    };
    if is_collection_missing(&err) {
        return index_not_found(index);
    }
    if transient(&err) {
        return unavailable(STORE, format!("{what}: {}", describe(&err)));
    }
    if matches!(
        grpc_code(&err),
        Some(GRPC_UNAUTHENTICATED | GRPC_PERMISSION_DENIED)
    ) {
        return refused(
            STORE,
            format!(
                "{what}: the credentials were not accepted ({}): check Secrets.Username and \
                 Secrets.Password, or Secrets.ApiKey, and Configs.Database",
                describe(&err)
            ),
        );
    }
    refused(STORE, format!("{what}: {}", describe(&err)))
}

/// A short account of an SDK error: the gRPC code and message, or the server's reason
/// and code; never the request's metadata.
fn describe(err: &SdkError) -> String {
    match root(err) {
        SdkError::Grpc(status) => format!("gRPC {:?}: {}", status.code(), status.message()),
        SdkError::Server(e) => format!("{} (code {})", e.reason(), e.code()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_core::ErrorCode;
    use milvus::proto::common::Status;

    #[expect(deprecated, reason = "2.4 servers still fill the legacy error_code")]
    fn server(code: i32, legacy: i32, reason: &str) -> SdkError {
        SdkError::from(Status {
            code,
            error_code: legacy,
            reason: reason.into(),
            ..Default::default()
        })
    }

    #[test]
    fn timeouts_and_busy_servers_are_retried_and_end_unavailable() {
        let slow = Failure::TimedOut(Duration::from_secs(2));
        assert!(matches!(attempt::<()>(slow), Attempt::Retry(_, None)));
        let connect = || {
            Failure::Sdk(SdkError::RetryExhausted {
                attempts: 1,
                source: Box::new(SdkError::Timeout(
                    "connecting to Milvus after 1000ms".into(),
                )),
            })
        };
        assert!(matches!(attempt::<()>(connect()), Attempt::Retry(..)));
        let err = to_error("idx", "search", connect());
        assert_eq!(err.code(), ErrorCode::VectorStoreUnavailable);
        let limited = Failure::Sdk(server(SERVICE_RATE_LIMIT, 0, "rate limit exceeded"));
        assert!(matches!(attempt::<()>(limited), Attempt::Retry(..)));
        let legacy = Failure::Sdk(server(0, LEGACY_RATE_LIMIT, "slow down"));
        assert!(matches!(attempt::<()>(legacy), Attempt::Retry(..)));
        assert!(transient_grpc(GRPC_UNAVAILABLE) && !transient_grpc(GRPC_UNAUTHENTICATED));
    }

    #[test]
    fn server_verdicts_fail_at_once_with_their_meaning() {
        for (code, legacy) in [(COLLECTION_NOT_FOUND, LEGACY_COLLECTION_NOT_EXISTS), (0, 4)] {
            let missing = || Failure::Sdk(server(code, legacy, "collection not found[x]"));
            assert!(matches!(attempt::<()>(missing()), Attempt::Fail(_)));
            let err = to_error("my-index", "upsert", missing());
            assert_eq!(err.code(), ErrorCode::VectorIndexNotFound);
            assert!(err.message().contains("my-index"), "{}", err.message());
        }
        let bad = Failure::Sdk(server(1100, 5, "invalid parameter[expected=dim]"));
        assert!(matches!(attempt::<()>(bad), Attempt::Fail(_)));
        let bad = Failure::Sdk(server(1100, 5, "invalid parameter[expected=dim]"));
        let err = to_error("idx", "upsert", bad);
        assert_eq!(err.code(), ErrorCode::VectorStoreError);
        assert!(
            err.message().contains("upsert: invalid parameter"),
            "{}",
            err.message()
        );
        assert!(is_not_loaded(&server(
            COLLECTION_NOT_LOADED,
            101,
            "not loaded"
        )));
        assert!(is_index_missing(&server(
            INDEX_NOT_FOUND,
            11,
            "index not found"
        )));
        assert!(is_index_missing(&server(
            0,
            LEGACY_INDEX_NOT_EXIST,
            "index not exist"
        )));
        assert!(!is_collection_missing(&server(
            INDEX_NOT_FOUND,
            11,
            "index not found"
        )));
    }
}
