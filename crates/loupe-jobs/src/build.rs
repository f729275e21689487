//! `FileMetaBuild`: list the dataset's storage and register the version's files.
//!
//! - `list` streams the listing, keeps supported image extensions, writes file metas in
//!   bulk and enqueues one `probe` task per chunk of files that need a header read;
//! - `probe` reads each pending file's header (and end), records width, height and type,
//!   and turns bad files into per-file failures;
//! - `finalize` counts what is registered and decides the job's status and the version's state.
//!
//! Every step is idempotent: a retried `list` leaves rows it listed already as they are,
//! and a retried `probe` only sees the rows still pending.

use futures::{StreamExt, TryStreamExt};
use loupe_core::file_meta::{content_type_of, file_meta_id, supported_extension, FileMetaRecord};
use loupe_core::job::{JobStatus, TaskPayload, DEFAULT_MAX_ATTEMPTS};
use loupe_core::service::Loupe;
use loupe_core::storage::ObjectStore;
use loupe_core::store::{ClaimedTask, FileCounts, JobContext, TaskOutcome};
use loupe_core::time::Timestamp;
use loupe_core::version::VersionState;

use crate::media::{probe, ProbeError};
use crate::work::{log, task_payload, unexpected};
use crate::worker::{Signals, TaskError, WorkerOptions};

/// Chunk numbers of different attempts never meet, so a retried listing cannot reuse a
/// chunk whose probe task already ran.
const CHUNKS_PER_ATTEMPT: i64 = 10_000_000;
/// How often (in chunks) a long listing refreshes the store's statistics.
const STATISTICS_EVERY_CHUNKS: i64 = 100;

/// Runs one task of a build.
pub async fn run(
    loupe: &Loupe,
    options: &WorkerOptions,
    task: &ClaimedTask,
    signals: &Signals,
) -> Result<TaskOutcome, TaskError> {
    match task_payload(task)? {
        TaskPayload::List => list(loupe, options, task, signals).await,
        TaskPayload::Probe { chunk } => {
            probe_chunk(loupe, options, &task.job, chunk, signals).await
        }
        TaskPayload::Finalize => finalize(loupe, &task.job).await,
        other => Err(unexpected(&other)),
    }
}

pub(crate) async fn storage_of(
    loupe: &Loupe,
    job: &JobContext,
) -> Result<std::sync::Arc<dyn ObjectStore>, TaskError> {
    let dataset = loupe
        .store()
        .get_dataset(&job.workspace_id, &job.dataset_id)
        .await?;
    Ok(loupe
        .open_dataset_storage(&job.workspace_id, &dataset)
        .await?)
}

async fn list(
    loupe: &Loupe,
    options: &WorkerOptions,
    task: &ClaimedTask,
    signals: &Signals,
) -> Result<TaskOutcome, TaskError> {
    let job = &task.job;
    let store = loupe.store();
    store
        .set_version_state(
            job.version_row,
            VersionState::Building,
            None,
            Timestamp::now(),
        )
        .await?;
    let storage = storage_of(loupe, job).await?;
    let limit = loupe.settings().max_files_per_version;
    let mut pages = storage.list(options.chunk_size);
    let (mut listed, mut skipped, mut chunk_no) = (0_i64, 0_i64, 0_i64);
    let mut batch = Vec::with_capacity(options.chunk_size);
    let started = std::time::Instant::now();
    while let Some(page) = pages.try_next().await.map_err(TaskError::from)? {
        if signals.should_stop() {
            return Ok(TaskOutcome::Succeeded {
                completed: 0,
                failed: 0,
            });
        }
        for object in page {
            let Some(ext) = supported_extension(&object.key) else {
                skipped += 1;
                continue;
            };
            listed += 1;
            if listed > limit {
                store.clear_version(job.version_row).await?;
                return Err(TaskError {
                    retryable: false,
                    message: format!(
                        "the location holds more than {limit} images (found {listed} so far): raise \
                         LOUPE_MAX_FILES_PER_VERSION or point the dataset at a narrower Uri"
                    ),
                });
            }
            batch.push(record_of(job, storage.as_ref(), &object, &ext));
            if batch.len() >= options.chunk_size {
                register(loupe, task, &mut batch, &mut chunk_no, listed).await?;
            }
        }
    }
    register(loupe, task, &mut batch, &mut chunk_no, listed).await?;
    store.refresh_statistics().await?;
    let removed = store.delete_unlisted(job.version_row, &job.job_id).await?;
    log(
        loupe,
        job,
        "info",
        &format!(
            "listed {listed} images in {:.1} s ({skipped} other files skipped, {removed} files gone since the last build)",
            started.elapsed().as_secs_f64()
        ),
    )
    .await;
    Ok(TaskOutcome::Succeeded {
        completed: 0,
        failed: 0,
    })
}

fn record_of(
    job: &JobContext,
    storage: &dyn ObjectStore,
    object: &loupe_core::storage::ObjectMeta,
    ext: &str,
) -> FileMetaRecord {
    let (dir, name) = FileMetaRecord::split_key(&object.key);
    FileMetaRecord {
        file_id: file_meta_id(&job.dataset_id, job.version, &object.key),
        uri: storage.uri_of(&object.key),
        key: object.key.clone(),
        name,
        dir,
        size: i64::try_from(object.size).unwrap_or(i64::MAX),
        fingerprint: object.etag.clone().unwrap_or_default(),
        content_type: content_type_of(ext).to_string(),
        created_at: object.created_ms.unwrap_or(object.last_modified_ms),
        updated_at: object.last_modified_ms,
        width: None,
        height: None,
        stamps: Default::default(),
    }
}

