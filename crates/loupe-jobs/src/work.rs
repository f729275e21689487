//! What index and tag jobs share: one shape, `plan` → `batch`… → `finalize`.
//!
//! - `plan` lists the files to process (every probed file for `Full`; for `Increment`
//!   only those whose fingerprint or work key changed since a success, and those that
//!   failed) and enqueues them in batches of [`BATCH_FILES`] in one transaction, so a
//!   retried plan finds its batches there and adds none;
//! - a `batch` reads its files (or, for a model that fetches images itself, presigns
//!   URLs to them when the storage can), runs the model with at most `MaxConcurrency` calls in
//!   flight for the job in this process, and records every file as done or failed in
//!   one transaction. A retried batch redoes exactly its own files, and only the attempt
//!   that finishes adds to the job's counters, so counts stay exact when a worker dies;
//! - `finalize` decides the status from the counters.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use loupe_core::file_meta::FileMetaRecord;
use loupe_core::ids::JobId;
use loupe_core::job::{JobStatus, TaskPayload, DEFAULT_MAX_ATTEMPTS};
use loupe_core::service::Loupe;
use loupe_core::storage::{ObjectStore, StorageError};
use loupe_core::store::{ClaimedTask, FileCounts, JobContext, TaskOutcome, WorkKind};
use loupe_core::time::Timestamp;
use tokio::sync::Semaphore;

use crate::worker::{Signals, TaskError};

/// Files per batch task.
pub(crate) const BATCH_FILES: usize = 256;
/// The largest image a job reads; larger files fail with this limit in their reason.
pub(crate) const MAX_SOURCE_BYTES: u64 = 64 << 20;
/// Files of one batch read from storage at once.
const READS_IN_FLIGHT: usize = 16;
/// Jobs whose opened adapters a worker keeps.
const CACHED_JOBS: usize = 64;

/// Per-job state a worker process keeps while it runs a job's batches: the opened
/// model and vector store (opening a pgvector pool per batch would cost more than the
/// batch), and the job's `MaxConcurrency` permits, shared by the worker's task loops.
#[derive(Clone, Default)]
pub struct JobCache {
    jobs: Arc<Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>>,
}

impl JobCache {
    /// The job's state, opened by `open` the first time.
    pub(crate) async fn get_or_open<T, F, Fut>(
        &self,
        job: &JobId,
        open: F,
    ) -> Result<Arc<T>, TaskError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, TaskError>>,
    {
        if let Some(found) = self.lock().get(job.as_str()).cloned() {
            if let Ok(found) = found.downcast::<T>() {
                return Ok(found);
            }
        }
        // Opened outside the lock: two loops may open at once; the second one wins.
        let opened = Arc::new(open().await?);
        let mut jobs = self.lock();
        if jobs.len() >= CACHED_JOBS {
            jobs.clear();
        }
        jobs.insert(
            job.to_string(),
            Arc::clone(&opened) as Arc<dyn Any + Send + Sync>,
        );
        Ok(opened)
    }

