//! The one error type of the domain. Every failure carries a stable [`ErrorCode`]
//! that clients can match on, and every code belongs to one [`Category`] that the
//! HTTP edge turns into a status with a single exhaustive match.

use serde::Serialize;
use utoipa::ToSchema;

/// Result with the domain [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure a code is; the HTTP layer maps each to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The request is malformed or a value is out of range (400).
    Invalid,
    /// The request needs a credential, or the one given is not valid (401).
    Unauthenticated,
    /// The credential is valid but its role may not do this (403).
    Forbidden,
    /// The thing does not exist in the caller's workspace (404).
    NotFound,
    /// The method is not served on this path (405).
    MethodNotAllowed,
    /// The change clashes with existing state, e.g. a duplicate name (409).
    Conflict,
    /// The body is larger than the configured limit (413).
    PayloadTooLarge,
    /// The body is not JSON (415).
    UnsupportedMediaType,
    /// A dependency such as the metadata store cannot be reached (503).
    Unavailable,
    /// A fault of ours; the client gets no detail (500).
    Internal,
}

/// Every error code Loupe answers with. Codes are a stable contract: never rename or
/// reuse one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum ErrorCode {
    /// The body is not well-formed JSON.
    MalformedJson,
    /// The JSON is well-formed but does not fit the schema: unknown field, wrong type, missing field.
    InvalidBody,
    /// The request sent a body that is not `application/json`.
    UnsupportedMediaType,
    /// The body is larger than `LOUPE_MAX_BODY_BYTES`.
    PayloadTooLarge,
    /// A query or path parameter is missing or out of range.
    InvalidParameter,
    /// A name does not follow the naming rules.
    InvalidName,
    /// A storage URI is not `s3://bucket/prefix`, `oss://bucket/prefix` or `file:///abs/path`.
    InvalidUri,
    /// A `file://` URI lies outside every folder of `LOUPE_LOCAL_ROOTS`.
    LocalPathNotAllowed,
    /// `NextToken` was not produced by this list call.
    InvalidNextToken,
    /// `QueryExpression` does not parse or does not type-check; the message gives the
    /// position (`at position N`, or `at line L, column C`) and what was expected there.
    InvalidQueryExpression,
    /// No `Authorization: Bearer` header was sent.
    MissingApiKey,
    /// The API key is unknown or revoked.
    InvalidApiKey,
    /// The key's role may not perform this call.
    PermissionDenied,
    /// No route serves this path.
    RouteNotFound,
    /// The path exists but not with this method.
    MethodNotAllowed,
    /// The workspace does not exist.
    WorkspaceNotFound,
    /// The dataset does not exist in this workspace.
    DatasetNotFound,
    /// The dataset version does not exist.
    DatasetVersionNotFound,
    /// The API key does not exist in this workspace.
    ApiKeyNotFound,
    /// The connection does not exist in this workspace.
    ConnectionNotFound,
    /// The job does not exist in this dataset.
    DatasetJobNotFound,
    /// The file meta does not exist in this version.
    DatasetFileMetaNotFound,
    /// A connection with that name exists already in this workspace.
    ConnectionAlreadyExists,
    /// The connection is built in (`local-model`, `embedded-vectors`): it cannot be
    /// changed, renamed or deleted. Create a connection of your own to use other settings.
    ConnectionReadOnly,
    /// The job clashes with another one, e.g. a build already running on the version, or it is still running.
    JobConflict,
    /// The dataset version is not `Ready` (its build is pending, running or failed): wait
    /// for its `FileMetaBuild` job, or build it again.
    VersionNotReady,
    /// The object store refused the request (missing object, no permission, bad settings); the message names the object.
    StorageError,
    /// The object store failed or timed out; retry later.
    StorageUnavailable,
    /// A signed link is expired or its signature does not match.
    InvalidSignature,
    /// A vector's length differs from its index's dimension.
    VectorDimensionMismatch,
    /// The vector index does not exist.
    VectorIndexNotFound,
    /// The vector database refused the request (bad settings, credentials or index mapping); the message says which.
    VectorStoreError,
    /// The vector database failed or timed out; retry later.
    VectorStoreUnavailable,
    /// The model service refused the request or answered with something unusable (bad
    /// credentials, a reply that is not the protocol's JSON, prose where tags were asked
    /// for); the message says which. Repeating the same request will not help.
    ModelError,
    /// The model service failed, throttled or timed out, and kept doing so after the
    /// connection's retries; retry later.
    ModelUnavailable,
    /// The tag definition does not exist.
    TagDefinitionNotFound,
    /// A tag definition with that name exists already in this workspace.
    TagDefinitionAlreadyExists,
    /// Another request changed the resource since it was read; read it again and retry.
    ConcurrentModification,
    /// A workspace with that name exists already.
    WorkspaceAlreadyExists,
    /// A dataset with that name exists already in this workspace.
    DatasetAlreadyExists,
    /// The metadata store cannot be reached; retry later.
    StoreUnavailable,
    /// The request took longer than the server allows; retry, or ask for less.
    RequestTimeout,
    /// An internal fault; the request id identifies it in the server log.
    InternalError,
}

