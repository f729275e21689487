//! The embedded vector store: one folder per index, one sub-folder per index set, and
//! in it an append-only log of segment files, each one batch of upserts or deletes.
//!
//! A segment is written to a temporary name, fsynced, then renamed into place (and
//! the folder fsynced), so a crash mid-write leaves at most a stray temporary file that
//! is never read: what was committed before stays intact. Opening an index replays its
//! segments in order into a [`FlatIndex`] per set; deleted rows become tombstones.
//!
//! Not yet here: memory-mapped segments, compaction, quantisation, threads per segment.
//! Segments keep the record id and file meta id with each vector; the other seed fields
//! are for the server adapters, whose databases are queried by them.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use loupe_core::vector::{
    dimension_mismatch, index_not_found, IndexSpec, Metric, VectorHit, VectorQuery, VectorRecord,
    VectorStore,
};
use loupe_core::{Error, Result};

use crate::flat::FlatIndex;

const MAGIC: &[u8; 6] = b"LPSEG1";
const OP_UPSERT: u8 = 1;
const OP_DELETE: u8 = 2;

/// One index set in memory.
#[derive(Debug, Default)]
struct IndexSet {
    flat: FlatIndex,
    /// Per row: record id and file meta id.
    rows: Vec<(String, String)>,
    live: Vec<bool>,
    by_id: HashMap<String, usize>,
    by_file: HashMap<String, Vec<usize>>,
    dead: usize,
    segments: u64,
}

impl IndexSet {
    fn new(dim: usize) -> Self {
        Self {
            flat: FlatIndex::new(dim),
            ..Self::default()
        }
    }

    fn kill(&mut self, row: usize) {
        if std::mem::replace(&mut self.live[row], false) {
            self.dead += 1;
        }
    }

    fn upsert(&mut self, id: &str, file_meta_id: &str, vector: &[f32]) {
        if let Some(&old) = self.by_id.get(id) {
            self.kill(old);
        }
        let Some(row) = self.flat.push(vector) else {
            return;
        };
        self.rows.push((id.to_string(), file_meta_id.to_string()));
        self.live.push(true);
        self.by_id.insert(id.to_string(), row);
        self.by_file
            .entry(file_meta_id.to_string())
            .or_default()
            .push(row);
    }

    fn delete_file(&mut self, file_meta_id: &str) {
        for row in self.by_file.remove(file_meta_id).unwrap_or_default() {
            self.kill(row);
            self.by_id.remove(&self.rows[row].0);
        }
    }

    fn count(&self) -> usize {
        self.rows.len() - self.dead
    }
}

#[derive(Debug)]
struct Index {
    spec: IndexSpec,
    sets: HashMap<String, IndexSet>,
}

/// The embedded store under one folder. Every call runs on the blocking pool: scans of a
/// million vectors and fsyncs must not stall the async runtime.
#[derive(Debug, Clone)]
pub struct EmbeddedVectorStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    indexes: RwLock<HashMap<String, Index>>,
}

fn io_error(what: &str, err: std::io::Error) -> Error {
    Error::internal(format!("vector store: {what}"), err)
}

