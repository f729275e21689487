//! Connecting to either engine and running migrations.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use loupe_core::{Error, Result};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Notify;

use crate::errors::db_error;
use crate::memory_cache::{IndexCache, MemoryIndexOptions};

pub(crate) static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");
pub(crate) static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// SQLite's default ceiling for `mmap_size` (`SQLITE_MAX_MMAP_SIZE`); larger values are cut to it.
const SQLITE_MMAP_BYTES: u64 = 0x7fff_0000;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL, for production and several replicas.
    Postgres,
    /// SQLite, one file, for a single node.
    Sqlite,
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before the store counts as unavailable.
    pub acquire_timeout: Duration,
    /// Which versions searches answer from memory.
    pub memory_index: MemoryIndexOptions,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            memory_index: MemoryIndexOptions::default(),
        }
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$p` bound to the concrete pool of either engine. The body is
/// compiled once per engine, so sqlx infers each engine's types.
macro_rules! on_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::pool::Pool::Postgres($p) => $body,
            $crate::pool::Pool::Sqlite($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Binds the values of a filter compiled by `loupe_core::query::compile`, in
/// placeholder order.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                loupe_core::query::SqlValue::Text(s) => query.bind(s.as_str()),
                loupe_core::query::SqlValue::Int(i) => query.bind(*i),
                loupe_core::query::SqlValue::Float(f) => query.bind(*f),
            };
        }
        query
    }};
}
pub(crate) use bind_values;

/// One page of a list and the list's total, on either engine. Every list query binds
/// its filters first (`$1…`), then the cursor, then the limit; the count query binds
/// the filters alone. One extra row is fetched to tell whether another page follows.
macro_rules! fetch_page {
    ($store:expr, $sql:expr, $count_sql:expr, [$($filter:expr),*], [$($cursor:expr),*], $limit:expr) => {
        $crate::pool::on_pool!($store, p => {
            let rows = sqlx::query_as($sql)
                $(.bind($filter))*
                $(.bind($cursor))*
                .bind(i64::from($limit) + 1)
                .fetch_all(p)
                .await
                .map_err($crate::errors::db_error)?;
            let total = sqlx::query_scalar($count_sql)
                $(.bind($filter))*
                .fetch_one(p)
                .await
                .map_err($crate::errors::db_error)?;
            (rows, total)
        })
    };
}
pub(crate) use fetch_page;

/// The metadata store on one engine.
pub struct SqlStore {
    pub(crate) pool: Pool,
    /// Woken whenever this process enqueues runnable tasks.
    pub(crate) wake: Arc<Notify>,
    /// In-memory search indexes of large versions.
    pub(crate) indexes: Arc<IndexCache>,
}

impl SqlStore {
    /// Connects to `postgres://…` or `sqlite://…` (the SQLite file is created if missing).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| Error::invalid(format!("database URL is invalid: {e}")))?;
            return Self::connect_postgres(connect, options).await;
        }
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|e| Error::invalid(format!("database URL is invalid: {e}")))?;
            return Self::connect_sqlite(connect, options).await;
        }
        Err(Error::invalid(
            "database URL must start with postgres://, postgresql:// or sqlite://",
        ))
    }

    /// Connects to PostgreSQL with explicit options (tests use them to pick a schema).
    ///
    /// Every session runs without JIT and plans each statement for its values:
    /// - a search over a million files is costed high enough to be JIT-compiled, which
    ///   takes longer than running it (measured: 1.6 s instead of tens of ms);
    /// - a prepared search's generic plan assumes an average tag, while tags differ in
    ///   frequency by orders of magnitude, and the plan that suits a rare tag (start
    ///   from its files) is the wrong one for a tag on most files (walk the sort order).
    pub async fn connect_postgres(
        connect: PgConnectOptions,
        options: &StoreOptions,
    ) -> Result<Self> {
        let connect = connect.options([("jit", "off"), ("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        Ok(Self {
            pool: Pool::Postgres(pool),
            wake: Arc::default(),
            indexes: Arc::new(IndexCache::new(options.memory_index.clone())),
        })
    }

    /// Opens a SQLite file in WAL mode: readers never block the writer, and a busy
    /// timeout makes concurrent writers queue instead of failing. Reads go through a
    /// memory map (up to SQLite's 2 GiB limit) instead of a copy per page: a search over
    /// a million files reads tens of thousands of index pages (measured: about half the
    /// time of a tag search or a count).
    pub async fn connect_sqlite(
        connect: SqliteConnectOptions,
        options: &StoreOptions,
    ) -> Result<Self> {
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
            wake: Arc::default(),
            indexes: Arc::new(IndexCache::new(options.memory_index.clone())),
        })
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        match self.pool {
            Pool::Postgres(_) => Engine::Postgres,
            Pool::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock while it
    /// migrates, so replicas starting together apply each migration once.
    pub async fn migrate(&self) -> Result<()> {
        let outcome = match &self.pool {
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await,
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await,
        };
        outcome.map_err(|e| Error::internal("applying migrations", e))
    }

    /// Woken when new tasks may be runnable: by this process's own enqueues and, on
    /// PostgreSQL once [`SqlStore::listen_for_jobs`] runs, by every replica's.
    pub fn job_wakeups(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// On PostgreSQL, forwards `NOTIFY loupe_jobs` from any replica to [`SqlStore::job_wakeups`]
    /// until the store is closed; on SQLite does nothing (one node, local wake-ups suffice).
    /// Workers poll as well, so a lost notification only delays a task.
    pub async fn listen_for_jobs(&self) -> Result<()> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(());
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool)
            .await
            .map_err(db_error)?;
        listener
            .listen(crate::jobs::JOBS_CHANNEL)
            .await
            .map_err(db_error)?;
        let wake = Arc::clone(&self.wake);
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_waiters(),
                    Err(sqlx::Error::PoolClosed) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "job notification listener failed; relying on polling");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}
