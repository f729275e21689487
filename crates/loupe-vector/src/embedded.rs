//! The embedded vector store, Loupe's default: one folder per index, one sub-folder per
//! index set, and in it a log of immutable files named by sequence number:
//! - `NNNNNNNNNNNN.seg`: a batch of upserts (vectors, optional quantised copies, ids),
//!   memory-mapped for search (see [`crate::segment`]);
//! - `NNNNNNNNNNNN.del`: tombstones, the file meta ids deleted at that point;
//! - `MANIFEST`: the files that make up the set, in order.
//!
//! Every write creates its file under a temporary name, fsyncs and renames it, then
//! replaces the manifest the same way. The manifest is the commit point: a crash before
//! it leaves an unlisted file that the next open deletes, so what was committed before
//! stays intact and a batch is either wholly there or not at all.
//!
//! Opening replays the log: an upsert of an existing record id kills the older row, a
//! tombstone kills every row of its file metas. Dead rows are skipped by the scan until
//! compaction rewrites the live rows into one segment, which happens when a set has too
//! many segments or too many dead rows.
//!
//! Each index set has its own lock, so searches run in parallel with each other and
//! with writes to other sets; every call runs on the blocking pool.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use loupe_core::vector::{
    dimension_mismatch, index_not_found, IndexSpec, Metric, VectorHit, VectorQuery, VectorRecord,
    VectorStore,
};
use loupe_core::{Error, Result};

use crate::scan::{self, Block, Pass, Plan};
use crate::segment::{self, Encodings, Row, Segment};
use crate::topk::Hit;

const MANIFEST: &str = "MANIFEST";
/// The largest vector the store takes; embedding models stay far below.
const MAX_DIM: usize = 65_536;
const MANIFEST_HEADER: &str = "loupe-manifest 1";
/// Renamed-away folders waiting to be removed; hex-named folders never start with '.'.
const TRASH_PREFIX: &str = ".trash-";

/// Which quantised copy the first pass of a search reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Quantization {
    /// None: exact f32 scan.
    #[default]
    None,
    /// Half floats, then an exact f32 rerank.
    F16,
    /// Int8, then an exact f32 rerank.
    Int8,
}

impl std::str::FromStr for Quantization {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "f32" => Ok(Self::None),
            "f16" => Ok(Self::F16),
            "int8" | "i8" => Ok(Self::Int8),
            _ => Err(format!(
                "'{s}' is not a quantization: use none, f16 or int8"
            )),
        }
    }
}

/// How the store writes and searches.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedOptions {
    /// The quantised copy new segments carry and searches read first.
    pub quantization: Quantization,
    /// Candidates per wanted hit that a quantised pass hands to the exact rerank.
    pub oversample: usize,
    /// Threads one search may use.
    pub threads: usize,
    /// Compact a set when it has more segments than this.
    pub max_segments: usize,
    /// Compact a set when this share of its rows is dead.
    pub max_dead_ratio: f64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            quantization: Quantization::None,
            oversample: 10,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            max_segments: 32,
            max_dead_ratio: 0.3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Segment,
    Tombstones,
}

impl Kind {
    fn extension(self) -> &'static str {
        match self {
            Kind::Segment => "seg",
            Kind::Tombstones => "del",
        }
    }
}

/// A mapped segment with its liveness.
#[derive(Debug)]
struct Part {
    seg: Segment,
    live: Vec<bool>,
    dead: usize,
    base: usize,
}

/// One index set: its files and what they add up to.
#[derive(Debug)]
struct Set {
    dir: PathBuf,
    dim: usize,
    log: Vec<(u64, Kind)>,
    parts: Vec<Part>,
    /// Record id → global row of its live vector.
    by_id: HashMap<String, usize>,
    /// File meta id → global rows (some may be dead).
    by_file: HashMap<String, Vec<usize>>,
    rows: usize,
    dead: usize,
}

fn io_error(what: &str, err: std::io::Error) -> Error {
    Error::internal(format!("vector store: {what}"), err)
}

