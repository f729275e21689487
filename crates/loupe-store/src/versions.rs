//! Dataset version rows. Numbers come from a per-dataset counter, so a deleted
//! version's name is never given to a new one.

use loupe_core::ids::{DatasetId, WorkspaceId};
use loupe_core::page::{Cursor, Page, PageRequest};
use loupe_core::time::Timestamp;
use loupe_core::version::{DatasetVersion, VersionName, VersionState};
use loupe_core::{Error, ErrorCode, Result};

use crate::errors::{dataset_not_found, db_error, unique_as};
use crate::jobs::{insert_job_in_tx, insert_task_query, notify_in_tx};
use crate::pool::{fetch_page, on_pool, Engine, SqlStore};
use crate::rows::{convert_all, VersionRow, VERSION_COLUMNS};
use loupe_core::store::NewJobRecord;

const LIST: &str = "versions";

impl SqlStore {
    pub(crate) async fn create_version_row(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        description: &str,
        at: Timestamp,
        build: Option<&NewJobRecord>,
    ) -> Result<DatasetVersion> {
        let engine = self.engine();
        // The counter update comes first: it takes the write lock (row lock on
        // PostgreSQL, database lock on SQLite) before anything is read.
        const BUMP: &str = "UPDATE datasets SET next_version = next_version + 1, modified_at = $3 \
                            WHERE workspace_id = $1 AND id = $2 RETURNING next_version - 1";
        let insert = format!(
            "INSERT INTO dataset_versions (workspace_id, dataset_id, number, description, state, \
             data_count, data_size, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6) RETURNING id, {VERSION_COLUMNS}"
        );
        let row: VersionRow = on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            let number: Option<i64> = sqlx::query_scalar(BUMP)
                .bind(ws.as_str())
                .bind(dataset.as_str())
                .bind(at.millis())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            let number = number.ok_or_else(|| dataset_not_found(dataset.as_str()))?;
            let row: VersionRow = sqlx::query_as(&insert)
                .bind(ws.as_str())
                .bind(dataset.as_str())
                .bind(number)
                .bind(description)
                .bind(VersionState::Pending.as_str())
                .bind(at.millis())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
            if let Some(build) = build {
                let mut record = build.clone();
                record.version = VersionName::from_number(number);
                record.job.dataset_version = record.version.to_string();
                insert_job_in_tx!(tx, ws, record, row.id, at);
                if engine == Engine::Postgres {
                    notify_in_tx!(tx);
                }
            }
            tx.commit().await.map_err(db_error)?;
            Ok::<_, Error>(row)
        }
        .await)?;
        if build.is_some() {
            self.wake.notify_waiters();
        }
        row.try_into()
    }

    pub(crate) async fn version(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Result<DatasetVersion> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM dataset_versions \
             WHERE workspace_id = $1 AND dataset_id = $2 AND number = $3"
        );
        let row: Option<VersionRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(dataset.as_str())
            .bind(name.number())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        match row {
            Some(row) => row.try_into(),
            None => Err(self.version_missing(ws, dataset, name).await),
        }
    }

    /// Tells a missing dataset from a missing version, for an accurate error.
    pub(crate) async fn version_missing(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Error {
        if let Err(err) = self.ensure_dataset(ws, dataset).await {
            return err;
        }
        Error::new(
            ErrorCode::DatasetVersionNotFound,
            format!("dataset version '{name}' not found in dataset '{dataset}'"),
        )
    }

    pub(crate) async fn version_page(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        page: &PageRequest,
    ) -> Result<Page<DatasetVersion>> {
        self.ensure_dataset(ws, dataset).await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM dataset_versions \
             WHERE workspace_id = $1 AND dataset_id = $2 AND number > $3 \
             ORDER BY number LIMIT $4"
        );
        const COUNT: &str =
            "SELECT COUNT(*) FROM dataset_versions WHERE workspace_id = $1 AND dataset_id = $2";
        let after = page.after.as_ref().map_or(0, |c| c.key);
        let (rows, total): (Vec<VersionRow>, i64) = fetch_page!(
            self,
            &sql,
            COUNT,
            [ws.as_str(), dataset.as_str()],
            [after],
            page.limit
        );
        let versions: Vec<DatasetVersion> = convert_all(rows)?;
        Ok(Page::from_overfetch(versions, page.limit, total, |v| {
            Cursor::new(LIST, v.version_name.number(), v.version_name.to_string())
        }))
    }

    pub(crate) async fn set_version_description(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
        description: &str,
        at: Timestamp,
    ) -> Result<DatasetVersion> {
        let sql = format!(
            "UPDATE dataset_versions SET description = $4, modified_at = $5 \
             WHERE workspace_id = $1 AND dataset_id = $2 AND number = $3 RETURNING {VERSION_COLUMNS}"
        );
        let row: Option<VersionRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(dataset.as_str())
            .bind(name.number())
            .bind(description)
            .bind(at.millis())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        match row {
            Some(row) => row.try_into(),
            None => Err(self.version_missing(ws, dataset, name).await),
        }
    }

    pub(crate) async fn delete_version_row(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Result<()> {
        const SQL: &str =
            "DELETE FROM dataset_versions WHERE workspace_id = $1 AND dataset_id = $2 AND number = $3";
        let affected = on_pool!(self, p => sqlx::query(SQL)
            .bind(ws.as_str())
            .bind(dataset.as_str())
            .bind(name.number())
            .execute(p)
            .await
            .map_err(db_error)?
            .rows_affected());
        if affected == 0 {
            return Err(self.version_missing(ws, dataset, name).await);
        }
        Ok(())
    }
}
