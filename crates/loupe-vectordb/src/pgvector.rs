//! pgvector adapter: one PostgreSQL table per index, with the seed guide's columns
//! (`id text PRIMARY KEY`, `index_set_id`, `file_meta_id`, `dataset_id`,
//! `dataset_version`, `uri`, `file_vector vector(dim)`), in the schema named by
//! `Configs.Database` (default `public`; used exactly as written, so case matters).
//! Table names follow [`sql::table_name`]: a lowercase identifier is used as is, so a
//! table created by hand with those columns works unchanged.
//!
//! Vectors travel in pgvector's text form (`'[1,0.5]'`) cast to `vector`: it needs no
//! extension-specific binary codec or type-OID lookup, reads back bit for bit (Rust
//! prints the shortest round-trip decimal), and is the form every pgvector version
//! accepts. It costs about twice the bytes of the binary form, which is small next to the
//! round trip.
//!
//! Ranking is by inner product (`<#>`, score = −distance), for cosine indexes too, since
//! Loupe stores normalised vectors. Tables Loupe creates get an HNSW index when the
//! extension is 0.5.0 or newer and the dimension is at most 2000. Plain searches may use
//! it only on pgvector ≥ 0.8, whose iterative scans keep returning hits past the index set
//! filter; older versions, and every search with candidate ids, rank exactly.

mod errors;
pub mod sql;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use loupe_core::vector::{
    dimension_mismatch, index_not_found, refused, IndexSpec, VectorHit, VectorQuery, VectorRecord,
    VectorStore,
};
use loupe_core::vectordb::VectorDbSettings;
use loupe_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;

use crate::retry::{with_retries, Attempt};
use errors::{to_domain, STORE};
use sql::{Names, SearchKind};

/// Connections per store: enough for a build's writers and concurrent searches without
/// crowding a shared server.
const MAX_CONNECTIONS: u32 = 8;

/// The installed extension: its version and the schema of its type and operators.
#[derive(Debug, Clone)]
struct Extension {
    version: (u32, u32, u32),
    names: Names,
}

impl Extension {
    /// HNSW indexes exist from 0.5.0.
    fn has_hnsw(&self) -> bool {
        self.version >= (0, 5, 0)
    }

    /// Iterative index scans, which keep filtered HNSW searches at `k` hits, from 0.8.0.
    fn has_iterative_scan(&self) -> bool {
        self.version >= (0, 8, 0)
    }
}

/// An index table's vector column: its dimension, `None` when the column declares none.
type Dim = Option<usize>;

/// A [`VectorStore`] over PostgreSQL with the pgvector extension.
pub struct PgVectorStore {
    pool: PgPool,
    schema: String,
    max_retries: u32,
    extension: Mutex<Option<Extension>>,
    /// Dimensions of tables seen, by table name; dropped when a statement shows it stale.
    dims: Mutex<HashMap<String, Dim>>,
}

impl std::fmt::Debug for PgVectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgVectorStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Opens the adapter. No connection is made yet: the first call connects, so a server
/// that is down fails that call (after the retries), not the opening.
pub async fn open(settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
    Ok(Arc::new(PgVectorStore::new(settings)?))
}