/// Index and set names become folder names: hex keeps any name safe on any file system.
fn folder_name(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn file_name(seq: u64, kind: Kind) -> String {
    format!("{seq:012}.{}", kind.extension())
}

/// Removes a folder crash-safely: renamed away first (atomic), then deleted; a crash in
/// between leaves a trash folder that the next open removes, never half a set.
fn remove_folder(dir: &Path) -> std::io::Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    let trash = parent.join(format!(
        "{TRASH_PREFIX}{}",
        dir.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    ));
    match fs::rename(dir, &trash) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    }
    fs::File::open(parent)?.sync_all()?;
    fs::remove_dir_all(trash)
}

impl Set {
    fn empty(dir: PathBuf, dim: usize) -> Self {
        Self {
            dir,
            dim,
            log: Vec::new(),
            parts: Vec::new(),
            by_id: HashMap::new(),
            by_file: HashMap::new(),
            rows: 0,
            dead: 0,
        }
    }

    /// Replays a set's manifest; files it does not list are leftovers of a crash.
    fn open(dir: PathBuf, dim: usize) -> Result<Self> {
        let mut set = Self::empty(dir, dim);
        let manifest = match fs::read_to_string(set.dir.join(MANIFEST)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error("reading a manifest", e)),
        };
        let mut lines = manifest.lines();
        if lines.next().is_some_and(|h| h != MANIFEST_HEADER) {
            return Err(Error::internal(
                "vector store: unknown manifest format",
                set.dir.display().to_string(),
            ));
        }
        for line in lines {
            let parsed = line.split_once(' ').and_then(|(kind, seq)| {
                let kind = match kind {
                    "seg" => Kind::Segment,
                    "del" => Kind::Tombstones,
                    _ => return None,
                };
                Some((seq.parse::<u64>().ok()?, kind))
            });
            let Some((seq, kind)) = parsed else {
                return Err(Error::internal(
                    "vector store: a manifest line does not parse",
                    format!("{}: {line}", set.dir.display()),
                ));
            };
            set.apply_file(seq, kind)?;
        }
        set.remove_unlisted();
        Ok(set)
    }

    fn remove_unlisted(&self) {
        let listed: Vec<String> = self.log.iter().map(|&(s, k)| file_name(s, k)).collect();
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for path in entries.flatten().map(|e| e.path()) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name != MANIFEST && !listed.contains(&name) {
                tracing::info!(file = %path.display(), "vector store: removing a file no manifest lists");
                let _ = fs::remove_file(&path);
            }
        }
    }

    fn path(&self, seq: u64, kind: Kind) -> PathBuf {
        self.dir.join(file_name(seq, kind))
    }

    /// Applies one listed file to the in-memory state.
    fn apply_file(&mut self, seq: u64, kind: Kind) -> Result<()> {
        let path = self.path(seq, kind);
        match kind {
            Kind::Segment => {
                let seg =
                    Segment::open(&path, self.dim).map_err(|e| io_error("opening a segment", e))?;
                self.add_segment(seg);
            }
            Kind::Tombstones => {
                let bytes = fs::read(&path).map_err(|e| io_error("reading tombstones", e))?;
                let files = segment::read_tombstones(&bytes)
                    .map_err(|e| io_error("reading tombstones", e))?;
                for file in &files {
                    self.delete_file(file);
                }
            }
        }
        self.log.push((seq, kind));
        Ok(())
    }

    fn add_segment(&mut self, seg: Segment) {
        let base = self.rows;
        let n = seg.rows();
        let mut killed = Vec::new();
        for (row, (id, file)) in seg.ids.iter().enumerate() {
            let global = base + row;
            if let Some(old) = self.by_id.insert(id.clone(), global) {
                killed.push(old);
            }
            self.by_file.entry(file.clone()).or_default().push(global);
        }
        self.parts.push(Part {
            seg,
            live: vec![true; n],
            dead: 0,
            base,
        });
        self.rows += n;
        for old in killed {
            self.kill(old);
        }
    }

    fn kill(&mut self, global: usize) {
        let i = self.parts.partition_point(|p| p.base <= global) - 1;
        let part = &mut self.parts[i];
        if std::mem::replace(&mut part.live[global - part.base], false) {
            part.dead += 1;
            self.dead += 1;
        }
    }

    fn delete_file(&mut self, file: &str) {
        for global in self.by_file.remove(file).unwrap_or_default() {
            if let Some(id) = self.id_of(global).map(str::to_string) {
                if self.by_id.get(&id) == Some(&global) {
                    self.by_id.remove(&id);
                }
            }
            self.kill(global);
        }
    }

    fn locate(&self, global: usize) -> Option<(&Part, usize)> {
        let i = self
            .parts
            .partition_point(|p| p.base <= global)
            .checked_sub(1)?;
        let part = &self.parts[i];
        (global - part.base < part.seg.rows()).then(|| (part, global - part.base))
    }

    fn id_of(&self, global: usize) -> Option<&str> {
        self.locate(global)
            .map(|(p, row)| p.seg.ids[row].0.as_str())
    }

    fn file_of(&self, global: usize) -> Option<&str> {
        self.locate(global)
            .map(|(p, row)| p.seg.ids[row].1.as_str())
    }

    fn count(&self) -> usize {
        self.rows - self.dead
    }

    fn blocks(&self) -> Vec<Block<'_>> {
        self.parts
            .iter()
            .map(|p| {
                p.seg
                    .block((p.dead > 0).then_some(p.live.as_slice()), p.base)
            })
            .collect()
    }

    fn hits(&self, hits: Vec<Hit>) -> Vec<VectorHit> {
        hits.into_iter()
            .filter_map(|h| {
                Some(VectorHit {
                    file_meta_id: self.file_of(h.row)?.to_string(),
                    score: h.score,
                })
            })
            .collect()
    }

    fn next_seq(&self) -> u64 {
        self.log.last().map_or(1, |(s, _)| s + 1)
    }

    fn write_manifest(&self, log: &[(u64, Kind)]) -> std::io::Result<()> {
        let mut text = format!("{MANIFEST_HEADER}\n");
        for &(seq, kind) in log {
            let tag = if kind == Kind::Segment { "seg" } else { "del" };
            text.push_str(&format!("{tag} {seq}\n"));
        }
        segment::write_atomically(&self.dir.join(MANIFEST), |out| {
            out.write_all(text.as_bytes())
        })
    }

    /// Writes one file, commits it in the manifest, then applies it.
    fn commit(
        &mut self,
        kind: Kind,
        fill: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> std::io::Result<()>,
    ) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| io_error("creating a set folder", e))?;
        let seq = self.next_seq();
        segment::write_atomically(&self.path(seq, kind), fill)
            .map_err(|e| io_error("writing a segment", e))?;
        let mut log = self.log.clone();
        log.push((seq, kind));
        self.write_manifest(&log)
            .map_err(|e| io_error("writing a manifest", e))?;
        self.apply_file(seq, kind)
    }

    fn upsert(&mut self, records: &[&VectorRecord], enc: Encodings) -> Result<()> {
        let rows: Vec<Row> = records
            .iter()
            .map(|r| Row {
                id: &r.id,
                file_meta_id: &r.file_meta_id,
                vector: &r.file_vector,
            })
            .collect();
        let dim = self.dim;
        self.commit(Kind::Segment, |out| segment::write(out, dim, &rows, enc))
    }

    fn delete(&mut self, files: &[String]) -> Result<()> {
        self.commit(Kind::Tombstones, |out| {
            segment::write_tombstones(out, files)
        })
    }

    fn needs_compaction(&self, options: &EmbeddedOptions) -> bool {
        self.parts.len() > options.max_segments
            || (self.dead > 0 && self.dead as f64 > options.max_dead_ratio * self.rows as f64)
    }

    /// Rewrites the live rows into one segment and makes the manifest list only it.
    fn compact(&mut self, enc: Encodings) -> Result<()> {
        let mut rows = Vec::with_capacity(self.count());
        for part in &self.parts {
            let f32 = part.seg.f32();
            for (row, (id, file)) in part
                .seg
                .ids
                .iter()
                .enumerate()
                .filter(|(r, _)| part.live[*r])
            {
                rows.push(Row {
                    id,
                    file_meta_id: file,
                    vector: &f32[row * self.dim..(row + 1) * self.dim],
                });
            }
        }
        let seq = self.next_seq();
        let dim = self.dim;
        segment::write_atomically(&self.path(seq, Kind::Segment), |out| {
            segment::write(out, dim, &rows, enc)
        })
        .map_err(|e| io_error("writing a compacted segment", e))?;
        drop(rows);
        self.write_manifest(&[(seq, Kind::Segment)])
            .map_err(|e| io_error("writing a manifest", e))?;
        let old: Vec<PathBuf> = self.log.iter().map(|&(s, k)| self.path(s, k)).collect();
        let mut fresh = Self::empty(self.dir.clone(), self.dim);
        fresh.apply_file(seq, Kind::Segment)?;
        *self = fresh;
        for path in old {
            let _ = fs::remove_file(path);
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Index {
    spec: IndexSpec,
    dir: PathBuf,
    sets: RwLock<HashMap<String, Arc<RwLock<Set>>>>,
}

/// A panic while a lock was held leaves the state unknown: refuse to go on.
fn poisoned<T>(_: T) -> Error {
    Error::internal("vector store", "poisoned lock")
}

impl Index {
    fn set(&self, id: &str) -> Result<Option<Arc<RwLock<Set>>>> {
        Ok(self.sets.read().map_err(poisoned)?.get(id).cloned())
    }

    fn set_or_create(&self, id: &str) -> Result<Arc<RwLock<Set>>> {
        let mut sets = self.sets.write().map_err(poisoned)?;
        Ok(Arc::clone(sets.entry(id.to_string()).or_insert_with(
            || {
                Arc::new(RwLock::new(Set::empty(
                    self.dir.join(folder_name(id)),
                    self.spec.dim,
                )))
            },
        )))
    }
}

/// The embedded store under one folder.
#[derive(Debug, Clone)]
pub struct EmbeddedVectorStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    options: EmbeddedOptions,
    indexes: RwLock<HashMap<String, Arc<Index>>>,
}

fn read<T>(lock: &RwLock<T>) -> Result<RwLockReadGuard<'_, T>> {
    lock.read().map_err(poisoned)
}

