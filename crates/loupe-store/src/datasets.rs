//! Dataset rows.

use loupe_core::dataset::{Dataset, DatasetUpdate};
use loupe_core::ids::{DatasetId, WorkspaceId};
use loupe_core::page::{Cursor, Page, PageRequest};
use loupe_core::store::DatasetFilter;
use loupe_core::time::Timestamp;
use loupe_core::{Error, ErrorCode, Result};

use crate::errors::{dataset_not_found, db_error, unique_as};
use crate::pool::{fetch_page, on_pool, SqlStore};
use crate::rows::{convert_all, enum_name, DatasetRow, DATASET_COLUMNS};

const LIST: &str = "datasets";

impl SqlStore {
    pub(crate) async fn insert_dataset_row(&self, ws: &WorkspaceId, d: &Dataset) -> Result<()> {
        const SQL: &str =
            "INSERT INTO datasets (id, workspace_id, name, description, labels, uri, \
             data_type, property, dataset_type, connection_id, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
        let labels = labels_json(&d.labels)?;
        let conflict = name_taken(&d.name);
        on_pool!(self, p => sqlx::query(SQL)
            .bind(d.dataset_id.as_str())
            .bind(ws.as_str())
            .bind(&d.name)
            .bind(&d.description)
            .bind(&labels)
            .bind(&d.uri)
            .bind(enum_name(&d.data_type))
            .bind(enum_name(&d.property))
            .bind(d.dataset_type.as_str())
            .bind(d.connection_id.as_deref())
            .bind(d.gmt_create_time.millis())
            .bind(d.gmt_modified_time.millis())
            .execute(p)
            .await
            .map(drop)
            .map_err(conflict))
    }

    pub(crate) async fn dataset(&self, ws: &WorkspaceId, id: &DatasetId) -> Result<Dataset> {
        let sql =
            format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE workspace_id = $1 AND id = $2");
        let row: Option<DatasetRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        row.ok_or_else(|| dataset_not_found(id.as_str()))?
            .try_into()
    }

    /// Fails with `DatasetNotFound` unless the dataset is in the workspace.
    pub(crate) async fn ensure_dataset(&self, ws: &WorkspaceId, id: &DatasetId) -> Result<()> {
        const SQL: &str = "SELECT 1 FROM datasets WHERE workspace_id = $1 AND id = $2";
        let found: Option<i32> = on_pool!(self, p => sqlx::query_scalar(SQL)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        found
            .map(drop)
            .ok_or_else(|| dataset_not_found(id.as_str()))
    }

    pub(crate) async fn dataset_page(
        &self,
        ws: &WorkspaceId,
        filter: &DatasetFilter,
        page: &PageRequest,
    ) -> Result<Page<Dataset>> {
        // Case-insensitive substring match; LIKE wildcards in the user's text are escaped.
        const FILTER: &str =
            "workspace_id = $1 AND ($2 IS NULL OR lower(name) LIKE lower($2) ESCAPE '\\')";
        let sql = format!(
            "SELECT {DATASET_COLUMNS} FROM datasets WHERE {FILTER} \
             AND ($3 IS NULL OR created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        );
        let count_sql = format!("SELECT COUNT(*) FROM datasets WHERE {FILTER}");
        let pattern = filter.name_contains.as_deref().map(like_pattern);
        let after = page.after.as_ref();
        let (rows, total): (Vec<DatasetRow>, i64) = fetch_page!(
            self,
            &sql,
            &count_sql,
            [ws.as_str(), pattern.as_deref()],
            [after.map(|c| c.key), after.map(|c| c.id.as_str())],
            page.limit
        );
        let datasets: Vec<Dataset> = convert_all(rows)?;
        Ok(Page::from_overfetch(datasets, page.limit, total, |d| {
            Cursor::new(LIST, d.gmt_create_time.millis(), d.dataset_id.to_string())
        }))
    }

    pub(crate) async fn update_dataset_row(
        &self,
        ws: &WorkspaceId,
        id: &DatasetId,
        update: &DatasetUpdate,
        at: Timestamp,
    ) -> Result<Dataset> {
        let sql = format!(
            "UPDATE datasets SET name = COALESCE($3, name), description = COALESCE($4, description), \
             labels = COALESCE($5, labels), modified_at = $6, \
             index_embedding_connection_id = {}, index_vector_connection_id = {}, index_name = {} \
             WHERE workspace_id = $1 AND id = $2 RETURNING {DATASET_COLUMNS}",
            reset_or_set("index_embedding_connection_id", 7),
            reset_or_set("index_vector_connection_id", 8),
            reset_or_set("index_name", 9),
        );
        let labels = update.labels.as_deref().map(labels_json).transpose()?;
        let conflict = name_taken(update.name.as_deref().unwrap_or_default());
        let index = update.index_config.clone().unwrap_or_default();
        let row: Option<DatasetRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .bind(update.name.as_deref())
            .bind(update.description.as_deref())
            .bind(labels.as_deref())
            .bind(at.millis())
            .bind(index.embedding_connection_id.as_deref())
            .bind(index.vector_connection_id.as_deref())
            .bind(index.index_name.as_deref())
            .fetch_optional(p)
            .await
            .map_err(conflict)?);
        row.ok_or_else(|| dataset_not_found(id.as_str()))?
            .try_into()
    }

    pub(crate) async fn delete_dataset_row(&self, ws: &WorkspaceId, id: &DatasetId) -> Result<()> {
        const SQL: &str = "DELETE FROM datasets WHERE workspace_id = $1 AND id = $2";
        let affected = on_pool!(self, p => sqlx::query(SQL)
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(p)
            .await
            .map_err(db_error)?
            .rows_affected());
        if affected == 0 {
            return Err(dataset_not_found(id.as_str()));
        }
        Ok(())
    }
}

/// An optional column update where `NULL` keeps the value and `''` resets it to the default.
fn reset_or_set(column: &str, param: u8) -> String {
    format!(
        "CASE WHEN ${param} IS NULL THEN {column} WHEN ${param} = '' THEN NULL ELSE ${param} END"
    )
}

fn name_taken(name: &str) -> impl FnOnce(sqlx::Error) -> Error {
    unique_as(
        ErrorCode::DatasetAlreadyExists,
        format!("a dataset named '{name}' exists already in this workspace: choose another Name"),
    )
}

fn labels_json(labels: &[loupe_core::dataset::Label]) -> Result<String> {
    serde_json::to_string(labels).map_err(|e| Error::internal("encoding labels", e))
}

/// `%text%` with `\`, `%` and `_` escaped, for `LIKE … ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
