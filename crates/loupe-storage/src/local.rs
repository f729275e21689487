//! [`LocalStore`]: a folder on this machine served as an object store.
//!
//! The root is canonicalized once; every key is validated, joined to it and canonicalized again, and the result
//! must still lie under the root. That one check stops `..` tricks and symlinks that point elsewhere.

mod walk;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use crate::access_report;
use crate::{validate_key, AccessReport, ObjectMeta, ObjectStore, StorageError};

use self::walk::Walk;

/// An [`ObjectStore`] over a local folder. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: Arc<PathBuf>,
}

impl LocalStore {
    /// Opens `root`, which must exist and be a directory. It is canonicalized, so keys resolve against the real
    /// folder even when `root` itself goes through a symlink.
    pub fn open(root: &Path) -> Result<Self, StorageError> {
        let what = file_uri(root, "");
        let canonical =
            std::fs::canonicalize(root).map_err(|err| StorageError::from_io(&err, what.clone()))?;
        if !canonical.is_dir() {
            return Err(StorageError::Fatal {
                what,
                detail: "not a directory".to_owned(),
            });
        }
        Ok(Self {
            root: Arc::new(canonical),
        })
    }

    /// The canonical path of `key`'s file, refused when it resolves outside the root. Blocking.
    fn resolve(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        let joined = self.root.join(key);
        let resolved = std::fs::canonicalize(&joined)
            .map_err(|err| StorageError::from_io(&err, self.uri_of(key)))?;
        if !resolved.starts_with(self.root.as_path()) {
            return Err(StorageError::InvalidKey {
                key: key.to_owned(),
                reason: "resolves outside the root".to_owned(),
            });
        }
        Ok(resolved)
    }

    /// Opens `key` for reading and returns the file with its metadata; directories count as missing.
    fn open_file(&self, key: &str) -> Result<(File, std::fs::Metadata), StorageError> {
        let io_err = |err: std::io::Error| StorageError::from_io(&err, self.uri_of(key));
        let file = File::open(self.resolve(key)?).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(StorageError::NotFound {
                what: self.uri_of(key),
            });
        }
        Ok((file, meta))
    }

    /// Runs blocking file-system work off the async runtime.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Self) -> Result<T, StorageError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|err| StorageError::Fatal {
                what: self.uri_of(""),
                detail: format!("file task failed: {err}"),
            })?
    }
}

#[async_trait::async_trait]
impl ObjectStore for LocalStore {
    fn list(&self, page_size: usize) -> BoxStream<'_, Result<Vec<ObjectMeta>, StorageError>> {
        let page_size = page_size.max(1);
        let first = Walk::new(Arc::clone(&self.root));
        stream::unfold(Some(first), move |state| async move {
            let mut walk = state?;
            let joined = tokio::task::spawn_blocking(move || {
                let page = walk.next_page(page_size);
                (walk, page)
            })
            .await;
            match joined {
                Ok((walk, Ok(Some(page)))) => Some((Ok(page), Some(walk))),
                Ok((_, Ok(None))) => None,
                Ok((_, Err(err))) => Some((Err(err), None)),
                Err(err) => {
                    let detail = format!("directory walk failed: {err}");
                    Some((
                        Err(StorageError::Fatal {
                            what: self.uri_of(""),
                            detail,
                        }),
                        None,
                    ))
                }
            }
        })
        .boxed()
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, StorageError> {
        let key = key.to_owned();
        self.blocking(move |store| {
            let (_, meta) = store.open_file(&key)?;
            Ok(object_meta(key, &meta))
        })
        .await
    }

    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Bytes, StorageError> {
        let key = key.to_owned();
        self.blocking(move |store| {
            let (mut file, meta) = store.open_file(&key)?;
            let wanted = end
                .saturating_sub(start)
                .min(meta.len().saturating_sub(start));
            let io_err = |err: std::io::Error| StorageError::from_io(&err, store.uri_of(&key));
            let mut buf = Vec::with_capacity(usize::try_from(wanted).unwrap_or(0));
            file.seek(SeekFrom::Start(start)).map_err(io_err)?;
            // `take` bounds the read even if the file grew since the metadata was read.
            file.take(end.saturating_sub(start))
                .read_to_end(&mut buf)
                .map_err(io_err)?;
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn get(&self, key: &str, max_bytes: u64) -> Result<Bytes, StorageError> {
        let key = key.to_owned();
        self.blocking(move |store| {
            let (file, meta) = store.open_file(&key)?;
            let too_large = |size| StorageError::TooLarge {
                what: store.uri_of(&key),
                size,
                limit: max_bytes,
            };
            if meta.len() > max_bytes {
                return Err(too_large(meta.len()));
            }
            let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
            // One byte over the limit is enough to tell that the file grew past it while reading.
            let read = file.take(max_bytes.saturating_add(1)).read_to_end(&mut buf);
            read.map_err(|err| StorageError::from_io(&err, store.uri_of(&key)))?;
            if buf.len() as u64 > max_bytes {
                return Err(too_large(buf.len() as u64));
            }
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn presign_get(
        &self,
        key: &str,
        _expires: Duration,
    ) -> Result<Option<String>, StorageError> {
        validate_key(key)?;
        Ok(None)
    }

    async fn check(&self) -> Result<AccessReport, StorageError> {
        let first_page = self.list(1).next().await.transpose();
        let sample = first_page.map(|page| page.and_then(|p| p.into_iter().next()).map(|m| m.key));
        access_report(&self.uri_of(""), sample)
    }

    fn uri_of(&self, key: &str) -> String {
        file_uri(&self.root, key)
    }
}

/// `file://` + the absolute root + `/key`.
fn file_uri(root: &Path, key: &str) -> String {
    let root = root.to_string_lossy();
    format!("file://{}/{key}", root.trim_end_matches('/'))
}

/// The object view of a file's metadata.
fn object_meta(key: String, meta: &std::fs::Metadata) -> ObjectMeta {
    ObjectMeta {
        key,
        size: meta.len(),
        etag: None,
        last_modified_ms: meta.modified().map(millis_since_epoch).unwrap_or(0),
        created_ms: meta.created().ok().map(millis_since_epoch),
    }
}

fn millis_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}
