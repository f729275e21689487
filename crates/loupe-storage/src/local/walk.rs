//! The paged directory walk behind [`LocalStore::list`](super::LocalStore).
//!
//! The walk keeps its position between pages (directories still to read, entries of the current directory
//! still to visit), so a folder of millions of files is never held in memory at once. All of it is blocking
//! and runs on tokio's blocking pool.

use std::collections::VecDeque;
use std::fs::{self, FileType};
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Arc;

use super::{file_uri, object_meta};
use crate::{ObjectMeta, StorageError};

/// Where a walk stands between two pages.
pub(super) struct Walk {
    root: Arc<PathBuf>,
    /// Keys of directories found but not read yet; `""` is the root.
    dirs: Vec<String>,
    /// Entries of the directories read so far that were not visited yet.
    entries: VecDeque<(String, FileType)>,
}

impl Walk {
    /// A walk that has not read anything yet.
    pub(super) fn new(root: Arc<PathBuf>) -> Self {
        Self {
            root,
            dirs: vec![String::new()],
            entries: VecDeque::new(),
        }
    }

    /// The next page of at most `page_size` objects, sorted by key, or `None` once the walk is done.
    pub(super) fn next_page(
        &mut self,
        page_size: usize,
    ) -> Result<Option<Vec<ObjectMeta>>, StorageError> {
        debug_assert!(page_size > 0);
        let mut page = Vec::new();
        while page.len() < page_size {
            if let Some((key, file_type)) = self.entries.pop_front() {
                page.extend(self.visit(key, file_type)?);
                continue;
            }
            let Some(dir) = self.dirs.pop() else { break };
            self.read_dir(&dir)?;
        }
        if page.is_empty() {
            return Ok(None);
        }
        page.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(Some(page))
    }

    /// Queues the entries of directory `dir`.
    fn read_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        let io_err = |err: std::io::Error| StorageError::from_io(&err, file_uri(&self.root, dir));
        let read = match fs::read_dir(self.root.join(dir)) {
            Ok(read) => read,
            // A subfolder removed while the walk runs is simply gone; a missing root is an error.
            Err(err) if err.kind() == ErrorKind::NotFound && !dir.is_empty() => return Ok(()),
            Err(err) => return Err(io_err(err)),
        };
        let mut found = Vec::new();
        for entry in read {
            let entry = entry.map_err(io_err)?;
            let Ok(name) = entry.file_name().into_string() else {
                tracing::warn!(dir = %file_uri(&self.root, dir), "skipping a file whose name is not utf-8");
                continue;
            };
            // `DirEntry::file_type` does not follow symlinks, which `visit` relies on.
            let file_type = entry.file_type().map_err(io_err)?;
            let key = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            found.push((key, file_type));
        }
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        self.entries.extend(found);
        Ok(())
    }

    /// The object for one entry, if it is one: directories are queued, symlinks are taken only when they point
    /// at a file under the root, everything else (sockets, fifos, devices) is skipped.
    fn visit(
        &mut self,
        key: String,
        file_type: FileType,
    ) -> Result<Option<ObjectMeta>, StorageError> {
        let path = self.root.join(&key);
        if file_type.is_dir() {
            self.dirs.push(key);
            return Ok(None);
        }
        if file_type.is_symlink() {
            let Ok(target) = fs::canonicalize(&path) else {
                return Ok(None); // dangling
            };
            if !target.starts_with(self.root.as_path()) {
                tracing::debug!(key, "skipping a symlink that points outside the root");
                return Ok(None);
            }
        } else if !file_type.is_file() {
            return Ok(None);
        }
        // `metadata` follows the link, so a symlinked directory is seen as one here and never walked into.
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(object_meta(key, &meta))),
            Ok(_) => Ok(None),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None), // removed since it was listed
            Err(err) => Err(StorageError::from_io(&err, file_uri(&self.root, &key))),
        }
    }
}
