//! `SemanticIndex`: embed a version's images into the dataset's vector index.
//!
//! The plan first deletes the vectors of files gone from the version since they were
//! indexed, then enqueues the files to embed (see [`crate::work`]). A batch embeds its
//! readable files in groups of the model's batch size, upserts the vectors with the
//! seed schema's fields, then stamps `SemanticIndexJobId` and the update time.

use std::sync::Arc;

use loupe_core::job_spec::{read_spec, SemanticIndexSpec, DEFAULT_INDEX_CONCURRENCY};
use loupe_core::model::EmbedInput;
use loupe_core::service::{index_set_id, IndexTarget, Loupe};
use loupe_core::storage::ObjectStore;
use loupe_core::store::{ClaimedTask, JobContext, TaskOutcome, WorkDone, WorkKind, WorkResult};
use loupe_core::time::Timestamp;
use loupe_core::vector::VectorRecord;
use tokio::sync::Semaphore;

use crate::build::storage_of;
use crate::work::{self, JobCache, Pipeline, Source};
use crate::worker::{Signals, TaskError};

/// Vector ids deleted per call when files vanished.
const DELETE_BATCH: usize = 1000;

/// What a worker keeps open for one index job.
struct IndexRun {
    target: IndexTarget,
    storage: Arc<dyn ObjectStore>,
    permits: Semaphore,
    set: String,
}

#[async_trait::async_trait]
impl Pipeline for IndexRun {
    const KIND: WorkKind = WorkKind::Index;
    const DONE: &'static str = "indexed";

    // Opening checks the dimension: a model of another one than the index fails in the
    // plan, before any file is read.
    async fn open(loupe: &Loupe, job: &JobContext) -> Result<Self, TaskError> {
        let spec: SemanticIndexSpec = read_spec(&job.spec)?;
        let dataset = loupe
            .store()
            .get_dataset(&job.workspace_id, &job.dataset_id)
            .await?;
        let target = loupe.index_target(&job.workspace_id, &dataset).await?;
        // Every process that works on the job opens the index (an embedded store learns of
        // it this way); in the plan this is also the dimension check before any work.
        target.ensure().await?;
        let storage = storage_of(loupe, job).await?;
        let permits = spec.max_concurrency.unwrap_or(DEFAULT_INDEX_CONCURRENCY) as usize;
        Ok(IndexRun {
            target,
            storage,
            permits: Semaphore::new(permits),
            set: index_set_id(&job.dataset_id, job.version),
        })
    }

    fn work_key(&self) -> String {
        self.target.work_key()
    }

    async fn before_plan(&self, loupe: &Loupe, job: &JobContext) -> Result<(), TaskError> {
        delete_vanished(loupe, job, self).await
    }

    async fn batch(
        &self,
        loupe: &Loupe,
        job: &JobContext,
        files: &[String],
        signals: &Signals,
    ) -> Result<TaskOutcome, TaskError> {
        batch(loupe, job, self, files, signals).await
    }
}

/// Runs one task of an index job.
pub async fn run(
    loupe: &Loupe,
    cache: &JobCache,
    task: &ClaimedTask,
    signals: &Signals,
) -> Result<TaskOutcome, TaskError> {
    work::run::<IndexRun>(loupe, cache, task, signals).await
}

/// Deletes the vectors of files that left the version since they were indexed.
async fn delete_vanished(loupe: &Loupe, job: &JobContext, run: &IndexRun) -> Result<(), TaskError> {
    let store = loupe.store();
    let mut deleted = 0;
    loop {
        let ids = store
            .vanished_work(job.version_row, WorkKind::Index, DELETE_BATCH)
            .await?;
        if ids.is_empty() {
            break;
        }
        run.target
            .vectors
            .delete(&run.target.index, &run.set, Some(&ids))
            .await
            .map_err(|e| run.target.shown(e))?;
        store
            .forget_work(job.version_row, WorkKind::Index, &ids)
            .await?;
        deleted += ids.len();
    }
    if deleted > 0 {
        work::log(
            loupe,
            job,
            "info",
            &format!("deleted the vectors of {deleted} files gone from the version"),
        )
        .await;
    }
    Ok(())
}

async fn batch(
    loupe: &Loupe,
    job: &JobContext,
    run: &IndexRun,
    files: &[String],
    signals: &Signals,
) -> Result<TaskOutcome, TaskError> {
    let embedder = &run.target.embedder;
    let links = embedder.wants_urls().then(|| loupe.settings().link_ttl);
    let (loaded, gone) = work::load(loupe, job, &run.storage, files, links).await?;
    let results = work::run_groups(
        loaded,
        embedder.batch_hint(),
        &run.permits,
        signals,
        |images| async move {
            let n = images.len();
            let inputs: Vec<EmbedInput> = images
                .into_iter()
                .map(|image| match image {
                    Source::Bytes(bytes) => EmbedInput::Image(bytes),
                    Source::Url(url) => EmbedInput::ImageUrl(url),
                })
                .collect();
            work::per_file(embedder.embed_each(&inputs).await, n)
        },
    )
    .await?;
    let (mut records, mut done, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for (file, result) in results {
        match result {
            Ok(vector) => {
                records.push(VectorRecord {
                    id: format!("{}/{}", run.set, file.file_id),
                    index_set_id: run.set.clone(),
                    file_meta_id: file.file_id.clone(),
                    dataset_id: job.dataset_id.to_string(),
                    dataset_version: job.version.to_string(),
                    uri: file.uri.clone(),
                    file_vector: vector,
                });
                done.push(WorkDone {
                    file_id: file.file_id,
                    fingerprint: file.fingerprint,
                    tags: Vec::new(),
                });
            }
            Err(reason) => failed.push((file, reason)),
        }
    }
    if !records.is_empty() {
        run.target
            .vectors
            .upsert(&run.target.index, &records)
            .await?;
    }
    let failed = work::record_failed(loupe, job, &failed, &gone).await?;
    let (completed, failures) = (done.len(), failed.len() + gone.len());
    loupe
        .store()
        .record_work(&WorkResult {
            version_row: job.version_row,
            kind: WorkKind::Index,
            job: job.job_id.clone(),
            work_key: run.target.work_key(),
            source: String::new(),
            done,
            failed,
            dropped_tags: 0,
            at: Timestamp::now(),
        })
        .await?;
    Ok(work::succeeded(
        i64::try_from(completed).unwrap_or(i64::MAX),
        i64::try_from(failures).unwrap_or(i64::MAX),
    ))
}
