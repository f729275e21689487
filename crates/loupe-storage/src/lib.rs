//! Object storage for Loupe: one port, [`ObjectStore`], with two backends.
//!
//! - [`S3Store`] speaks the S3 API and so covers AWS S3, Alibaba OSS (virtual-hosted style with a custom
//!   endpoint) and MinIO-like servers (path style).
//! - [`LocalStore`] serves a folder on this machine and never lets a key leave that folder.
//!
//! Keys are always relative to the location (bucket + prefix, or the local root), `/`-separated, and checked by
//! [`validate_key`] before they reach a backend.

mod key;
mod local;
mod opener;
mod s3;

pub use key::validate_key;
pub use local::LocalStore;
pub use loupe_core::storage::{AccessReport, ObjectMeta, ObjectStore, StorageError};
pub use opener::Opener;
pub use s3::{S3Settings, S3Store, Timeouts};

#[cfg(feature = "testing")]
pub mod testing;

/// What "test connection" says about a first listing: a refused listing is a report,
/// not an error, so the caller learns which permission is missing.
pub(crate) fn access_report(
    location: &str,
    first: Result<Option<String>, StorageError>,
) -> Result<AccessReport, StorageError> {
    match first {
        Ok(sample_key) => {
            let message = match &sample_key {
                Some(key) => format!("listed {location}: found {key}"),
                None => format!("listed {location}: nothing there yet"),
            };
            Ok(AccessReport {
                can_list: true,
                sample_key,
                message,
            })
        }
        Err(err @ StorageError::PermissionDenied { .. }) => Ok(AccessReport {
            can_list: false,
            sample_key: None,
            message: err.to_string(),
        }),
        Err(err) => Err(err),
    }
}
