//! The object storage port: what Loupe needs from any object store (S3, OSS, MinIO, a
//! local folder). Adapters live in `loupe-storage`.

use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;

/// One object (file) under a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Path relative to the location root, `/`-separated, never starting with `/`.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The S3 ETag without quotes; `None` for local files.
    pub etag: Option<String>,
    /// Last modification, in milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// Local: the file's birth time when the OS reports one. S3: `None`.
    pub created_ms: Option<i64>,
}

/// What a "test connection" found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReport {
    /// Whether listing the location worked.
    pub can_list: bool,
    /// One key found by the listing, if the location holds any object.
    pub sample_key: Option<String>,
    /// A one-line, human-readable summary.
    pub message: String,
}

/// Read access to the objects under one location (a bucket + prefix, or a local folder).
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Streams every object under the location in pages of at most `page_size` entries (S3: ListObjectsV2
    /// with continuation tokens; local: a recursive directory walk that never follows symlinked directories
    /// and skips symlinked files whose target is outside the root). Keys are sorted within a page. The stream
    /// ends after the first error.
    fn list(&self, page_size: usize) -> BoxStream<'_, Result<Vec<ObjectMeta>, StorageError>>;

    /// The metadata of one object.
    async fn head(&self, key: &str) -> Result<ObjectMeta, StorageError>;

    /// Bytes `[start, end)` of the object; fewer at end of file; never reads the whole object.
    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Bytes, StorageError>;

    /// The whole object, refused with [`StorageError::TooLarge`] above `max_bytes` (checked before reading
    /// when the size is known).
    async fn get(&self, key: &str, max_bytes: u64) -> Result<Bytes, StorageError>;

    /// A presigned GET URL valid for `expires`, or `None` when the backend has none (local folders: Loupe
    /// signs its own links).
    async fn presign_get(
        &self,
        key: &str,
        expires: Duration,
    ) -> Result<Option<String>, StorageError>;

    /// "Test connection": lists at most one object and reports what worked. A refused listing is reported
    /// (`can_list: false`); other failures are errors.
    async fn check(&self) -> Result<AccessReport, StorageError>;

    /// The full URI of a key, e.g. `s3://bucket/prefix/key`, `oss://…` or `file:///root/key`. An empty key
    /// gives the URI of the location itself.
    fn uri_of(&self, key: &str) -> String;
}

/// Why a storage call failed. Every message names the object or location involved (as a URI when there is
/// one) and never carries credentials.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object, bucket or folder does not exist (HTTP 404, missing file).
    #[error("{what} not found")]
    NotFound {
        /// The object or location, usually its URI.
        what: String,
    },
    /// The credentials or file permissions do not allow the call (HTTP 403, `EACCES`).
    #[error("permission denied on {what}: {detail}")]
    PermissionDenied {
        /// The object or location, usually its URI.
        what: String,
        /// What the backend said.
        detail: String,
    },
    /// The key could address something outside the location, or is not a key at all.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Why it was refused.
        reason: String,
    },
    /// The object is larger than the caller allowed.
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The object, usually its URI.
        what: String,
        /// Its size, or the bytes read before giving up when the size was not known up front.
        size: u64,
        /// The limit the caller set.
        limit: u64,
    },
    /// A failure that may pass if the call is repeated later: 5xx, 429, throttling, timeouts, dropped
    /// connections.
    #[error("temporary failure on {what}: {detail}")]
    Retryable {
        /// The object or location, usually its URI.
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// Anything else; repeating the call will not help (bad configuration, HTTP 400, ...).
    #[error("storage failure on {what}: {detail}")]
    Fatal {
        /// The object or location, usually its URI.
        what: String,
        /// What went wrong.
        detail: String,
    },
}

impl StorageError {
    /// Whether the same call may succeed when tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// Maps a file-system error on `what` to the matching variant.
    pub fn from_io(err: &std::io::Error, what: String) -> Self {
        use std::io::ErrorKind;
        match err.kind() {
            // A path through a regular file (`file.jpg/x`) is as missing as a missing file.
            ErrorKind::NotFound | ErrorKind::NotADirectory => Self::NotFound { what },
            ErrorKind::PermissionDenied => Self::PermissionDenied {
                what,
                detail: err.to_string(),
            },
            ErrorKind::Interrupted | ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                Self::Retryable {
                    what,
                    detail: err.to_string(),
                }
            }
            _ => Self::Fatal {
                what,
                detail: err.to_string(),
            },
        }
    }
}

/// Opens the object store behind a dataset's storage URI.
pub trait StorageOpener: Send + Sync + 'static {
    /// `s3://` and `oss://` need the dataset's object-store connection; `file://` needs none.
    fn open(
        &self,
        uri: &crate::dataset::StorageUri,
        connection: Option<&crate::connection::OpenedConnection>,
    ) -> crate::Result<std::sync::Arc<dyn ObjectStore>>;
}

impl From<StorageError> for crate::Error {
    fn from(err: StorageError) -> Self {
        let code = if err.is_retryable() {
            crate::ErrorCode::StorageUnavailable
        } else {
            crate::ErrorCode::StorageError
        };
        crate::Error::new(code, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_retryable_is_retryable() {
        let what = || "s3://b/k".to_owned();
        assert!(StorageError::Retryable {
            what: what(),
            detail: "503".into()
        }
        .is_retryable());
        assert!(!StorageError::Fatal {
            what: what(),
            detail: "400".into()
        }
        .is_retryable());
        assert!(!StorageError::NotFound { what: what() }.is_retryable());
    }

    #[test]
    fn messages_are_lowercase_and_name_the_object() {
        let err = StorageError::TooLarge {
            what: "s3://b/k".into(),
            size: 10,
            limit: 5,
        };
        assert_eq!(err.to_string(), "s3://b/k is 10 bytes, over the limit of 5");
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            StorageError::from_io(&io, "file:///r/a".into()).to_string(),
            "file:///r/a not found"
        );
    }
}
