//! Readiness: the store answers and every migration this binary carries is applied.

use loupe_core::{Error, Result};

use crate::errors::db_error;
use crate::pool::{on_pool, SqlStore, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

impl SqlStore {
    pub(crate) async fn readiness(&self) -> Result<()> {
        const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let applied: Vec<i64> = on_pool!(self, p => sqlx::query_scalar(SQL)
            .fetch_all(p)
            .await
            .map_err(db_error)?);
        let migrator = match self.engine() {
            crate::Engine::Postgres => &POSTGRES_MIGRATIONS,
            crate::Engine::Sqlite => &SQLITE_MIGRATIONS,
        };
        let missing: Vec<i64> = migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect();
        if !missing.is_empty() {
            return Err(Error::unavailable(format!(
                "migrations not applied yet: {missing:?}; run `loupe migrate`"
            )));
        }
        Ok(())
    }
}
