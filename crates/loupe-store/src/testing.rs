//! Isolated stores for tests: a fresh PostgreSQL schema or a fresh SQLite file per test,
//! migrated, so tests run in parallel without seeing each other's rows.
//!
//! PostgreSQL is found through `LOUPE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the test script starts one when none answers.

use std::str::FromStr;
use std::sync::Arc;

use rand::distributions::{Alphanumeric, DistString};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, PgConnection};

use crate::{Engine, SqlStore, StoreOptions};

/// Where the test PostgreSQL server is.
pub fn postgres_url() -> String {
    std::env::var("LOUPE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A migrated store that lives as long as this value. The SQLite file is deleted on
/// drop; a PostgreSQL schema is dropped by [`TestStore::cleanup`] or left for
/// inspection when a test fails.
pub struct TestStore {
    /// The store.
    pub store: Arc<SqlStore>,
    /// The URL a separate process (the `loupe` binary) can use to reach the same data.
    pub url: String,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    /// A fresh store on the given engine.
    pub async fn new(engine: Engine) -> Self {
        match engine {
            Engine::Postgres => Self::postgres().await,
            Engine::Sqlite => Self::sqlite().await,
        }
    }

    /// A fresh schema in the test PostgreSQL database.
    pub async fn postgres() -> Self {
        let base = postgres_url();
        let schema = format!(
            "t_{}",
            Alphanumeric
                .sample_string(&mut rand::thread_rng(), 16)
                .to_ascii_lowercase()
        );
        let mut admin = PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("test PostgreSQL at {base} does not answer: {e}"));
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .expect("create test schema");
        admin.close().await.ok();
        let options = PgConnectOptions::from_str(&base)
            .expect("test database url")
            .options([("search_path", schema.as_str())]);
        let store = SqlStore::connect_postgres(options, &StoreOptions::default())
            .await
            .expect("connect to test schema");
        store.migrate().await.expect("migrate test schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        Self {
            store: Arc::new(store),
            url,
            schema: Some(schema),
            _dir: None,
        }
    }

    /// A fresh SQLite file in a temporary folder.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("loupe.db");
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url).expect("sqlite url");
        let store = SqlStore::connect_sqlite(options, &StoreOptions::default())
            .await
            .expect("open test sqlite");
        store.migrate().await.expect("migrate test sqlite");
        Self {
            store: Arc::new(store),
            url,
            schema: None,
            _dir: Some(dir),
        }
    }

    /// A second store on the same database that holds every version it searches in
    /// memory (no size bounds), to compare with this one, which answers small versions
    /// through SQL.
    pub async fn memory_indexing_store(&self) -> SqlStore {
        let options = StoreOptions {
            memory_index: crate::MemoryIndexOptions {
                min_files: 0,
                max_files: u64::MAX,
                max_versions: 4,
            },
            ..StoreOptions::default()
        };
        SqlStore::connect(&self.url, &options)
            .await
            .expect("a second store on the test database")
    }

    /// Drops the PostgreSQL schema; call it at the end of a passing test.
    pub async fn cleanup(self) {
        self.store.close().await;
        let Some(schema) = self.schema else { return };
        if let Ok(mut admin) = PgConnection::connect(&postgres_url()).await {
            let _ = admin
                .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                .await;
        }
    }
}

/// Generates one `#[tokio::test]` per engine (in modules `postgres` and `sqlite`) for
/// each named async fn taking `&Fixture`, where the fixture is made by
/// `$start(engine).await` and torn down by its `cleanup().await`.
#[macro_export]
macro_rules! each_engine {
    ($start:path; $($name:ident),* $(,)?) => {
        $crate::each_engine!(@engine postgres, Postgres, $start; $($name),*);
        $crate::each_engine!(@engine sqlite, Sqlite, $start; $($name),*);
    };
    (@engine $module:ident, $engine:ident, $start:path; $($name:ident),*) => {
        mod $module {
            use super::*;

            $(#[tokio::test]
            async fn $name() {
                let fixture = $start($crate::Engine::$engine).await;
                super::$name(&fixture).await;
                fixture.cleanup().await;
            })*
        }
    };
}

impl TestStore {
    /// Every task of a job as `(key, state, attempt)`, ordered by key: what the
    /// exactly-once tests inspect.
    pub async fn task_states(&self, job_id: &str) -> Vec<(String, String, i32)> {
        const SQL: &str =
            "SELECT task_key, state, attempt FROM job_tasks WHERE job_id = $1 ORDER BY task_key";
        crate::pool::on_pool!(self.store, p => sqlx::query_as(SQL)
            .bind(job_id)
            .fetch_all(p)
            .await
            .expect("read job tasks"))
    }
}

impl TestStore {
    /// The sealed secrets of a connection as stored, to prove they are not in clear.
    pub async fn raw_connection_secrets(&self, connection_id: &str) -> Vec<u8> {
        const SQL: &str = "SELECT secrets FROM connections WHERE id = $1";
        crate::pool::on_pool!(self.store, p => sqlx::query_scalar(SQL)
            .bind(connection_id)
            .fetch_one(p)
            .await
            .expect("read connection row"))
    }
}