impl PgVectorStore {
    /// A store for these settings: `Endpoint` is `postgres://host:port/db`, the
    /// credentials come from the secrets, every statement is bounded by the timeout.
    pub fn new(settings: &VectorDbSettings) -> Result<Self> {
        let mut options = PgConnectOptions::from_str(&settings.endpoint).map_err(|_| {
            refused(
                STORE,
                "Configs.Endpoint is not a valid postgres://host:port/database URL",
            )
        })?;
        if let Some(user) = &settings.username {
            options = options.username(user);
        }
        if let Some(password) = &settings.password {
            options = options.password(password);
        }
        let timeout_ms = settings.timeout.as_millis().to_string();
        options = options
            .application_name("loupe")
            .options([("statement_timeout", timeout_ms.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(settings.timeout)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            schema: settings
                .database
                .clone()
                .unwrap_or_else(|| "public".to_string()),
            max_retries: settings.max_retries,
            extension: Mutex::new(None),
            dims: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `op` until it succeeds, fails for good, or the retries are spent.
    async fn retrying<T, F, Fut>(&self, mut op: F) -> std::result::Result<T, sqlx::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, sqlx::Error>>,
    {
        with_retries(self.max_retries, || {
            let attempt = op();
            async move {
                match attempt.await {
                    Ok(value) => Attempt::Ok(value),
                    Err(err) if errors::transient(&err) => {
                        tracing::debug!(error = %err, "pgvector request failed, retrying");
                        Attempt::Retry(err, None)
                    }
                    Err(err) => Attempt::Fail(err),
                }
            }
        })
        .await
    }

    /// The `"schema"."table"` text that `to_regclass` reads.
    fn regclass(&self, table: &str) -> String {
        format!("{}.{}", sql::quote(&self.schema), sql::quote(table))
    }

    /// The installed extension, `None` when the database has none.
    async fn installed_extension(&self) -> Result<Option<Extension>> {
        if let Some(ext) = self.extension.lock().expect("extension lock").clone() {
            return Ok(Some(ext));
        }
        let pool = &self.pool;
        let row: Option<(String, String)> = self
            .retrying(|| sqlx::query_as(sql::INSTALLED_EXTENSION).fetch_optional(pool))
            .await
            .map_err(|e| to_domain(e, "reading the vector extension", None))?;
        let ext = row.map(|(version, schema)| Extension {
            version: sql::parse_version(&version),
            names: Names::new(&self.schema, &schema),
        });
        if let Some(ext) = &ext {
            *self.extension.lock().expect("extension lock") = Some(ext.clone());
        }
        Ok(ext)
    }

    /// The extension, created in the database when the server has it but it is not there yet.
    async fn ensure_extension(&self) -> Result<Extension> {
        if let Some(ext) = self.installed_extension().await? {
            return Ok(ext);
        }
        let pool = &self.pool;
        let available: bool = self
            .retrying(|| sqlx::query_scalar(sql::AVAILABLE_EXTENSION).fetch_one(pool))
            .await
            .map_err(|e| to_domain(e, "looking for the vector extension", None))?;
        if !available {
            return Err(not_installed());
        }
        let created = self
            .retrying(|| sqlx::query("CREATE EXTENSION IF NOT EXISTS vector").execute(pool))
            .await;
        if let Err(err) = created {
            // Another connection created it at the same moment: it is there now.
            if errors::is_creation_race(&err) {
                return self.installed_extension().await?.ok_or_else(not_installed);
            }
            if errors::is_insufficient_privilege(&err) {
                return Err(refused(
                    STORE,
                    "this user may not create the vector extension: ask the database owner or a superuser to run CREATE EXTENSION vector in this database",
                ));
            }
            return Err(to_domain(err, "creating the vector extension", None));
        }
        self.installed_extension().await?.ok_or_else(not_installed)
    }

    /// The extension of a database that holds index tables; without one it holds none.
    async fn extension_for(&self, index: &str) -> Result<Extension> {
        self.installed_extension()
            .await?
            .ok_or_else(|| index_not_found(index))
    }

    /// An index table's `file_vector` column, `None` when the table does not exist.
    async fn vector_column(&self, table: &str) -> Result<Option<Dim>> {
        let (pool, regclass) = (&self.pool, self.regclass(table));
        let what = || format!("reading table {regclass}");
        let column: Option<(String, i32)> = self
            .retrying(|| {
                sqlx::query_as(sql::TABLE_VECTOR_COLUMN)
                    .bind(&regclass)
                    .fetch_optional(pool)
            })
            .await
            .map_err(|e| to_domain(e, &what(), None))?;
        match column {
            Some((type_name, typmod)) if type_name == "vector" => {
                Ok(Some(usize::try_from(typmod).ok()))
            }
            Some((type_name, _)) => Err(refused(
                STORE,
                format!("column file_vector of table {regclass} is {type_name}: Loupe needs type vector"),
            )),
            None => {
                let exists: bool = self
                    .retrying(|| sqlx::query_scalar(sql::TABLE_EXISTS).bind(&regclass).fetch_one(pool))
                    .await
                    .map_err(|e| to_domain(e, &what(), None))?;
                if exists {
                    return Err(refused(
                        STORE,
                        format!("table {regclass} has no file_vector column: give it the seed schema (id, index_set_id, file_meta_id, dataset_id, dataset_version, uri, file_vector vector(dim))"),
                    ));
                }
                Ok(None)
            }
        }
    }

    /// The table and dimension of an existing index; `VectorIndexNotFound` otherwise.
    async fn index_table(&self, index: &str) -> Result<(String, Dim)> {
        let table = sql::table_name(index);
        if let Some(dim) = self.dims.lock().expect("dims lock").get(&table) {
            return Ok((table, *dim));
        }
        let dim = self
            .vector_column(&table)
            .await?
            .ok_or_else(|| index_not_found(index))?;
        self.remember(&table, dim);
        Ok((table, dim))
    }

    fn remember(&self, table: &str, dim: Dim) {
        self.dims
            .lock()
            .expect("dims lock")
            .insert(table.to_string(), dim);
    }

    fn forget(&self, table: &str) {
        self.dims.lock().expect("dims lock").remove(table);
    }

    /// The error for a failed statement on an index; a cached dimension the server
    /// contradicts is dropped, and a vector of `len` values is checked again.
    async fn failed(
        &self,
        index: &str,
        table: &str,
        err: sqlx::Error,
        what: &str,
        len: usize,
    ) -> Error {
        if errors::is_undefined_table(&err) || errors::is_dimension_error(&err) {
            self.forget(table);
        }
        if errors::is_dimension_error(&err) {
            if let Ok((_, Some(dim))) = self.index_table(index).await {
                return dimension_mismatch(index, dim, len);
            }
        }
        to_domain(err, what, Some(index))
    }

    /// Creates the schema when it is missing; its existence is asked first because
    /// `CREATE SCHEMA IF NOT EXISTS` needs the CREATE privilege even when it exists.
    async fn ensure_schema(&self) -> Result<()> {
        let pool = &self.pool;
        let exists: bool = self
            .retrying(|| {
                sqlx::query_scalar(sql::SCHEMA_EXISTS)
                    .bind(&self.schema)
                    .fetch_one(pool)
            })
            .await
            .map_err(|e| to_domain(e, "reading schemas", None))?;
        if exists {
            return Ok(());
        }
        let statement = format!("CREATE SCHEMA IF NOT EXISTS {}", sql::quote(&self.schema));
        self.retrying(|| sqlx::query(&statement).execute(pool))
            .await
            .map_err(|e| {
                to_domain(
                    e,
                    &format!("creating schema '{}' (Configs.Database)", self.schema),
                    None,
                )
            })?;
        Ok(())
    }

    /// Creates an index's table and its indexes in one transaction.
    async fn create_table(
        &self,
        ext: &Extension,
        table: &str,
        dim: usize,
    ) -> std::result::Result<(), sqlx::Error> {
        let hnsw = ext.has_hnsw() && dim <= sql::HNSW_MAX_DIM;
        let statements = ext.names.create_table(table, dim, hnsw);
        let (pool, statements) = (&self.pool, &statements);
        self.retrying(|| async move {
            let mut tx = pool.begin().await?;
            for statement in statements {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            tx.commit().await
        })
        .await
    }
}

fn not_installed() -> Error {
    refused(
        STORE,
        "the vector extension is not installed on this PostgreSQL server: install pgvector there (e.g. the postgresql-<version>-pgvector package) or use a server that has it",
    )
}

/// A vector of finite values, or an error naming what holds the bad one.
fn finite(values: &[f32], what: impl FnOnce() -> String) -> Result<()> {
    if values.iter().all(|v| v.is_finite()) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "{} holds NaN or infinity: pgvector stores finite values only",
        what()
    )))
}

#[async_trait]
impl VectorStore for PgVectorStore {
    async fn ensure_index(&self, spec: &IndexSpec) -> Result<()> {
        if spec.dim == 0 || spec.dim > sql::MAX_DIM {
            return Err(Error::invalid(format!(
                "index '{}' has dimension {}: pgvector takes 1 to {}",
                spec.name,
                spec.dim,
                sql::MAX_DIM
            )));
        }
        let ext = self.ensure_extension().await?;
        let table = sql::table_name(&spec.name);
        // A second try covers another process creating the same table at the same time.
        for _ in 0..2 {
            if let Some(dim) = self.vector_column(&table).await? {
                self.remember(&table, dim);
                return match dim {
                    Some(dim) if dim != spec.dim => {
                        Err(dimension_mismatch(&spec.name, dim, spec.dim))
                    }
                    _ => Ok(()),
                };
            }
            self.ensure_schema().await?;
            match self.create_table(&ext, &table, spec.dim).await {
                Ok(()) => {
                    self.remember(&table, Some(spec.dim));
                    return Ok(());
                }
                Err(err) if errors::is_creation_race(&err) => continue,
                Err(err) => {
                    return Err(to_domain(
                        err,
                        &format!("creating index '{}'", spec.name),
                        None,
                    ))
                }
            }
        }
        Err(refused(
            STORE,
            format!(
                "creating index '{}': the table kept changing, try again",
                spec.name
            ),
        ))
    }

    async fn upsert(&self, index: &str, records: &[VectorRecord]) -> Result<()> {
        let (table, dim) = self.index_table(index).await?;
        for record in records {
            if let Some(dim) = dim {
                if record.file_vector.len() != dim {
                    return Err(dimension_mismatch(index, dim, record.file_vector.len()));
                }
            }
            finite(&record.file_vector, || {
                format!("the vector of record '{}'", record.id)
            })?;
        }
        if records.is_empty() {
            return Ok(());
        }
        let ext = self.extension_for(index).await?;
        // One INSERT may not touch a row twice: the last record of an id wins.
        let mut seen = HashSet::new();
        let mut rows: Vec<(&VectorRecord, String)> = records
            .iter()
            .rev()
            .filter(|r| seen.insert(r.id.as_str()))
            .map(|r| (r, sql::vector_text(&r.file_vector)))
            .collect();
        rows.reverse();
        let statements: Vec<(String, &[(&VectorRecord, String)])> = rows
            .chunks(sql::ROWS_PER_INSERT)
            .map(|chunk| (ext.names.upsert(&table, chunk.len()), chunk))
            .collect();
        let (pool, statements) = (&self.pool, &statements);
        let written = self
            .retrying(|| async move {
                let mut tx = pool.begin().await?;
                for (statement, chunk) in statements {
                    let mut query = sqlx::query(statement);
                    for (r, vector) in chunk.iter() {
                        query = query
                            .bind(&r.id)
                            .bind(&r.index_set_id)
                            .bind(&r.file_meta_id)
                            .bind(&r.dataset_id)
                            .bind(&r.dataset_version)
                            .bind(&r.uri)
                            .bind(vector);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await
            })
            .await;
        match written {
            Ok(()) => Ok(()),
            Err(err) => {
                let len = records[0].file_vector.len();
                Err(self
                    .failed(
                        index,
                        &table,
                        err,
                        &format!("writing to index '{index}'"),
                        len,
                    )
                    .await)
            }
        }
    }

    async fn delete(
        &self,
        index: &str,
        index_set_id: &str,
        file_meta_ids: Option<&[String]>,
    ) -> Result<()> {
        let table = sql::table_name(index);
        let statement = sql::delete(&self.regclass(&table), file_meta_ids.is_some());
        let pool = &self.pool;
        let deleted = self
            .retrying(|| {
                let mut query = sqlx::query(&statement).bind(index_set_id);
                if let Some(ids) = file_meta_ids {
                    query = query.bind(ids);
                }
                query.execute(pool)
            })
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(err) => Err(self
                .failed(
                    index,
                    &table,
                    err,
                    &format!("deleting from index '{index}'"),
                    0,
                )
                .await),
        }
    }

    async fn search(&self, index: &str, query: &VectorQuery<'_>) -> Result<Vec<VectorHit>> {
        let (table, dim) = self.index_table(index).await?;
        if let Some(dim) = dim {
            if query.vector.len() != dim {
                return Err(dimension_mismatch(index, dim, query.vector.len()));
            }
        }
        finite(query.vector, || "the query vector".to_string())?;
        if query.k == 0 || query.candidates.is_some_and(|c| c.is_empty()) {
            return Ok(Vec::new());
        }
        let ext = self.extension_for(index).await?;
        let kind = if query.candidates.is_some() || !ext.has_iterative_scan() {
            SearchKind::Exact {
                candidates: query.candidates.is_some(),
            }
        } else {
            SearchKind::Approximate
        };
        let statement = ext.names.search(&table, kind);
        let vector = sql::vector_text(query.vector);
        let k = i64::try_from(query.k).unwrap_or(i64::MAX);
        let ef_search = sql::ef_search(query.k).to_string();
        let (pool, statement, vector, ef_search) = (&self.pool, &statement, &vector, &ef_search);
        let found = self
            .retrying(|| async move {
                let mut select = sqlx::query(statement)
                    .bind(query.index_set_id)
                    .bind(vector)
                    .bind(k);
                if let Some(candidates) = query.candidates {
                    select = select.bind(candidates);
                }
                if kind != SearchKind::Approximate {
                    return select.fetch_all(pool).await;
                }
                // SET LOCAL lasts for this transaction only, so pooled connections stay clean.
                let mut tx = pool.begin().await?;
                sqlx::query(sql::HNSW_SETTINGS)
                    .bind(ef_search)
                    .execute(&mut *tx)
                    .await?;
                let rows = select.fetch_all(&mut *tx).await?;
                tx.commit().await?;
                Ok(rows)
            })
            .await;
        let rows = match found {
            Ok(rows) => rows,
            Err(err) => {
                let what = format!("searching index '{index}'");
                return Err(self
                    .failed(index, &table, err, &what, query.vector.len())
                    .await);
            }
        };
        rows.iter()
            .map(|row| {
                let file_meta_id: String = row.try_get(0)?;
                let score: f64 = row.try_get(1)?;
                Ok(VectorHit {
                    file_meta_id,
                    score: score as f32,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| to_domain(e, &format!("reading hits of index '{index}'"), Some(index)))
    }

    async fn count(&self, index: &str, index_set_id: &str) -> Result<usize> {
        let table = sql::table_name(index);
        let statement = sql::count(&self.regclass(&table));
        let pool = &self.pool;
        let counted: std::result::Result<i64, sqlx::Error> = self
            .retrying(|| {
                sqlx::query_scalar(&statement)
                    .bind(index_set_id)
                    .fetch_one(pool)
            })
            .await;
        match counted {
            Ok(n) => Ok(usize::try_from(n).unwrap_or(0)),
            Err(err) => Err(self
                .failed(index, &table, err, &format!("counting index '{index}'"), 0)
                .await),
        }
    }

    async fn drop_index(&self, index: &str) -> Result<()> {
        let table = sql::table_name(index);
        let statement = format!("DROP TABLE IF EXISTS {}", self.regclass(&table));
        let pool = &self.pool;
        self.forget(&table);
        self.retrying(|| sqlx::query(&statement).execute(pool))
            .await
            .map_err(|e| to_domain(e, &format!("dropping index '{index}'"), None))?;
        self.forget(&table);
        Ok(())
    }

    async fn check(&self) -> Result<()> {
        let pool = &self.pool;
        self.retrying(|| sqlx::query("SELECT 1").execute(pool))
            .await
            .map_err(|e| to_domain(e, "connecting", None))?;
        if self.installed_extension().await?.is_some() {
            return Ok(());
        }
        let available: bool = self
            .retrying(|| sqlx::query_scalar(sql::AVAILABLE_EXTENSION).fetch_one(pool))
            .await
            .map_err(|e| to_domain(e, "looking for the vector extension", None))?;
        if available {
            Ok(())
        } else {
            Err(not_installed())
        }
    }
}
