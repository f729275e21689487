//! Each large version's [`MemoryIndex`], used only while it is the version's current
//! content.
//!
//! - Every write to a version's files or tags bumps the version's `content_revision`
//!   in the same transaction, first (so writers queue on the version row in one order).
//! - A search reads that number (one primary-key read) and uses the index built at it.
//!   Otherwise it answers through SQL, and the index is rebuilt in the background from
//!   one snapshot (repeatable read), at most one build per version at a time and at most
//!   a fifth of the time while the version keeps changing (an indexing job).
//! - Each process (API replica, worker) keeps its own; versions below
//!   [`MemoryIndexOptions::min_files`] are left to SQL, which is fast on them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use loupe_core::query::{IndexedFile, MemoryIndex, MemoryIndexBuilder, SearchableFile, TagGroup};
use loupe_core::{Error, Result};

use crate::errors::db_error;
use crate::pool::{on_pool, Pool, SqlStore};

/// Bumps a version's content revision; the first statement of every transaction that
/// changes the version's files or tags.
pub(crate) const BUMP_CONTENT: &str =
    "UPDATE dataset_versions SET content_revision = content_revision + 1 WHERE id = $1";

/// Runs `$body` (which may `.await` and `?`, and writes through `$tx`) in a transaction
/// on `$store`'s pool that first bumps `$version_row`'s content revision, then commits;
/// evaluates to `Result` of the body's value. Every write to a version's files or tags
/// goes through it, so none can forget the bump, and all of them lock the version row
/// first (one lock order). `$begin` replaces the plain `BEGIN` when given.
macro_rules! content_tx {
    ($store:expr, $version_row:expr, |$tx:ident| $body:expr) => {
        $crate::memory_cache::content_tx!($store, $version_row, "BEGIN", |$tx| $body)
    };
    ($store:expr, $version_row:expr, $begin:expr, |$tx:ident| $body:expr) => {
        $crate::pool::on_pool!($store, p => async {
            let mut $tx = p.begin_with($begin).await.map_err($crate::errors::db_error)?;
            sqlx::query($crate::memory_cache::BUMP_CONTENT)
                .bind($version_row)
                .execute(&mut *$tx)
                .await
                .map_err($crate::errors::db_error)?;
            let value = $body;
            $tx.commit().await.map_err($crate::errors::db_error)?;
            Ok::<_, loupe_core::Error>(value)
        }
        .await)
    };
}
pub(crate) use content_tx;

/// When versions get an in-memory index.
#[derive(Debug, Clone)]
pub struct MemoryIndexOptions {
    /// Files from which a version is indexed in memory; `u64::MAX` never indexes.
    pub min_files: u64,
    /// Files above which a version is left to SQL: the index takes about 150 bytes a
    /// file and 2 a tag (measured: see the README's search benchmark).
    pub max_files: u64,
    /// Versions indexed at once; the least recently searched goes first.
    pub max_versions: usize,
}

impl Default for MemoryIndexOptions {
    fn default() -> Self {
        Self {
            min_files: 20_000,
            max_files: 10_000_000,
            max_versions: 4,
        }
    }
}

enum State {
    Building,
    Ready(Arc<MemoryIndex>),
    /// Below `min_files`, or the build failed (logged): SQL answers.
    Unindexed,
}

struct Slot {
    revision: i64,
    state: State,
    used: Instant,
    /// When the last build ended and how long it took, to space builds out.
    last_build: Option<(Instant, Duration)>,
}

/// The indexes of one store.
pub(crate) struct IndexCache {
    options: MemoryIndexOptions,
    slots: Mutex<HashMap<i64, Slot>>,
}