/// Writes one chunk of listed files and enqueues its probe when any of them is pending.
async fn register(
    loupe: &Loupe,
    task: &ClaimedTask,
    batch: &mut Vec<FileMetaRecord>,
    chunk_no: &mut i64,
    listed: i64,
) -> Result<(), TaskError> {
    if batch.is_empty() {
        return Ok(());
    }
    let job = &task.job;
    let store = loupe.store();
    let chunk = i64::from(task.attempt) * CHUNKS_PER_ATTEMPT + *chunk_no;
    *chunk_no += 1;
    let now = Timestamp::now();
    let pending = store
        .upsert_listed(
            &job.workspace_id,
            job.version_row,
            &job.job_id,
            job.mode,
            chunk,
            batch,
            now,
        )
        .await?;
    batch.clear();
    if pending > 0 {
        let probe = TaskPayload::Probe { chunk }.task(DEFAULT_MAX_ATTEMPTS);
        store.enqueue_tasks(&job.job_id, &[probe], now).await?;
    }
    store.set_job_total(&job.job_id, listed).await?;
    // Probes of this listing run while it goes on; keep their plans right as the version grows.
    if *chunk_no % STATISTICS_EVERY_CHUNKS == 0 {
        store.refresh_statistics().await?;
    }
    Ok(())
}

async fn probe_chunk(
    loupe: &Loupe,
    options: &WorkerOptions,
    job: &JobContext,
    chunk: i64,
    signals: &Signals,
) -> Result<TaskOutcome, TaskError> {
    let store = loupe.store();
    let files = store.pending_in_chunk(job.version_row, chunk).await?;
    if files.is_empty() {
        return Ok(TaskOutcome::Succeeded {
            completed: 0,
            failed: 0,
        });
    }
    let storage = storage_of(loupe, job).await?;
    let probes = files.into_iter().map(|file| {
        let storage = std::sync::Arc::clone(&storage);
        let signals = signals.clone();
        async move {
            if signals.should_stop() {
                return None;
            }
            // Object stores give an ETag; local files get a content hash.
            let hash = file.uri.starts_with("file://");
            let result = probe(storage.as_ref(), &file, hash).await;
            Some((file, result))
        }
    });
    let results: Vec<_> = futures::stream::iter(probes)
        .buffer_unordered(options.probe_concurrency.max(1))
        .collect()
        .await;
    let (mut probed, mut failed_ids, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for (file, result) in results.into_iter().flatten() {
        match result {
            Ok(found) => probed.push(found),
            Err(ProbeError::File(reason)) => {
                failed_ids.push(file.file_id);
                failures.push((file.uri, reason));
            }
            Err(ProbeError::Storage(err)) => return Err(err.into()),
        }
    }
    let now = Timestamp::now();
    // Failures first: if the worker dies between the two writes, the rows are still
    // pending and the retry records the same failures again (an upsert).
    store.record_failures(&job.job_id, &failures, now).await?;
    store
        .complete_probe(job.version_row, &probed, &failed_ids)
        .await?;
    let completed = i64::try_from(probed.len()).unwrap_or(i64::MAX);
    let failed = i64::try_from(failed_ids.len()).unwrap_or(i64::MAX);
    Ok(TaskOutcome::Succeeded { completed, failed })
}

async fn finalize(loupe: &Loupe, job: &JobContext) -> Result<TaskOutcome, TaskError> {
    let store = loupe.store();
    let tally = store.job_tally(&job.job_id).await?;
    let version = store.version_tally(job.version_row).await?;
    let (status, message) = if tally.stop_requested {
        (JobStatus::Stopped, "stopped on request".to_string())
    } else if let Some(error) = tally.failed_task_error.clone() {
        (JobStatus::Failed, error)
    } else if version.pending > 0 {
        (
            JobStatus::Failed,
            format!("{} files were not probed", version.pending),
        )
    } else if tally.failed_files > 0 {
        (
            JobStatus::PartiallySucceeded,
            format!(
                "{} files registered, {} failed: see the job's failures",
                version.files, tally.failed_files
            ),
        )
    } else {
        (
            JobStatus::Succeeded,
            format!("{} files registered", version.files),
        )
    };
    let state = match status {
        JobStatus::Succeeded | JobStatus::PartiallySucceeded => VersionState::Ready,
        _ => VersionState::Failed,
    };
    let now = Timestamp::now();
    store
        .set_version_state(job.version_row, state, Some(version), now)
        .await?;
    let counts = FileCounts {
        total: version.files + tally.failed_files,
        completed: version.files - version.pending,
        failed: tally.failed_files,
    };
    store
        .complete_job(&job.job_id, status, &message, counts, now)
        .await?;
    log(
        loupe,
        job,
        "info",
        &format!("{}: {message}", status.as_str()),
    )
    .await;
    Ok(TaskOutcome::Succeeded {
        completed: 0,
        failed: 0,
    })
}