    /// Drops a finished job's state.
    pub(crate) fn forget(&self, job: &JobId) {
        self.lock().remove(job.as_str());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn Any + Send + Sync>>> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An index or tag pipeline: what a worker opens once per job, the key `Increment`
/// compares, what runs before the plan, and one batch.
#[async_trait::async_trait]
pub(crate) trait Pipeline: Sized + Send + Sync + 'static {
    /// The per-file work it records.
    const KIND: WorkKind;
    /// How the final message says a file was done ("indexed").
    const DONE: &'static str;
    /// Opens the model, store and storage for a job.
    async fn open(loupe: &Loupe, job: &JobContext) -> Result<Self, TaskError>;
    /// What the work depends on apart from the file.
    fn work_key(&self) -> String;
    /// Runs once before the files are listed.
    async fn before_plan(&self, _loupe: &Loupe, _job: &JobContext) -> Result<(), TaskError> {
        Ok(())
    }
    /// Processes one batch of files.
    async fn batch(
        &self,
        loupe: &Loupe,
        job: &JobContext,
        files: &[String],
        signals: &Signals,
    ) -> Result<TaskOutcome, TaskError>;
}

/// Runs one task of a pipeline's job.
pub(crate) async fn run<P: Pipeline>(
    loupe: &Loupe,
    cache: &JobCache,
    task: &ClaimedTask,
    signals: &Signals,
) -> Result<TaskOutcome, TaskError> {
    let job = &task.job;
    match task_payload(task)? {
        TaskPayload::Finalize => finalize(loupe, cache, job, P::DONE).await,
        TaskPayload::Plan => {
            let run = cache
                .get_or_open(&job.job_id, || P::open(loupe, job))
                .await?;
            run.before_plan(loupe, job).await?;
            plan(loupe, job, P::KIND, &run.work_key()).await
        }
        TaskPayload::Batch { files, .. } => {
            let result = async {
                let run = cache
                    .get_or_open(&job.job_id, || P::open(loupe, job))
                    .await?;
                run.batch(loupe, job, &files, signals).await
            }
            .await;
            give_up_on_last_attempt(loupe, task, &files, result).await
        }
        other => Err(unexpected(&other)),
    }
}

/// A task's payload.
pub(crate) fn task_payload(task: &ClaimedTask) -> Result<TaskPayload, TaskError> {
    serde_json::from_value(task.payload.clone()).map_err(|e| TaskError {
        retryable: false,
        message: format!("unreadable task payload: {e}"),
    })
}

/// A payload of another pipeline's task: a fault of ours, never retried.
pub(crate) fn unexpected(payload: &TaskPayload) -> TaskError {
    TaskError {
        retryable: false,
        message: format!("task '{}' does not belong to this job", payload.key()),
    }
}

pub(crate) async fn log(loupe: &Loupe, job: &JobContext, level: &str, message: &str) {
    let _ = loupe
        .store()
        .append_log(&job.job_id, level, message, Timestamp::now())
        .await;
}

pub(crate) fn succeeded(completed: i64, failed: i64) -> TaskOutcome {
    TaskOutcome::Succeeded { completed, failed }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Lists the files to process and enqueues their batches.
pub(crate) async fn plan(
    loupe: &Loupe,
    job: &JobContext,
    kind: WorkKind,
    work_key: &str,
) -> Result<TaskOutcome, TaskError> {
    let store = loupe.store();
    // The plan task itself is the job's only task until the batches are enqueued.
    if store.job_task_count(&job.job_id).await? > 1 {
        return Ok(succeeded(0, 0));
    }
    let unchanged = (job.mode == loupe_core::job::JobMode::Increment).then_some(work_key);
    let (mut tasks, mut total, mut after) = (Vec::new(), 0_usize, None::<String>);
    loop {
        let ids = store
            .files_to_work(
                job.version_row,
                kind,
                unchanged,
                after.as_deref(),
                BATCH_FILES,
            )
            .await?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        total += ids.len();
        let n = count(tasks.len());
        tasks.push(TaskPayload::Batch { n, files: ids }.task(DEFAULT_MAX_ATTEMPTS));
        after = Some(last);
    }
    store.set_job_total(&job.job_id, count(total)).await?;
    store
        .enqueue_tasks(&job.job_id, &tasks, Timestamp::now())
        .await?;
    log(
        loupe,
        job,
        "info",
        &format!(
            "{total} files to process in {} batches ({} mode)",
            tasks.len(),
            job.mode.as_str()
        ),
    )
    .await;
    Ok(succeeded(0, 0))
}

/// Where a model gets a file's image.
#[derive(Clone)]
pub(crate) enum Source {
    /// The bytes, read from storage.
    Bytes(Arc<Vec<u8>>),
    /// A presigned URL the model fetches itself: Loupe never downloads the file.
    Url(String),
}

/// A file of a batch with its image, or the reason it could not be read.
pub(crate) type Loaded = (FileMetaRecord, Result<Source, String>);

/// Reads a batch's files. With `links` (the model fetches URLs itself) a file is given
/// as a presigned URL valid that long, when the storage can make one (an object store;
/// a local folder cannot), instead of being read. A file gone from the version or from
/// storage, or too large, fails alone; a storage outage fails the task so that it is
/// retried.
pub(crate) async fn load(
    loupe: &Loupe,
    job: &JobContext,
    storage: &Arc<dyn ObjectStore>,
    files: &[String],
    links: Option<Duration>,
) -> Result<(Vec<Loaded>, Vec<(String, String)>), TaskError> {
    let records = loupe
        .store()
        .file_metas_by_ids(job.version_row, files)
        .await?;
    let mut gone: Vec<(String, String)> = Vec::new();
    if records.len() < files.len() {
        let present: std::collections::HashSet<&str> =
            records.iter().map(|r| r.file_id.as_str()).collect();
        gone = files
            .iter()
            .filter(|id| !present.contains(id.as_str()))
            .map(|id| {
                (
                    id.clone(),
                    "the file was removed from the version while the job ran".to_string(),
                )
            })
            .collect();
    }
    let reads = records.into_iter().map(|record| {
        let storage = Arc::clone(storage);
        async move {
            let read = source(storage.as_ref(), &record.key, links).await;
            (record, read)
        }
    });
    let mut loaded = Vec::with_capacity(files.len());
    let mut reads = futures::stream::iter(reads).buffer_unordered(READS_IN_FLIGHT);
    while let Some((record, read)) = reads.next().await {
        match read {
            Ok(source) => loaded.push((record, Ok(source))),
            Err(err) if err.is_retryable() => return Err(err.into()),
            Err(err) => loaded.push((record, Err(err.to_string()))),
        }
    }
    Ok((loaded, gone))
}

/// A presigned URL when `links` asks for one and the storage makes it, else the bytes.
async fn source(
    storage: &dyn ObjectStore,
    key: &str,
    links: Option<Duration>,
) -> Result<Source, StorageError> {
    if let Some(ttl) = links {
        if let Some(url) = storage.presign_get(key, ttl).await? {
            return Ok(Source::Url(url));
        }
    }
    let bytes = storage.get(key, MAX_SOURCE_BYTES).await?;
    Ok(Source::Bytes(Arc::new(bytes.to_vec())))
}

/// Runs `call` over groups of up to `group` readable files, at most `permits` calls at
/// once, until a stop is asked for. Each call answers per file: the output, or the
/// reason the file failed; an `Err` (a model outage) fails the whole task.
pub(crate) async fn run_groups<T, F, Fut>(
    loaded: Vec<Loaded>,
    group: usize,
    permits: &Semaphore,
    signals: &Signals,
    call: F,
) -> Result<Vec<(FileMetaRecord, Result<T, String>)>, TaskError>
where
    F: Fn(Vec<Source>) -> Fut,
    Fut: Future<Output = Result<Vec<Result<T, String>>, TaskError>>,
{
    let mut out = Vec::with_capacity(loaded.len());
    let mut readable = Vec::with_capacity(loaded.len());
    for (record, source) in loaded {
        match source {
            Ok(source) => readable.push((record, source)),
            Err(reason) => out.push((record, Err(reason))),
        }
    }
    let groups: Vec<Vec<(FileMetaRecord, Source)>> =
        readable.chunks(group.max(1)).map(<[_]>::to_vec).collect();
    // Every group waits for a permit; the permits, shared with the job's other batches
    // in this process, are what bounds the calls in flight.
    let in_flight = groups.len().max(1);
    let calls = groups.into_iter().map(|files| {
        let call = &call;
        async move {
            let _permit = permits.acquire().await.ok()?;
            // Files not started when a stop arrives stay unprocessed: `Increment` finishes them.
            if signals.should_stop() {
                return None;
            }
            let sources = files.iter().map(|(_, s)| s.clone()).collect();
            Some((files, call(sources).await))
        }
    });
    let mut calls = futures::stream::iter(calls).buffer_unordered(in_flight);
    while let Some(done) = calls.next().await {
        let Some((files, results)) = done else {
            continue;
        };
        let results = results?;
        for ((record, _), result) in files.into_iter().zip(results) {
            out.push((record, result));
        }
    }
    Ok(out)
}

/// A model error as a task error: an outage (after the connector's retries) is retried
/// as a task, anything else fails the files of the call with its message.
pub(crate) fn per_file<T>(
    result: loupe_core::Result<Vec<loupe_core::Result<T>>>,
    files: usize,
) -> Result<Vec<Result<T, String>>, TaskError> {
    match result {
        Ok(each) => Ok(each
            .into_iter()
            .map(|r| r.map_err(|e| e.message().to_string()))
            .collect()),
        Err(err) if err.category() == loupe_core::Category::Unavailable => Err(err.into()),
        Err(err) => Ok((0..files).map(|_| Err(err.message().to_string())).collect()),
    }
}

/// On a batch's last attempt a lasting outage becomes per-file failures, so that every
/// file of the job ends done or failed with a reason.
pub(crate) async fn give_up_on_last_attempt(
    loupe: &Loupe,
    task: &ClaimedTask,
    files: &[String],
    result: Result<TaskOutcome, TaskError>,
) -> Result<TaskOutcome, TaskError> {
    match result {
        Err(err) if err.retryable && task.attempt >= task.max_attempts => {
            let store = loupe.store();
            let records = store.file_metas_by_ids(task.job.version_row, files).await?;
            let reason = format!("gave up after {} attempts: {}", task.attempt, err.message);
            let failures: Vec<(String, String)> = records
                .iter()
                .map(|r| (r.uri.clone(), reason.clone()))
                .collect();
            store
                .record_failures(&task.job.job_id, &failures, Timestamp::now())
                .await?;
            Ok(succeeded(0, count(records.len())))
        }
        other => other,
    }
}

/// Decides a finished index or tag job's status from its counters.
pub(crate) async fn finalize(
    loupe: &Loupe,
    cache: &JobCache,
    job: &JobContext,
    done_verb: &str,
) -> Result<TaskOutcome, TaskError> {
    cache.forget(&job.job_id);
    let store = loupe.store();
    let tally = store.job_tally(&job.job_id).await?;
    let row = store
        .get_job(&job.workspace_id, &job.dataset_id, &job.job_id)
        .await?;
    let counts = FileCounts {
        total: row.total_file_count,
        completed: row.completed_file_count,
        failed: row.failed_file_count,
    };
    let mut summary = format!(
        "{} of {} files {done_verb}, {} failed",
        counts.completed, counts.total, counts.failed
    );
    if tally.dropped_tags > 0 {
        summary.push_str(&format!(
            "; {} tag names the model gave are not in the definition and were dropped",
            tally.dropped_tags
        ));
    }
    let (status, message) = if tally.stop_requested {
        (
            JobStatus::Stopped,
            format!("stopped on request: {summary}; an Increment job finishes the rest"),
        )
    } else if let Some(error) = tally.failed_task_error.clone() {
        (JobStatus::Failed, error)
    } else if counts.failed > 0 && counts.completed == 0 {
        (
            JobStatus::Failed,
            format!("every file failed ({summary}): see the job's failures"),
        )
    } else if counts.failed > 0 {
        (
            JobStatus::PartiallySucceeded,
            format!("{summary}: see the job's failures"),
        )
    } else {
        (JobStatus::Succeeded, summary)
    };
    store
        .complete_job(&job.job_id, status, &message, counts, Timestamp::now())
        .await?;
    log(
        loupe,
        job,
        "info",
        &format!("{}: {message}", status.as_str()),
    )
    .await;
    Ok(succeeded(0, 0))
}

/// Records a batch's failures (reasons by URI) and returns them as (file id, fingerprint).
pub(crate) async fn record_failed(
    loupe: &Loupe,
    job: &JobContext,
    failed: &[(FileMetaRecord, String)],
    gone: &[(String, String)],
) -> Result<Vec<(String, String)>, TaskError> {
    let mut reasons: Vec<(String, String)> = failed
        .iter()
        .map(|(r, reason)| (r.uri.clone(), reason.clone()))
        .collect();
    // A file gone from the version has no URI left to show; its id stands in.
    reasons.extend(
        gone.iter()
            .map(|(id, reason)| (format!("file meta {id}"), reason.clone())),
    );
    loupe
        .store()
        .record_failures(&job.job_id, &reasons, Timestamp::now())
        .await?;
    Ok(failed
        .iter()
        .map(|(r, _)| (r.file_id.clone(), r.fingerprint.clone()))
        .collect())
}