impl ErrorCode {
    /// The category that decides the HTTP status.
    pub fn category(self) -> Category {
        use ErrorCode::*;
        match self {
            MalformedJson
            | InvalidBody
            | InvalidParameter
            | InvalidName
            | InvalidUri
            | LocalPathNotAllowed
            | InvalidNextToken
            | InvalidQueryExpression => Category::Invalid,
            MissingApiKey | InvalidApiKey => Category::Unauthenticated,
            PermissionDenied => Category::Forbidden,
            RouteNotFound
            | WorkspaceNotFound
            | DatasetNotFound
            | DatasetVersionNotFound
            | ApiKeyNotFound
            | ConnectionNotFound
            | DatasetJobNotFound
            | DatasetFileMetaNotFound
            | TagDefinitionNotFound => Category::NotFound,
            MethodNotAllowed => Category::MethodNotAllowed,
            WorkspaceAlreadyExists
            | DatasetAlreadyExists
            | ConnectionAlreadyExists
            | ConnectionReadOnly
            | TagDefinitionAlreadyExists
            | ConcurrentModification
            | JobConflict
            | VersionNotReady => Category::Conflict,
            StorageError | VectorDimensionMismatch | VectorStoreError | ModelError => {
                Category::Invalid
            }
            VectorIndexNotFound => Category::NotFound,
            InvalidSignature => Category::Forbidden,
            PayloadTooLarge => Category::PayloadTooLarge,
            UnsupportedMediaType => Category::UnsupportedMediaType,
            StoreUnavailable
            | RequestTimeout
            | StorageUnavailable
            | VectorStoreUnavailable
            | ModelUnavailable => Category::Unavailable,
            InternalError => Category::Internal,
        }
    }
}

/// A domain failure: a stable code, a message that tells the client what to fix, and
/// for faults the underlying cause, which is logged but never sent.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    code: ErrorCode,
    message: String,
    #[source]
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error with a code and a client-facing message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            cause: None,
        }
    }

    /// An internal fault. The message and cause go to the log only.
    pub fn internal(
        message: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            code: ErrorCode::InternalError,
            message: message.into(),
            cause: Some(cause.into()),
        }
    }

    /// An error with a code, a client-facing message and a cause that is logged only.
    pub fn with_cause(
        code: ErrorCode,
        message: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            cause: Some(cause.into()),
        }
    }

    /// The store could not be reached.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            code: ErrorCode::StoreUnavailable,
            message: "the metadata store is unavailable, retry later".into(),
            cause: Some(cause.into()),
        }
    }

    /// Shorthand for [`ErrorCode::InvalidParameter`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The category of the code.
    pub fn category(&self) -> Category {
        self.code.category()
    }

    /// The message for the client. For internal faults it is replaced at the edge.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The underlying cause of a fault, for the log.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync)> {
        self.cause.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        let json = serde_json::to_string(&ErrorCode::DatasetNotFound).unwrap();
        assert_eq!(json, "\"DatasetNotFound\"");
    }

    #[test]
    fn internal_errors_keep_their_cause_for_the_log() {
        let err = Error::internal("writing row", std::io::Error::other("disk full"));
        assert_eq!(err.category(), Category::Internal);
        assert_eq!(err.cause().unwrap().to_string(), "disk full");
    }
}
