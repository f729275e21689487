//! [`S3Store`]: one bucket + prefix on an S3-compatible service. Alibaba OSS goes through here too (virtual-hosted
//! style with its endpoint); only the URI scheme differs.

mod body;
mod sdk_error;
mod settings;

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::Object;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use crate::access_report;
use crate::{validate_key, AccessReport, ObjectMeta, ObjectStore, StorageError};

use self::body::{read_bounded, Overflow};
use self::sdk_error::storage_error;
pub use self::settings::{S3Settings, Timeouts};

/// S3 answers at most this many keys per ListObjectsV2 call, whatever `max-keys` asks for.
const MAX_KEYS_PER_LIST: usize = 1000;

/// An [`ObjectStore`] over one bucket + prefix of an S3-compatible service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    scheme: String,
    bucket: String,
    /// Empty, or the folder with exactly one trailing `/` and no leading one.
    prefix: String,
    /// Bounds reading a response body, which the SDK's operation timeout does not cover.
    body_timeout: Duration,
}

impl S3Store {
    /// A store for `settings`. No request is made; use [`ObjectStore::check`] to test the connection.
    pub fn new(settings: S3Settings) -> Self {
        let client = settings::build_client(&settings);
        let folder = settings.prefix.trim_matches('/');
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        Self {
            client,
            scheme: settings.scheme,
            bucket: settings.bucket,
            prefix,
            body_timeout: settings.timeouts.operation,
        }
    }

    /// The key inside the bucket for a validated relative key.
    fn object_key(&self, key: &str) -> Result<String, StorageError> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    /// One ListObjectsV2 call: the objects of the page and the continuation token, if there is more.
    async fn list_page(
        &self,
        max_keys: usize,
        token: Option<String>,
    ) -> Result<(Vec<ObjectMeta>, Option<String>), StorageError> {
        let prefix = (!self.prefix.is_empty()).then(|| self.prefix.clone());
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix(prefix)
            .max_keys(i32::try_from(max_keys.clamp(1, MAX_KEYS_PER_LIST)).unwrap_or(1))
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|err| storage_error(&err, self.uri_of("")))?;
        let mut page: Vec<ObjectMeta> = output
            .contents()
            .iter()
            .filter_map(|object| self.listed(object))
            .collect();
        page.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let next = match output.is_truncated() {
            Some(true) => output.next_continuation_token().map(str::to_owned),
            _ => None,
        };
        Ok((page, next))
    }

    /// The object view of a listing entry; `None` for folder markers (`dir/`) and keys no call could address.
    fn listed(&self, object: &Object) -> Option<ObjectMeta> {
        let key = object.key()?.strip_prefix(&self.prefix)?;
        if key.is_empty() || key.ends_with('/') {
            return None;
        }
        if let Err(err) = validate_key(key) {
            let location = self.uri_of("");
            tracing::warn!(%location, error = %err, "skipping an object whose key is not addressable");
            return None;
        }
        Some(ObjectMeta {
            key: key.to_owned(),
            size: object
                .size()
                .and_then(|size| u64::try_from(size).ok())
                .unwrap_or(0),
            etag: object.e_tag().map(unquote),
            last_modified_ms: millis(object.last_modified()),
            created_ms: None,
        })
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    fn list(&self, page_size: usize) -> BoxStream<'_, Result<Vec<ObjectMeta>, StorageError>> {
        // The state is `None` once done, else the continuation token (`None` before the first call).
        stream::unfold(
            Some(None),
            move |cursor: Option<Option<String>>| async move {
                let mut token = cursor?;
                loop {
                    let sent = token.clone();
                    let (page, next) = match self.list_page(page_size, token).await {
                        Ok(listed) => listed,
                        Err(err) => return Some((Err(err), None)),
                    };
                    // A server that hands back the token it was sent would make the listing endless.
                    if next.is_some() && next == sent {
                        let err = StorageError::Fatal {
                            what: self.uri_of(""),
                            detail: "the server repeated its continuation token; the listing cannot progress"
                                .to_owned(),
                        };
                        return Some((Err(err), None));
                    }
                    // A page of folder markers only is skipped rather than handed out empty.
                    if page.is_empty() && next.is_some() {
                        token = next;
                        continue;
                    }
                    if page.is_empty() {
                        return None;
                    }
                    return Some((Ok(page), next.map(Some)));
                }
            },
        )
        .boxed()
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, StorageError> {
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.object_key(key)?)
            .send()
            .await
            .map_err(|err| storage_error(&err, self.uri_of(key)))?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: output
                .content_length()
                .and_then(|size| u64::try_from(size).ok())
                .unwrap_or(0),
            etag: output.e_tag().map(unquote),
            last_modified_ms: millis(output.last_modified()),
            created_ms: None,
        })
    }

    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Bytes, StorageError> {
        let object_key = self.object_key(key)?;
        if start >= end {
            return Ok(Bytes::new());
        }
        let sent = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key)
            .range(format!("bytes={start}-{}", end - 1))
            .send()
            .await;
        let output = match sent {
            Ok(output) => output,
            // 416: the range starts at or past the end, which reads as "no bytes left", like a local file.
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|raw| raw.status().as_u16() == 416) =>
            {
                return Ok(Bytes::new())
            }
            Err(err) => return Err(storage_error(&err, self.uri_of(key))),
        };
        read_bounded(
            output.body,
            end - start,
            Overflow::Truncate,
            self.body_timeout,
            &self.uri_of(key),
        )
        .await
    }

    async fn get(&self, key: &str, max_bytes: u64) -> Result<Bytes, StorageError> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key)?)
            .send()
            .await
            .map_err(|err| storage_error(&err, self.uri_of(key)))?;
        let size = output
            .content_length()
            .and_then(|size| u64::try_from(size).ok());
        if let Some(size) = size.filter(|&size| size > max_bytes) {
            return Err(StorageError::TooLarge {
                what: self.uri_of(key),
                size,
                limit: max_bytes,
            });
        }
        read_bounded(
            output.body,
            max_bytes,
            Overflow::Refuse,
            self.body_timeout,
            &self.uri_of(key),
        )
        .await
    }

    async fn presign_get(
        &self,
        key: &str,
        expires: Duration,
    ) -> Result<Option<String>, StorageError> {
        let object_key = self.object_key(key)?;
        let config = PresigningConfig::expires_in(expires).map_err(|err| StorageError::Fatal {
            what: self.uri_of(key),
            detail: format!("cannot presign: {err}"),
        })?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key)
            .presigned(config)
            .await
            .map_err(|err| storage_error(&err, self.uri_of(key)))?;
        Ok(Some(presigned.uri().to_owned()))
    }

    async fn check(&self) -> Result<AccessReport, StorageError> {
        let first_page = self.list_page(1, None).await;
        let sample = first_page.map(|(page, _)| page.into_iter().next().map(|m| m.key));
        access_report(&self.uri_of(""), sample)
    }

    fn uri_of(&self, key: &str) -> String {
        format!("{}://{}/{}{key}", self.scheme, self.bucket, self.prefix)
    }
}

/// S3 sends ETags quoted (`"abc"`); Loupe stores them bare.
fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

fn millis(time: Option<&DateTime>) -> i64 {
    time.and_then(|time| time.to_millis().ok()).unwrap_or(0)
}