/// Index and set names become folder names: hex keeps any name safe on any file system.
fn folder_name(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` to `path` crash-safely: temporary file, fsync, rename, fsync the folder.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

/// A cursor over a segment's bytes; any short read means a corrupt segment.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn string(&mut self) -> Option<String> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        String::from_utf8(self.take(usize::from(len))?.to_vec()).ok()
    }
}

fn replay(set: &mut IndexSet, bytes: &[u8], dim: usize) -> Option<()> {
    let mut r = Reader(bytes);
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    while !r.0.is_empty() {
        match r.take(1)?[0] {
            OP_UPSERT => {
                let id = r.string()?;
                let file = r.string()?;
                let raw = r.take(dim * 4)?;
                let vector: Vec<f32> = raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                set.upsert(&id, &file, &vector);
            }
            OP_DELETE => {
                let file = r.string()?;
                set.delete_file(&file);
            }
            _ => return None,
        }
    }
    Some(())
}

impl EmbeddedVectorStore {
    /// A store under `root` (created if missing). Indexes load when first ensured.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).map_err(|e| io_error("creating its folder", e))?;
        let inner = Inner {
            root: root.to_path_buf(),
            indexes: RwLock::new(HashMap::new()),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| Error::internal("vector store task", e.to_string()))?
    }
}

impl Inner {
    /// A panic while the lock was held leaves the maps in an unknown state: refuse to go on.
    fn write_indexes(&self) -> Result<std::sync::RwLockWriteGuard<'_, HashMap<String, Index>>> {
        self.indexes
            .write()
            .map_err(|_| Error::internal("vector store", "poisoned lock"))
    }

    fn read_indexes(&self) -> Result<std::sync::RwLockReadGuard<'_, HashMap<String, Index>>> {
        self.indexes
            .read()
            .map_err(|_| Error::internal("vector store", "poisoned lock"))
    }

    fn index_dir(&self, index: &str) -> PathBuf {
        self.root.join(folder_name(index))
    }

    fn load(&self, spec: &IndexSpec) -> Result<Index> {
        let dir = self.index_dir(&spec.name);
        let mut sets = HashMap::new();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(Index {
                spec: spec.clone(),
                sets,
            });
        };
        for entry in entries.flatten().filter(|e| e.path().is_dir()) {
            let name = entry.file_name().to_string_lossy().to_string();
            let set_id: String = (0..name.len() / 2)
                .filter_map(|i| u8::from_str_radix(&name[2 * i..2 * i + 2], 16).ok())
                .map(char::from)
                .collect();
            let mut segments: Vec<PathBuf> = fs::read_dir(entry.path())
                .map_err(|e| io_error("listing segments", e))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "seg"))
                .collect();
            segments.sort();
            let mut set = IndexSet::new(spec.dim);
            for path in &segments {
                let mut bytes = Vec::new();
                File::open(path)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .map_err(|e| io_error("reading a segment", e))?;
                replay(&mut set, &bytes, spec.dim).ok_or_else(|| {
                    Error::internal(
                        "vector store: a segment does not parse",
                        format!("{}", path.display()),
                    )
                })?;
            }
            set.segments = segments.len() as u64;
            sets.insert(set_id, set);
        }
        Ok(Index {
            spec: spec.clone(),
            sets,
        })
    }

    /// Commits one segment to a set's log, then applies it in memory.
    fn commit(&self, index: &str, set_id: &str, segment: &[u8], set: &mut IndexSet) -> Result<()> {
        let dir = self.index_dir(index).join(folder_name(set_id));
        fs::create_dir_all(&dir).map_err(|e| io_error("creating a set folder", e))?;
        let path = dir.join(format!("{:012}.seg", set.segments + 1));
        write_atomically(&path, segment).map_err(|e| io_error("writing a segment", e))?;
        set.segments += 1;
        Ok(())
    }
}

/// The store's operations, run synchronously on the blocking pool.
impl Inner {
    fn ensure_index(&self, spec: &IndexSpec) -> Result<()> {
        let mut indexes = self.write_indexes()?;
        if let Some(existing) = indexes.get(&spec.name) {
            if existing.spec.dim != spec.dim {
                return Err(dimension_mismatch(&spec.name, existing.spec.dim, spec.dim));
            }
            return Ok(());
        }
        let dir = self.index_dir(&spec.name);
        fs::create_dir_all(&dir).map_err(|e| io_error("creating an index folder", e))?;
        let meta = dir.join("index.meta");
        match fs::read_to_string(&meta) {
            Ok(text) => {
                let dim: usize = text
                    .split_whitespace()
                    .next()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0);
                if dim != spec.dim {
                    return Err(dimension_mismatch(&spec.name, dim, spec.dim));
                }
            }
            Err(_) => {
                let metric = match spec.metric {
                    Metric::DotProduct => "dot_product",
                    Metric::Cosine => "cosine",
                };
                write_atomically(&meta, format!("{} {metric}\n", spec.dim).as_bytes())
                    .map_err(|e| io_error("writing index metadata", e))?;
            }
        }
        let loaded = self.load(spec)?;
        indexes.insert(spec.name.clone(), loaded);
        Ok(())
    }

    fn upsert(&self, index: &str, records: &[VectorRecord]) -> Result<()> {
        let mut indexes = self.write_indexes()?;
        let state = indexes
            .get_mut(index)
            .ok_or_else(|| index_not_found(index))?;
        let dim = state.spec.dim;
        if let Some(bad) = records.iter().find(|r| r.file_vector.len() != dim) {
            return Err(dimension_mismatch(index, dim, bad.file_vector.len()));
        }
        let mut by_set: HashMap<&str, Vec<&VectorRecord>> = HashMap::new();
        for record in records {
            by_set
                .entry(record.index_set_id.as_str())
                .or_default()
                .push(record);
        }
        for (set_id, batch) in by_set {
            let mut segment = MAGIC.to_vec();
            for r in &batch {
                segment.push(OP_UPSERT);
                put_str(&mut segment, &r.id);
                put_str(&mut segment, &r.file_meta_id);
                for v in &r.file_vector {
                    segment.extend_from_slice(&v.to_le_bytes());
                }
            }
            let set = state
                .sets
                .entry(set_id.to_string())
                .or_insert_with(|| IndexSet::new(dim));
            self.commit(index, set_id, &segment, set)?;
            for r in batch {
                set.upsert(&r.id, &r.file_meta_id, &r.file_vector);
            }
        }
        Ok(())
    }

    fn delete(
        &self,
        index: &str,
        index_set_id: &str,
        file_meta_ids: Option<&[String]>,
    ) -> Result<()> {
        let mut indexes = self.write_indexes()?;
        let state = indexes
            .get_mut(index)
            .ok_or_else(|| index_not_found(index))?;
        let Some(files) = file_meta_ids else {
            state.sets.remove(index_set_id);
            let dir = self.index_dir(index).join(folder_name(index_set_id));
            return match fs::remove_dir_all(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(io_error("removing a set", e))
                }
                _ => Ok(()),
            };
        };
        let Some(set) = state.sets.get_mut(index_set_id) else {
            return Ok(());
        };
        let mut segment = MAGIC.to_vec();
        for file in files {
            segment.push(OP_DELETE);
            put_str(&mut segment, file);
        }
        self.commit(index, index_set_id, &segment, set)?;
        for file in files {
            set.delete_file(file);
        }
        Ok(())
    }

    fn search(&self, index: &str, query: &VectorQuery<'_>) -> Result<Vec<VectorHit>> {
        let indexes = self.read_indexes()?;
        let state = indexes.get(index).ok_or_else(|| index_not_found(index))?;
        if query.vector.len() != state.spec.dim {
            return Err(dimension_mismatch(
                index,
                state.spec.dim,
                query.vector.len(),
            ));
        }
        let Some(set) = state.sets.get(query.index_set_id) else {
            return Ok(Vec::new());
        };
        let candidates: Option<Vec<usize>> = match query.candidates {
            Some(files) => Some(
                files
                    .iter()
                    .flat_map(|f| set.by_file.get(f).into_iter().flatten().copied())
                    .filter(|&r| set.live[r])
                    .collect(),
            ),
            // Tombstones are skipped by scoring the live rows only.
            None if set.dead > 0 => Some((0..set.rows.len()).filter(|&r| set.live[r]).collect()),
            None => None,
        };
        let hits = set
            .flat
            .search(query.vector, query.k, candidates.as_deref());
        Ok(hits
            .into_iter()
            .map(|h| VectorHit {
                file_meta_id: set.rows[h.row].1.clone(),
                score: h.score,
            })
            .collect())
    }

    fn count(&self, index: &str, index_set_id: &str) -> Result<usize> {
        let indexes = self.read_indexes()?;
        let state = indexes.get(index).ok_or_else(|| index_not_found(index))?;
        Ok(state.sets.get(index_set_id).map_or(0, IndexSet::count))
    }

    fn drop_index(&self, index: &str) -> Result<()> {
        let mut indexes = self.write_indexes()?;
        indexes.remove(index);
        match fs::remove_dir_all(self.index_dir(index)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io_error("removing an index", e))
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl VectorStore for EmbeddedVectorStore {
    async fn ensure_index(&self, spec: &IndexSpec) -> Result<()> {
        let spec = spec.clone();
        self.blocking(move |inner| inner.ensure_index(&spec)).await
    }

    async fn upsert(&self, index: &str, records: &[VectorRecord]) -> Result<()> {
        let (index, records) = (index.to_string(), records.to_vec());
        self.blocking(move |inner| inner.upsert(&index, &records))
            .await
    }

    async fn delete(
        &self,
        index: &str,
        index_set_id: &str,
        file_meta_ids: Option<&[String]>,
    ) -> Result<()> {
        let (index, set, files) = (
            index.to_string(),
            index_set_id.to_string(),
            file_meta_ids.map(<[String]>::to_vec),
        );
        self.blocking(move |inner| inner.delete(&index, &set, files.as_deref()))
            .await
    }

    async fn search(&self, index: &str, query: &VectorQuery<'_>) -> Result<Vec<VectorHit>> {
        let index = index.to_string();
        let (set, vector, k) = (
            query.index_set_id.to_string(),
            query.vector.to_vec(),
            query.k,
        );
        let candidates = query.candidates.map(<[String]>::to_vec);
        self.blocking(move |inner| {
            let query = VectorQuery {
                index_set_id: &set,
                vector: &vector,
                k,
                candidates: candidates.as_deref(),
            };
            inner.search(&index, &query)
        })
        .await
    }

    async fn count(&self, index: &str, index_set_id: &str) -> Result<usize> {
        let (index, set) = (index.to_string(), index_set_id.to_string());
        self.blocking(move |inner| inner.count(&index, &set)).await
    }

    async fn drop_index(&self, index: &str) -> Result<()> {
        let index = index.to_string();
        self.blocking(move |inner| inner.drop_index(&index)).await
    }
}
