//! Job records: create (with their first tasks, in one transaction), read, list, stop,
//! delete, and the failures and logs of a job.

use loupe_core::ids::{DatasetId, JobId, WorkspaceId};
use loupe_core::job::{DatasetJob, JobFailure, JobLog, TaskPayload, DEFAULT_MAX_ATTEMPTS};
use loupe_core::page::{Cursor, Page, PageRequest};
use loupe_core::store::{JobFilter, NewJobRecord, NewTask};
use loupe_core::time::Timestamp;
use loupe_core::version::VersionName;
use loupe_core::{Error, ErrorCode, Result};

use crate::errors::{db_error, unique_as};
use crate::pool::{fetch_page, on_pool, Engine, SqlStore};
use crate::rows::{convert_all, JobRow, JOB_COLUMNS};

/// The channel PostgreSQL workers listen on.
pub(crate) const JOBS_CHANNEL: &str = "loupe_jobs";

/// `NOTIFY` inside a transaction is delivered at commit, so workers wake only for
/// tasks they can see.
macro_rules! notify_in_tx {
    ($tx:expr) => {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind($crate::jobs::JOBS_CHANNEL)
            .execute(&mut *$tx)
            .await
            .map_err(db_error)?;
    };
}
pub(crate) use notify_in_tx;

/// Inserts a job row and its tasks inside an open transaction. Runs on either engine.
macro_rules! insert_job_in_tx {
    ($tx:expr, $ws:expr, $record:expr, $version_row:expr, $at:expr) => {{
        let job = &$record.job;
        let spec = job.job_spec.to_string();
        sqlx::query(
            "INSERT INTO jobs (id, workspace_id, dataset_id, version_id, version_number, action, mode, spec, \
             description, status, idempotency_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(job.dataset_job_id.as_str())
        .bind($ws.as_str())
        .bind(job.dataset_id.as_str())
        .bind($version_row)
        .bind($record.version.number())
        .bind(job.job_action.as_str())
        .bind(job.job_mode.as_str())
        .bind(&spec)
        .bind(&job.description)
        .bind(loupe_core::job::JobStatus::Pending.as_str())
        .bind($record.idempotency_key.as_deref())
        .bind($at.millis())
        .execute(&mut *$tx)
        .await
        .map_err(unique_as(
            ErrorCode::JobConflict,
            format!(
                "a {} job is already pending or running on version {}: wait for it or stop it",
                job.job_action.as_str(),
                $record.version
            ),
        ))?;
        for task in &$record.tasks {
            insert_task_query!(job.dataset_job_id, task, $at)
                .execute(&mut *$tx)
                .await
                .map_err(db_error)?;
        }
    }};
}
pub(crate) use insert_job_in_tx;

/// Inserts one task unless its key exists in the job already.
macro_rules! insert_task_query {
    ($job:expr, $task:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO job_tasks (job_id, task_key, payload, state, attempt, max_attempts, run_after) \
             VALUES ($1, $2, $3, 'queued', 0, $4, $5) ON CONFLICT (job_id, task_key) DO NOTHING",
        )
        .bind($job.as_str())
        .bind($task.key.as_str())
        .bind($task.payload.to_string())
        .bind($task.max_attempts)
        .bind($at.millis())
    };
}
pub(crate) use insert_task_query;

/// The finalize task, added when a job's last work task ends or a stop leaves nothing running.
pub(crate) fn finalize_task() -> NewTask {
    TaskPayload::Finalize.task(DEFAULT_MAX_ATTEMPTS)
}

fn job_not_found(id: &JobId) -> Error {
    Error::new(
        ErrorCode::DatasetJobNotFound,
        format!("dataset job '{id}' not found"),
    )
}

