//! The worker pool: a few task loops that claim, run and finish tasks.
//!
//! - claim: a short statement under `SKIP LOCKED` (PostgreSQL) or SQLite's single writer;
//! - run: no transaction is open while storage is read; a side task renews the lease
//!   and learns about stop requests;
//! - finish: fenced by the attempt number, so a worker that lost its lease changes nothing;
//! - retries: a retryable fault runs again after an exponential backoff with jitter, up
//!   to the task's attempt limit; a fatal fault fails the task at once.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loupe_core::service::Loupe;
use loupe_core::store::{ClaimedTask, Lease, TaskOutcome};
use loupe_core::time::Timestamp;
use rand::Rng;
use tokio::sync::Notify;
use tracing::Instrument;

use loupe_core::job::JobAction;

use crate::work::JobCache;
use crate::{build, index, tag};

/// Settings of a worker pool.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Task loops in this process.
    pub concurrency: usize,
    /// How long a claimed task stays ours without a heartbeat.
    pub lease: Duration,
    /// How often idle loops look for work when no wake-up comes.
    pub poll: Duration,
    /// Files per probe task.
    pub chunk_size: usize,
    /// Files probed at once within one task.
    pub probe_concurrency: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 2,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            chunk_size: 1000,
            probe_concurrency: 16,
        }
    }
}

/// A fault inside a task.
#[derive(Debug)]
pub struct TaskError {
    /// Whether trying again later may help.
    pub retryable: bool,
    /// What went wrong.
    pub message: String,
}

impl From<loupe_core::Error> for TaskError {
    fn from(err: loupe_core::Error) -> Self {
        use loupe_core::Category;
        let retryable = matches!(err.category(), Category::Unavailable);
        let message = match err.cause() {
            Some(cause) => format!("{}: {cause}", err.message()),
            None => err.message().to_string(),
        };
        Self { retryable, message }
    }
}

impl From<loupe_core::storage::StorageError> for TaskError {
    fn from(err: loupe_core::storage::StorageError) -> Self {
        Self {
            retryable: err.is_retryable(),
            message: err.to_string(),
        }
    }
}

/// What a running task can see: a stop request, or the loss of its lease.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
}

impl Signals {
    /// Whether the task should end at the next file boundary.
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.lost.load(Ordering::Relaxed)
    }

    /// Whether another worker owns the task now.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

/// A pool of task loops.
#[derive(Clone)]
pub struct WorkerPool {
    loupe: Loupe,
    wake: Arc<Notify>,
    options: WorkerOptions,
    cache: JobCache,
}

impl WorkerPool {
    /// A pool over the services; `wake` is notified when tasks may be runnable.
    pub fn new(loupe: Loupe, wake: Arc<Notify>, options: WorkerOptions) -> Self {
        Self {
            loupe,
            wake,
            options,
            cache: JobCache::default(),
        }
    }

