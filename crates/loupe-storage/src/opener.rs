//! Picks the adapter for a dataset's location, once, from its URI and connection.

use std::sync::Arc;

use loupe_core::connection::OpenedConnection;
use loupe_core::dataset::StorageUri;
use loupe_core::storage::{ObjectStore, StorageOpener};
use loupe_core::{Error, Result};

use crate::{LocalStore, S3Settings, S3Store, Timeouts};

/// Opens S3/OSS locations with their connection, and local folders directly.
#[derive(Debug, Clone, Default)]
pub struct Opener {
    /// Timeouts and retries of every S3 call.
    pub timeouts: Timeouts,
}

impl StorageOpener for Opener {
    fn open(
        &self,
        uri: &StorageUri,
        connection: Option<&OpenedConnection>,
    ) -> Result<Arc<dyn ObjectStore>> {
        let (scheme, bucket, prefix) = match uri {
            StorageUri::File { path } => return Ok(Arc::new(LocalStore::open(path)?)),
            StorageUri::S3 { bucket, prefix } => ("s3", bucket, prefix),
            StorageUri::Oss { bucket, prefix } => ("oss", bucket, prefix),
        };
        let connection = connection
            .ok_or_else(|| Error::invalid("an s3:// or oss:// location needs a connection"))?;
        let config = |name: &str| connection.connection.configs.get(name).cloned();
        let secret = |name: &str| connection.secrets.get(name).cloned();
        let settings = S3Settings {
            endpoint: config("Endpoint"),
            region: config("Region").unwrap_or_else(|| "us-east-1".to_string()),
            path_style: config("AddressingStyle").as_deref() == Some("path"),
            access_key_id: secret("AccessKeyId").unwrap_or_default(),
            secret_access_key: secret("AccessKeySecret").unwrap_or_default(),
            session_token: secret("SessionToken"),
            scheme: scheme.to_string(),
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            timeouts: self.timeouts,
        };
        Ok(Arc::new(S3Store::new(settings)))
    }
}