impl IndexCache {
    pub(crate) fn new(options: MemoryIndexOptions) -> Self {
        Self {
            options,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a finished build unless a newer one was stored meanwhile, and evicts the
    /// least recently used indexes beyond `max_versions`.
    fn finish(&self, version_row: i64, revision: i64, state: State, took: Duration) {
        let mut slots = self.slots();
        let now = Instant::now();
        let slot = slots.entry(version_row).or_insert(Slot {
            revision,
            state: State::Building,
            used: now,
            last_build: None,
        });
        slot.revision = revision;
        slot.state = state;
        slot.last_build = Some((now, took));
        let mut ready: Vec<(Instant, i64)> = slots
            .iter()
            .filter(|(_, s)| matches!(s.state, State::Ready(_)))
            .map(|(row, s)| (s.used, *row))
            .collect();
        if ready.len() > self.options.max_versions {
            ready.sort();
            for (_, row) in &ready[..ready.len() - self.options.max_versions] {
                slots.remove(row);
            }
        }
    }
}

impl SqlStore {
    /// The version's in-memory index if it is current; else `None` (search through SQL),
    /// starting a build in the background when one is due.
    pub(crate) async fn current_index(&self, version_row: i64) -> Result<Option<Arc<MemoryIndex>>> {
        if self.indexes.options.min_files == u64::MAX {
            return Ok(None);
        }
        let revision: Option<i64> = on_pool!(self, p => sqlx::query_scalar(REVISION)
            .bind(version_row)
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        let Some(revision) = revision else {
            self.indexes.slots().remove(&version_row);
            return Ok(None);
        };
        let now = Instant::now();
        {
            let mut slots = self.indexes.slots();
            match slots.get_mut(&version_row) {
                Some(slot) if slot.revision == revision => {
                    slot.used = now;
                    return Ok(match &slot.state {
                        State::Ready(index) => Some(Arc::clone(index)),
                        State::Building | State::Unindexed => None,
                    });
                }
                Some(slot) => {
                    let spaced = slot
                        .last_build
                        .is_none_or(|(ended, took)| now.duration_since(ended) >= took * 4);
                    if matches!(slot.state, State::Building) || !spaced {
                        return Ok(None);
                    }
                    slot.state = State::Building;
                }
                None => {
                    slots.insert(
                        version_row,
                        Slot {
                            revision,
                            state: State::Building,
                            used: now,
                            last_build: None,
                        },
                    );
                }
            }
        }
        let (pool, cache) = (self.pool.clone(), Arc::clone(&self.indexes));
        tokio::spawn(async move {
            let started = Instant::now();
            let (revision, state) = match load(&pool, version_row, &cache.options).await {
                Ok((revision, Some(index))) => (revision, State::Ready(Arc::new(index))),
                Ok((revision, None)) => (revision, State::Unindexed),
                Err(err) => {
                    tracing::warn!(version_row, error = %err, "in-memory search index not built; searching through SQL");
                    // A revision no version has: a later search tries again, spaced out.
                    (i64::MIN, State::Unindexed)
                }
            };
            cache.finish(version_row, revision, state, started.elapsed());
        });
        Ok(None)
    }

    /// Builds the version's index now and keeps it; `None` when the version's size is
    /// outside the options' bounds. For benchmarks and tests, which must not race the
    /// background build.
    pub async fn warm_memory_index(&self, version_row: i64) -> Result<Option<Arc<MemoryIndex>>> {
        let started = Instant::now();
        let (revision, index) = load(&self.pool, version_row, &self.indexes.options).await?;
        let index = index.map(Arc::new);
        let state = match &index {
            Some(index) => State::Ready(Arc::clone(index)),
            None => State::Unindexed,
        };
        self.indexes
            .finish(version_row, revision, state, started.elapsed());
        Ok(index)
    }

    /// Whether searches of the version are answered from memory now; when not, a build
    /// may start, as a search would start it.
    pub async fn memory_index_is_current(&self, version_row: i64) -> Result<bool> {
        Ok(self.current_index(version_row).await?.is_some())
    }
}

const REVISION: &str = "SELECT content_revision FROM dataset_versions WHERE id = $1";
const COUNT: &str = "SELECT COUNT(*) FROM file_metas WHERE version_id = $1";
// The three orders are ranked by the database, with its collation, so that pages read
// from memory continue through SQL and back.
const FILES: &str =
    "SELECT file_id, name, dir, size, file_type, content_type, created_at, updated_at, \
     width, height, semantic_index_job_id, semantic_index_update_time, tag_update_time, \
     row_number() OVER (ORDER BY name, file_id), row_number() OVER (ORDER BY updated_at, file_id), \
     row_number() OVER (ORDER BY created_at, file_id) FROM file_metas WHERE version_id = $1";
/// Each tag with its files joined by newlines (ids never hold one: they are hex), so ten
/// million tag rows reach the index as a few thousand (measured on SQLite: 1.4 s instead
/// of half a minute of row-by-row reading).
const TAGS_POSTGRES: &str = "SELECT grp, tag, string_agg(file_id, chr(10)) FROM file_tags \
     WHERE version_id = $1 GROUP BY grp, tag";
const TAGS_SQLITE: &str = "SELECT grp, tag, group_concat(file_id, char(10)) FROM file_tags \
     WHERE version_id = $1 GROUP BY grp, tag";

/// A row of [`FILES`].
type FileRow = (
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Option<i32>,
    Option<i32>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    i64,
);

fn indexed_file(r: FileRow) -> Result<IndexedFile> {
    let rank = |n: i64| {
        u32::try_from(n - 1)
            .map_err(|_| Error::internal("ranking files", format!("row number {n}")))
    };
    Ok(IndexedFile {
        file_id: r.0,
        file: SearchableFile {
            name: r.1,
            dir: r.2,
            size: r.3,
            file_type: r.4,
            content_type: r.5,
            created_at: r.6,
            updated_at: r.7,
            width: r.8.map(i64::from),
            height: r.9.map(i64::from),
            semantic_index_job_id: r.10,
            semantic_index_update_time: r.11,
            tag_update_time: r.12,
            ..SearchableFile::default()
        },
        name_rank: rank(r.13)?,
        update_rank: rank(r.14)?,
        create_rank: rank(r.15)?,
    })
}

fn stored_group(name: &str) -> Result<TagGroup> {
    TagGroup::STORED
        .into_iter()
        .find(|g| g.as_str() == name)
        .ok_or_else(|| Error::internal("reading tags", format!("group {name}")))
}

/// The body of [`load`] on one engine's transaction (compiled once per engine, as
/// `on_pool!` bodies are): revision, count, then files and tags into the builder.
macro_rules! snapshot {
    ($tx:ident, $builder:ident, $row:expr, $sizes:expr, $tags:expr) => {{
        let revision: i64 = sqlx::query_scalar(REVISION)
            .bind($row)
            .fetch_one(&mut *$tx)
            .await
            .map_err(db_error)?;
        let count: i64 = sqlx::query_scalar(COUNT)
            .bind($row)
            .fetch_one(&mut *$tx)
            .await
            .map_err(db_error)?;
        if !$sizes.contains(&u64::try_from(count).unwrap_or(0)) {
            (revision, false)
        } else {
            let mut files = sqlx::query_as::<_, FileRow>(FILES)
                .bind($row)
                .fetch(&mut *$tx);
            while let Some(row) = files.try_next().await.map_err(db_error)? {
                $builder.file(indexed_file(row)?);
            }
            drop(files);
            let mut tags = sqlx::query_as::<_, (String, String, String)>($tags)
                .bind($row)
                .fetch(&mut *$tx);
            while let Some((group, tag, files)) = tags.try_next().await.map_err(db_error)? {
                $builder.tagged(stored_group(&group)?, tag, files.split('\n'));
            }
            drop(tags);
            (revision, true)
        }
    }};
}

/// The version's revision and, unless its size is outside the options' bounds, its
/// index, read in one snapshot.
async fn load(
    pool: &Pool,
    version_row: i64,
    options: &MemoryIndexOptions,
) -> Result<(i64, Option<MemoryIndex>)> {
    let sizes = options.min_files..=options.max_files;
    let mut builder = MemoryIndexBuilder::default();
    let (revision, indexed) = match pool {
        Pool::Postgres(p) => {
            let mut tx = p
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(db_error)?;
            snapshot!(tx, builder, version_row, sizes, TAGS_POSTGRES)
        }
        Pool::Sqlite(p) => {
            let mut tx = p.begin().await.map_err(db_error)?;
            snapshot!(tx, builder, version_row, sizes, TAGS_SQLITE)
        }
    };
    if !indexed {
        return Ok((revision, None));
    }
    let index = tokio::task::spawn_blocking(move || builder.build())
        .await
        .map_err(|e| Error::internal("building the search index", e))?
        .map_err(|e| Error::internal("building the search index", e.0))?;
    Ok((revision, Some(index)))
}
