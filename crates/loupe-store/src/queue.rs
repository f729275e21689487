//! The worker side of the job queue: claim under a lease, heartbeat, finish, all
//! fenced by attempt number, so a worker that lost its lease can change nothing.

use loupe_core::ids::{DatasetId, JobId, WorkspaceId};
use loupe_core::job::{JobAction, JobMode, JobStatus, FINALIZE_TASK};
use loupe_core::store::{
    ClaimedTask, FileCounts, JobContext, JobTally, Lease, NewTask, TaskOutcome,
};
use loupe_core::time::Timestamp;
use loupe_core::version::VersionName;
use loupe_core::{Error, Result};

use crate::errors::db_error;
use crate::jobs::{finalize_task, insert_task_query, notify_in_tx};
use crate::pool::{on_pool, Engine, SqlStore};

/// Picks the next runnable task. On PostgreSQL `SKIP LOCKED` lets many workers claim
/// at once without waiting on each other; on SQLite the single statement is atomic
/// because SQLite runs one writer at a time.
fn claim_sql(engine: Engine) -> String {
    let lock = match engine {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    format!(
        "UPDATE job_tasks SET state = 'running', attempt = attempt + 1, lease_expires_at = $2 \
         WHERE id = (SELECT id FROM job_tasks \
                     WHERE (state = 'queued' AND run_after <= $1) OR (state = 'running' AND lease_expires_at < $1) \
                     ORDER BY run_after, id LIMIT 1 {lock}) \
         RETURNING id, job_id, task_key, payload, attempt, max_attempts"
    )
}

type ClaimRow = (i64, String, String, String, i32, i32);
type ContextRow = (String, String, String, i64, i64, String, String, String);

impl SqlStore {
    pub(crate) async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedTask>> {
        let sql = claim_sql(self.engine());
        let claimed: Option<ClaimRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(now.millis())
            .bind(lease_until.millis())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        let Some((task_id, job_id, key, payload, attempt, max_attempts)) = claimed else {
            return Ok(None);
        };
        const CONTEXT: &str =
            "SELECT workspace_id, id, dataset_id, version_id, version_number, action, mode, spec \
                               FROM jobs WHERE id = $1";
        const START: &str = "UPDATE jobs SET status = 'Running', started_at = $2 WHERE id = $1 AND status = 'Pending'";
        let context: ContextRow = on_pool!(self, p => {
            sqlx::query(START).bind(&job_id).bind(now.millis()).execute(p).await.map_err(db_error)?;
            sqlx::query_as(CONTEXT).bind(&job_id).fetch_one(p).await.map_err(db_error)?
        });
        let (ws, job, dataset, version_row, version_number, action, mode, spec) = context;
        Ok(Some(ClaimedTask {
            task_id,
            key,
            attempt,
            max_attempts,
            payload: serde_json::from_str(&payload)
                .map_err(|e| Error::internal("reading task payload", e))?,
            job: JobContext {
                workspace_id: WorkspaceId::from_raw(ws),
                job_id: JobId::from_raw(job),
                dataset_id: DatasetId::from_raw(dataset),
                version_row,
                version: VersionName::from_number(version_number),
                action: JobAction::from_stored(&action)?,
                mode: JobMode::from_stored(&mode)?,
                spec: serde_json::from_str(&spec).unwrap_or_default(),
            },
        }))
    }

    pub(crate) async fn beat(
        &self,
        task_id: i64,
        attempt: i32,
        lease_until: Timestamp,
    ) -> Result<Lease> {
        const SQL: &str = "UPDATE job_tasks SET lease_expires_at = $3 \
                           WHERE id = $1 AND attempt = $2 AND state = 'running' \
                           RETURNING (SELECT stop_requested FROM jobs WHERE jobs.id = job_tasks.job_id)";
        let stop: Option<bool> = on_pool!(self, p => sqlx::query_scalar(SQL)
            .bind(task_id)
            .bind(attempt)
            .bind(lease_until.millis())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        Ok(match stop {
            Some(stop) => Lease::Held { stop },
            None => Lease::Lost,
        })
    }

    pub(crate) async fn finish(
        &self,
        task_id: i64,
        attempt: i32,
        outcome: &TaskOutcome,
        at: Timestamp,
    ) -> Result<bool> {
        const FENCE: &str =
            "WHERE id = $1 AND attempt = $2 AND state = 'running' RETURNING job_id, task_key";
        let (sql, error, run_after, counts) = match outcome {
            TaskOutcome::Succeeded { completed, failed } => (
                format!("UPDATE job_tasks SET state = 'succeeded', finished_at = $3, lease_expires_at = NULL, last_error = $4 {FENCE}"),
                None,
                at,
                (*completed, *failed),
            ),
            TaskOutcome::Retry { error, run_after } => (
                format!("UPDATE job_tasks SET state = 'queued', run_after = $3, lease_expires_at = NULL, last_error = $4 {FENCE}"),
                Some(error.as_str()),
                *run_after,
                (0, 0),
            ),
            TaskOutcome::Failed { error } => (
                format!("UPDATE job_tasks SET state = 'failed', finished_at = $3, lease_expires_at = NULL, last_error = $4 {FENCE}"),
                Some(error.as_str()),
                at,
                (0, 0),
            ),
        };
        let ended = !matches!(outcome, TaskOutcome::Retry { .. });
        let finalize = finalize_task();
        let engine = self.engine();
        let fenced: bool = on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            let row: Option<(String, String)> = sqlx::query_as(&sql)
                .bind(task_id)
                .bind(attempt)
                .bind(run_after.millis())
                .bind(error)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            let Some((job_id, key)) = row else {
                return Ok::<_, Error>(false);
            };
            let job = JobId::from_raw(job_id);
            if counts != (0, 0) {
                sqlx::query("UPDATE jobs SET completed_files = completed_files + $2, failed_files = failed_files + $3 WHERE id = $1")
                    .bind(job.as_str())
                    .bind(counts.0)
                    .bind(counts.1)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            if ended && key == FINALIZE_TASK {
                if let TaskOutcome::Failed { error } = outcome {
                    sqlx::query("UPDATE jobs SET status = 'Failed', message = $2, finished_at = $3 WHERE id = $1")
                        .bind(job.as_str())
                        .bind(error)
                        .bind(at.millis())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                }
            } else if ended {
                let open: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM job_tasks WHERE job_id = $1 AND state IN ('queued', 'running') AND task_key <> 'finalize'",
                )
                .bind(job.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
                if open == 0 {
                    insert_task_query!(job, finalize, at).execute(&mut *tx).await.map_err(db_error)?;
                    if engine == Engine::Postgres {
                        notify_in_tx!(tx);
                    }
                }
            }
            tx.commit().await.map_err(db_error)?;
            Ok(true)
        }
        .await)?;
        self.wake.notify_waiters();
        Ok(fenced)
    }

    pub(crate) async fn enqueue(
        &self,
        job: &JobId,
        tasks: &[NewTask],
        at: Timestamp,
    ) -> Result<()> {
        let engine = self.engine();
        on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            for task in tasks {
                insert_task_query!(job, task, at).execute(&mut *tx).await.map_err(db_error)?;
            }
            if engine == Engine::Postgres {
                notify_in_tx!(tx);
            }
            tx.commit().await.map_err(db_error)
        }
        .await)?;
        self.wake.notify_waiters();
        Ok(())
    }

    pub(crate) async fn set_total(&self, job: &JobId, total: i64) -> Result<()> {
        on_pool!(self, p => sqlx::query("UPDATE jobs SET total_files = $2 WHERE id = $1")
            .bind(job.as_str())
            .bind(total)
            .execute(p)
            .await
            .map(drop)
            .map_err(db_error))
    }

    pub(crate) async fn record_failure_rows(
        &self,
        job: &JobId,
        failures: &[(String, String)],
        at: Timestamp,
    ) -> Result<()> {
        const SQL: &str =
            "INSERT INTO job_failures (job_id, uri, reason, created_at) VALUES ($1, $2, $3, $4) \
                           ON CONFLICT (job_id, uri) DO UPDATE SET reason = excluded.reason";
        on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            for (uri, reason) in failures {
                sqlx::query(SQL)
                    .bind(job.as_str())
                    .bind(uri)
                    .bind(reason)
                    .bind(at.millis())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)
        }
        .await)
    }

    pub(crate) async fn log(
        &self,
        job: &JobId,
        level: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<()> {
        const SQL: &str =
            "INSERT INTO job_logs (job_id, at, level, message) VALUES ($1, $2, $3, $4)";
        on_pool!(self, p => sqlx::query(SQL)
            .bind(job.as_str())
            .bind(at.millis())
            .bind(level)
            .bind(message)
            .execute(p)
            .await
            .map(drop)
            .map_err(db_error))
    }

    pub(crate) async fn tally(&self, job: &JobId) -> Result<JobTally> {
        const SQL: &str = "SELECT stop_requested, dropped_tags, \
             (SELECT COUNT(*) FROM job_failures f WHERE f.job_id = jobs.id), \
             (SELECT last_error FROM job_tasks t WHERE t.job_id = jobs.id AND t.state = 'failed' \
              AND t.task_key <> 'finalize' ORDER BY t.id LIMIT 1) \
             FROM jobs WHERE id = $1";
        let (stop_requested, dropped_tags, failed_files, failed_task_error): (
            bool,
            i64,
            i64,
            Option<String>,
        ) = on_pool!(self, p => sqlx::query_as(SQL).bind(job.as_str()).fetch_one(p).await.map_err(db_error)?);
        Ok(JobTally {
            stop_requested,
            dropped_tags,
            failed_task_error,
            failed_files,
        })
    }

    pub(crate) async fn complete(
        &self,
        job: &JobId,
        status: JobStatus,
        message: &str,
        counts: FileCounts,
        at: Timestamp,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE jobs SET status = $2, message = $3, total_files = $4, completed_files = $5, \
                           failed_files = $6, finished_at = $7 WHERE id = $1";
        on_pool!(self, p => sqlx::query(SQL)
            .bind(job.as_str())
            .bind(status.as_str())
            .bind(message)
            .bind(counts.total)
            .bind(counts.completed)
            .bind(counts.failed)
            .bind(at.millis())
            .execute(p)
            .await
            .map(drop)
            .map_err(db_error))
    }
}
