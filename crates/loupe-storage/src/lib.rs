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