    /// Runs the loops until `shutdown` resolves; running tasks finish their current step.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let stop = Arc::new(Notify::new());
        let stopping = Arc::new(AtomicBool::new(false));
        let mut loops = Vec::new();
        for slot in 0..self.options.concurrency.max(1) {
            let pool = self.clone();
            let stop = Arc::clone(&stop);
            let stopping = Arc::clone(&stopping);
            loops.push(tokio::spawn(async move {
                pool.task_loop(slot, &stop, &stopping).await
            }));
        }
        tracing::info!(concurrency = self.options.concurrency, "workers started");
        shutdown.await;
        stopping.store(true, Ordering::Relaxed);
        stop.notify_waiters();
        for handle in loops {
            let _ = handle.await;
        }
        tracing::info!("workers stopped");
    }

    async fn task_loop(&self, slot: usize, stop: &Notify, stopping: &AtomicBool) {
        while !stopping.load(Ordering::Relaxed) {
            match self.run_one().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(worker.slot = slot, error = %err, "claiming a task failed")
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.options.poll) => {}
                () = stop.notified() => {}
            }
        }
    }

    /// Claims and runs one task; `false` when none was runnable.
    pub async fn run_one(&self) -> loupe_core::Result<bool> {
        let now = Timestamp::now();
        let lease_until = Timestamp::from_millis(now.millis() + lease_millis(self.options.lease));
        let Some(task) = self.loupe.store().claim_task(now, lease_until).await? else {
            return Ok(false);
        };
        let span = tracing::info_span!(
            "task",
            job.id = %task.job.job_id,
            task.key = %task.key,
            task.attempt = task.attempt
        );
        // `instrument`, not `enter`: a guard held across `.await` would tag other tasks' logs.
        self.execute(task).instrument(span).await?;
        Ok(true)
    }

    async fn execute(&self, task: ClaimedTask) -> loupe_core::Result<()> {
        let store = self.loupe.store();
        if task.attempt > task.max_attempts {
            let error = format!(
                "gave up after {} attempts: the workers running it stopped answering",
                task.max_attempts
            );
            store
                .finish_task(
                    task.task_id,
                    task.attempt,
                    &TaskOutcome::Failed { error },
                    Timestamp::now(),
                )
                .await?;
            return Ok(());
        }
        let signals = Signals::default();
        let heartbeat = tokio::spawn(heartbeat(
            self.loupe.clone(),
            task.task_id,
            task.attempt,
            self.options.lease,
            signals.clone(),
        ));
        let (loupe, cache) = (&self.loupe, &self.cache);
        let result = match task.job.action {
            JobAction::FileMetaBuild => build::run(loupe, &self.options, &task, &signals).await,
            JobAction::SemanticIndex => index::run(loupe, cache, &task, &signals).await,
            JobAction::IntelligentTag => tag::run(loupe, cache, &task, &signals).await,
            JobAction::IntelligentTagRevert => tag::revert(loupe, cache, &task).await,
        };
        heartbeat.abort();
        if signals.lost() {
            tracing::warn!("lease lost; another worker owns the task now");
            return Ok(());
        }
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(err) if err.retryable && task.attempt < task.max_attempts => TaskOutcome::Retry {
                run_after: Timestamp::from_millis(
                    Timestamp::now().millis() + backoff_millis(task.attempt),
                ),
                error: err.message,
            },
            Err(err) => TaskOutcome::Failed { error: err.message },
        };
        if let TaskOutcome::Retry { error, .. } | TaskOutcome::Failed { error } = &outcome {
            tracing::warn!(error = %error, "task did not succeed");
            let level = if matches!(outcome, TaskOutcome::Retry { .. }) {
                "warn"
            } else {
                "error"
            };
            let _ = store
                .append_log(
                    &task.job.job_id,
                    level,
                    &format!("{}: {error}", task.key),
                    Timestamp::now(),
                )
                .await;
        }
        store
            .finish_task(task.task_id, task.attempt, &outcome, Timestamp::now())
            .await?;
        Ok(())
    }
}

fn lease_millis(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

/// Exponential from one second, capped at a minute, with ±50 % jitter so retries of
/// many tasks do not arrive together.
fn backoff_millis(attempt: i32) -> i64 {
    let exponent = u32::try_from(attempt.clamp(1, 7) - 1).unwrap_or(0);
    let base = (1000_i64 << exponent).min(60_000);
    let jitter = rand::thread_rng().gen_range(0.5..1.5);
    (base as f64 * jitter) as i64
}

async fn heartbeat(loupe: Loupe, task_id: i64, attempt: i32, lease: Duration, signals: Signals) {
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let until = Timestamp::from_millis(Timestamp::now().millis() + lease_millis(lease));
        match loupe.store().heartbeat(task_id, attempt, until).await {
            Ok(Lease::Held { stop }) => signals.stop.store(stop, Ordering::Relaxed),
            Ok(Lease::Lost) => {
                signals.lost.store(true, Ordering::Relaxed);
                return;
            }
            // A missed beat is survivable: the lease is three beats long.
            Err(err) => tracing::warn!(error = %err, "heartbeat failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..100 {
            let first = backoff_millis(1);
            assert!((500..1500).contains(&first), "{first}");
            let late = backoff_millis(20);
            assert!((30_000..90_000).contains(&late), "{late}");
        }
    }
}
