//! A bounded disk cache of rendered thumbnails. When a new thumbnail would push the
//! cache over its size, the cache is emptied first: crude, but it bounds the disk a
//! server uses without bookkeeping per entry, and thumbnails are cheap to render again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// Rendered thumbnails on disk, at most `max_bytes` of them.
#[derive(Debug)]
pub struct ThumbnailCache {
    dir: PathBuf,
    max_bytes: u64,
    used: AtomicU64,
}

impl ThumbnailCache {
    /// Opens (and creates) the cache folder and counts what it holds.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut used = 0;
        for entry in std::fs::read_dir(dir)? {
            used += entry?.metadata()?.len();
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            used: AtomicU64::new(used),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!(
            "{}.jpg",
            hex::encode(Sha256::digest(key.as_bytes()))
        ))
    }

    /// The cached thumbnail for `key`, if any.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        tokio::fs::read(self.path(key)).await.ok()
    }

    /// Stores a thumbnail. A failed write only costs a render next time, so it is logged, not returned.
    pub async fn put(&self, key: &str, bytes: &[u8]) {
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return;
        }
        if self.used.load(Ordering::Relaxed) + size > self.max_bytes {
            self.clear().await;
        }
        match tokio::fs::write(self.path(key), bytes).await {
            Ok(()) => {
                self.used.fetch_add(size, Ordering::Relaxed);
            }
            Err(err) => tracing::warn!(error = %err, "cannot write a thumbnail to the cache"),
        }
    }

    async fn clear(&self) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
        self.used.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cache_never_grows_past_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ThumbnailCache::open(dir.path(), 250).unwrap();
        for i in 0..10 {
            cache.put(&format!("k{i}"), &[0u8; 100]).await;
            let on_disk: u64 = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum();
            assert!(on_disk <= 250, "{on_disk} bytes after {i} puts");
        }
        assert!(cache.get("k9").await.is_some(), "the newest entry is kept");
        assert!(cache.get("k0").await.is_none(), "old entries were evicted");
        cache.put("huge", &[0u8; 1000]).await;
        assert!(
            cache.get("huge").await.is_none(),
            "an entry larger than the cache is not kept"
        );
    }
}