impl SqlStore {
    pub(crate) async fn create_job_row(
        &self,
        ws: &WorkspaceId,
        record: &NewJobRecord,
    ) -> Result<DatasetJob> {
        let job = &record.job;
        if let Some(key) = &record.idempotency_key {
            let earlier: Option<String> = on_pool!(self, p => sqlx::query_scalar(
                "SELECT id FROM jobs WHERE workspace_id = $1 AND idempotency_key = $2")
                .bind(ws.as_str())
                .bind(key)
                .fetch_optional(p)
                .await
                .map_err(db_error)?);
            if let Some(id) = earlier {
                return self.job(ws, &job.dataset_id, &JobId::from_raw(id)).await;
            }
        }
        let (version_row, _) = self
            .version_row_of(ws, &job.dataset_id, record.version)
            .await?;
        let at = job.create_time;
        let engine = self.engine();
        on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            insert_job_in_tx!(tx, ws, record, version_row, at);
            if engine == Engine::Postgres {
                notify_in_tx!(tx);
            }
            tx.commit().await.map_err(db_error)
        }
        .await)?;
        self.wake.notify_waiters();
        self.job(ws, &job.dataset_id, &job.dataset_job_id).await
    }

    pub(crate) async fn job(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
    ) -> Result<DatasetJob> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND dataset_id = $2 AND id = $3");
        let row: Option<JobRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(dataset.as_str())
            .bind(id.as_str())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        match row {
            Some(row) => row.try_into(),
            None => {
                self.ensure_dataset(ws, dataset).await?;
                Err(job_not_found(id))
            }
        }
    }

    pub(crate) async fn job_page(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        filter: &JobFilter,
        page: &PageRequest,
    ) -> Result<Page<DatasetJob>> {
        self.ensure_dataset(ws, dataset).await?;
        const FILTER: &str =
            "workspace_id = $1 AND dataset_id = $2 AND ($3 IS NULL OR version_number = $3) \
                              AND ($4 IS NULL OR action = $4)";
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE {FILTER} \
             AND ($5 IS NULL OR created_at < $5 OR (created_at = $5 AND id < $6)) \
             ORDER BY created_at DESC, id DESC LIMIT $7"
        );
        let count_sql = format!("SELECT COUNT(*) FROM jobs WHERE {FILTER}");
        let version = filter.version.map(VersionName::number);
        let action = filter.action.map(|a| a.as_str());
        let after = page.after.as_ref();
        let (rows, total): (Vec<JobRow>, i64) = fetch_page!(
            self,
            &sql,
            &count_sql,
            [ws.as_str(), dataset.as_str(), version, action],
            [after.map(|c| c.key), after.map(|c| c.id.as_str())],
            page.limit
        );
        let jobs: Vec<DatasetJob> = convert_all(rows)?;
        Ok(Page::from_overfetch(jobs, page.limit, total, |j| {
            Cursor::new("jobs", j.create_time.millis(), j.dataset_job_id.to_string())
        }))
    }

    pub(crate) async fn stop_job_row(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        at: Timestamp,
    ) -> Result<DatasetJob> {
        let job = self.job(ws, dataset, id).await?;
        if job.status.is_final() {
            return Ok(job);
        }
        let finalize = finalize_task();
        let engine = self.engine();
        on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            sqlx::query("UPDATE jobs SET stop_requested = TRUE WHERE id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query(
                "UPDATE job_tasks SET state = 'cancelled', finished_at = $2 \
                 WHERE job_id = $1 AND state = 'queued' AND task_key <> 'finalize'",
            )
            .bind(id.as_str())
            .bind(at.millis())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            let running: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM job_tasks WHERE job_id = $1 AND state = 'running' AND task_key <> 'finalize'",
            )
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
            // With nothing running, nobody else would enqueue the finalize task.
            if running == 0 {
                insert_task_query!(id, finalize, at).execute(&mut *tx).await.map_err(db_error)?;
            }
            if engine == Engine::Postgres {
                notify_in_tx!(tx);
            }
            tx.commit().await.map_err(db_error)
        }
        .await)?;
        self.wake.notify_waiters();
        self.job(ws, dataset, id).await
    }

    pub(crate) async fn delete_job_row(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
    ) -> Result<()> {
        let job = self.job(ws, dataset, id).await?;
        if !job.status.is_final() {
            return Err(Error::new(
                ErrorCode::JobConflict,
                format!(
                    "dataset job '{id}' is {}: stop it first",
                    job.status.as_str()
                ),
            ));
        }
        on_pool!(self, p => sqlx::query("DELETE FROM jobs WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(p)
            .await
            .map(drop)
            .map_err(db_error))
    }

    pub(crate) async fn failure_page(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        page: &PageRequest,
    ) -> Result<Page<JobFailure>> {
        self.job(ws, dataset, id).await?;
        const SQL: &str =
            "SELECT uri, reason, created_at FROM job_failures WHERE job_id = $1 AND uri > $2 \
                           ORDER BY uri LIMIT $3";
        let after = page.after.as_ref().map_or("", |c| c.id.as_str());
        let (rows, total): (Vec<(String, String, i64)>, i64) = fetch_page!(
            self,
            SQL,
            "SELECT COUNT(*) FROM job_failures WHERE job_id = $1",
            [id.as_str()],
            [after],
            page.limit
        );
        let items = rows
            .into_iter()
            .map(|(uri, reason, at)| JobFailure {
                uri,
                reason,
                create_time: Timestamp::from_millis(at),
            })
            .collect();
        Ok(Page::from_overfetch(items, page.limit, total, |f| {
            Cursor::new("failures", 0, f.uri.clone())
        }))
    }

    pub(crate) async fn log_page(
        &self,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        id: &JobId,
        page: &PageRequest,
    ) -> Result<Page<(i64, JobLog)>> {
        self.job(ws, dataset, id).await?;
        const SQL: &str =
            "SELECT id, at, level, message FROM job_logs WHERE job_id = $1 AND id > $2 \
                           ORDER BY id LIMIT $3";
        let after = page.after.as_ref().map_or(0, |c| c.key);
        let (rows, total): (Vec<(i64, i64, String, String)>, i64) = fetch_page!(
            self,
            SQL,
            "SELECT COUNT(*) FROM job_logs WHERE job_id = $1",
            [id.as_str()],
            [after],
            page.limit
        );
        let items = rows
            .into_iter()
            .map(|(row, at, level, message)| {
                let log = JobLog {
                    time: Timestamp::from_millis(at),
                    level,
                    message,
                };
                (row, log)
            })
            .collect();
        Ok(Page::from_overfetch(
            items,
            page.limit,
            total,
            |(row, _)| Cursor::new("logs", *row, row.to_string()),
        ))
    }
}