fn write<T>(lock: &RwLock<T>) -> Result<RwLockWriteGuard<'_, T>> {
    lock.write().map_err(poisoned)
}

impl EmbeddedVectorStore {
    /// A store under `root` (created if missing) with default options.
    pub fn open(root: &Path) -> Result<Self> {
        Self::open_with(root, EmbeddedOptions::default())
    }

    /// A store under `root` with these options. Indexes load when first ensured.
    pub fn open_with(root: &Path, options: EmbeddedOptions) -> Result<Self> {
        fs::create_dir_all(root).map_err(|e| io_error("creating its folder", e))?;
        let inner = Inner {
            root: root.to_path_buf(),
            options,
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

    /// Several queries against one index set in one pass over its vectors (exact f32).
    pub async fn search_batch(
        &self,
        index: &str,
        index_set_id: &str,
        queries: Vec<Vec<f32>>,
        k: usize,
    ) -> Result<Vec<Vec<VectorHit>>> {
        let (index, set) = (index.to_string(), index_set_id.to_string());
        self.blocking(move |inner| inner.search_batch(&index, &set, &queries, k))
            .await
    }

    /// Rewrites an index set's live rows into one segment now, whatever the thresholds.
    pub async fn compact(&self, index: &str, index_set_id: &str) -> Result<()> {
        let (index, set) = (index.to_string(), index_set_id.to_string());
        self.blocking(move |inner| {
            let state = inner.index(&index)?;
            if let Some(set) = state.set(&set)? {
                write(&set)?.compact(inner.encodings())?;
            }
            Ok(())
        })
        .await
    }

    /// Segment files an index set currently has (for tests and monitoring).
    pub async fn segment_count(&self, index: &str, index_set_id: &str) -> Result<usize> {
        let (index, set) = (index.to_string(), index_set_id.to_string());
        self.blocking(move |inner| {
            let state = inner.index(&index)?;
            Ok(match state.set(&set)? {
                Some(set) => read(&set)?.parts.len(),
                None => 0,
            })
        })
        .await
    }
}

impl Inner {
    fn encodings(&self) -> Encodings {
        Encodings {
            f16: self.options.quantization == Quantization::F16,
            i8: self.options.quantization == Quantization::Int8,
        }
    }

    fn plan(&self) -> Plan {
        Plan {
            pass: match self.options.quantization {
                Quantization::None => Pass::Exact,
                Quantization::F16 => Pass::F16,
                Quantization::Int8 => Pass::Int8,
            },
            oversample: self.options.oversample,
            threads: self.options.threads,
        }
    }

    fn index_dir(&self, index: &str) -> PathBuf {
        self.root.join(folder_name(index))
    }

    fn index(&self, index: &str) -> Result<Arc<Index>> {
        if let Some(found) = read(&self.indexes)?.get(index).cloned() {
            return Ok(found);
        }
        // An index an earlier run (or another process on this folder) made is on disk
        // but not loaded yet: a search after a restart must find it without an ensure.
        let meta = self.index_dir(index).join("index.meta");
        let Ok(text) = fs::read_to_string(meta) else {
            return Err(index_not_found(index));
        };
        let mut words = text.split_whitespace();
        let dim = words.next().and_then(|d| d.parse().ok()).unwrap_or(0);
        let metric = match words.next() {
            Some("cosine") => Metric::Cosine,
            _ => Metric::DotProduct,
        };
        self.ensure_index(&IndexSpec {
            name: index.to_string(),
            dim,
            metric,
        })?;
        read(&self.indexes)?
            .get(index)
            .cloned()
            .ok_or_else(|| index_not_found(index))
    }

    fn load(&self, spec: &IndexSpec) -> Result<Index> {
        let dir = self.index_dir(&spec.name);
        let mut sets = HashMap::new();
        let entries = fs::read_dir(&dir).map_err(|e| io_error("listing an index", e))?;
        for entry in entries.flatten().filter(|e| e.path().is_dir()) {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(TRASH_PREFIX) {
                let _ = fs::remove_dir_all(entry.path());
                continue;
            }
            let bytes: Option<Vec<u8>> = (0..name.len() / 2)
                .map(|i| u8::from_str_radix(name.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            let Some(set_id) = bytes.and_then(|b| String::from_utf8(b).ok()) else {
                continue;
            };
            let set = Set::open(entry.path(), spec.dim)?;
            sets.insert(set_id, Arc::new(RwLock::new(set)));
        }
        Ok(Index {
            spec: spec.clone(),
            dir,
            sets: RwLock::new(sets),
        })
    }

    fn ensure_index(&self, spec: &IndexSpec) -> Result<()> {
        if spec.dim == 0 || spec.dim > MAX_DIM {
            return Err(Error::invalid(format!(
                "index '{}': a dimension of {} is out of range: use 1 to {MAX_DIM}",
                spec.name, spec.dim
            )));
        }
        let mut indexes = write(&self.indexes)?;
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
                let text = format!("{} {metric}\n", spec.dim);
                segment::write_atomically(&meta, |out| out.write_all(text.as_bytes()))
                    .map_err(|e| io_error("writing index metadata", e))?;
            }
        }
        let loaded = self.load(spec)?;
        indexes.insert(spec.name.clone(), Arc::new(loaded));
        Ok(())
    }

    fn upsert(&self, index: &str, records: &[VectorRecord]) -> Result<()> {
        let state = self.index(index)?;
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
            let set = state.set_or_create(set_id)?;
            let mut set = write(&set)?;
            set.upsert(&batch, self.encodings())?;
            if set.needs_compaction(&self.options) {
                set.compact(self.encodings())?;
            }
        }
        Ok(())
    }

    fn delete(&self, index: &str, index_set_id: &str, files: Option<&[String]>) -> Result<()> {
        let state = self.index(index)?;
        let Some(files) = files else {
            let removed = write(&state.sets)?.remove(index_set_id);
            // Wait for searches of the set to finish before its files go.
            let _guard = removed.as_ref().map(|s| write(s)).transpose()?;
            return remove_folder(&state.dir.join(folder_name(index_set_id)))
                .map_err(|e| io_error("removing a set", e));
        };
        let Some(set) = state.set(index_set_id)? else {
            return Ok(());
        };
        let mut set = write(&set)?;
        if files.is_empty() {
            return Ok(());
        }
        set.delete(files)?;
        if set.needs_compaction(&self.options) {
            set.compact(self.encodings())?;
        }
        Ok(())
    }

    fn search(&self, index: &str, query: &VectorQuery<'_>) -> Result<Vec<VectorHit>> {
        let state = self.index(index)?;
        if query.vector.len() != state.spec.dim {
            return Err(dimension_mismatch(
                index,
                state.spec.dim,
                query.vector.len(),
            ));
        }
        let Some(set) = state.set(query.index_set_id)? else {
            return Ok(Vec::new());
        };
        let set = read(&set)?;
        let blocks = set.blocks();
        let hits = match query.candidates {
            Some(files) => {
                let mut rows: Vec<usize> = files
                    .iter()
                    .flat_map(|f| set.by_file.get(f).into_iter().flatten().copied())
                    .collect();
                // A file named twice must not be ranked twice.
                rows.sort_unstable();
                rows.dedup();
                scan::search_rows(&blocks, query.vector, query.k, &rows)
            }
            None => scan::search(&blocks, query.vector, query.k, &self.plan()),
        };
        Ok(set.hits(hits))
    }

    fn search_batch(
        &self,
        index: &str,
        index_set_id: &str,
        queries: &[Vec<f32>],
        k: usize,
    ) -> Result<Vec<Vec<VectorHit>>> {
        let state = self.index(index)?;
        if let Some(bad) = queries.iter().find(|q| q.len() != state.spec.dim) {
            return Err(dimension_mismatch(index, state.spec.dim, bad.len()));
        }
        let Some(set) = state.set(index_set_id)? else {
            return Ok(queries.iter().map(|_| Vec::new()).collect());
        };
        let set = read(&set)?;
        let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
        let hits = scan::search_batch(&set.blocks(), &refs, k, self.options.threads);
        Ok(hits.into_iter().map(|h| set.hits(h)).collect())
    }

    fn count(&self, index: &str, index_set_id: &str) -> Result<usize> {
        let state = self.index(index)?;
        Ok(match state.set(index_set_id)? {
            Some(set) => read(&set)?.count(),
            None => 0,
        })
    }

    fn drop_index(&self, index: &str) -> Result<()> {
        let removed = write(&self.indexes)?.remove(index);
        if let Some(state) = removed {
            // Wait for every set's readers before the files go.
            let sets = write(&state.sets)?;
            let _guards = sets
                .values()
                .map(|s| write(s))
                .collect::<Result<Vec<_>>>()?;
        }
        remove_folder(&self.index_dir(index)).map_err(|e| io_error("removing an index", e))
    }
}

#[async_trait]
impl VectorStore for EmbeddedVectorStore {
    /// An exact scan has no reason to cap `k`: a filtered search may widen until it has
    /// ranked the whole set.
    fn max_k(&self) -> Option<usize> {
        None
    }

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
