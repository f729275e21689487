//! `IntelligentTag`: tag a version's images with a tagging model and a tag definition,
//! into each file's `ai` group; and `IntelligentTagRevert`, which removes a tag job's tags.
//!
//! The tagger asks for the defined tags only and parses the reply strictly (see the
//! connectors); names outside the definition are dropped there and counted here. A
//! file's `ai` tags from the same definition are replaced; other definitions' stay.

use std::sync::Arc;

use loupe_core::ids::{ConnectionId, JobId, TagDefinitionId};
use loupe_core::job::TaskPayload;
use loupe_core::job_spec::{
    read_spec, IntelligentTagRevertSpec, IntelligentTagSpec, DEFAULT_TAG_CONCURRENCY,
};
use loupe_core::model::{TagSpec, Tagger, Tagging};
use loupe_core::service::Loupe;
use loupe_core::storage::ObjectStore;
use loupe_core::store::{ClaimedTask, JobContext, TaskOutcome, WorkDone, WorkKind, WorkResult};
use loupe_core::time::Timestamp;
use tokio::sync::Semaphore;

use crate::build::storage_of;
use crate::work::{self, task_payload, unexpected, JobCache, Pipeline, Source};
use crate::worker::{Signals, TaskError};

/// What a worker keeps open for one tag job.
struct TagRun {
    tagger: Arc<dyn Tagger>,
    spec: TagSpec,
    storage: Arc<dyn ObjectStore>,
    permits: Semaphore,
    /// The definition id: tags of a later run of it replace these.
    source: String,
    work_key: String,
}

#[async_trait::async_trait]
impl Pipeline for TagRun {
    const KIND: WorkKind = WorkKind::Tag;
    const DONE: &'static str = "tagged";

    async fn open(loupe: &Loupe, job: &JobContext) -> Result<Self, TaskError> {
        let spec: IntelligentTagSpec = read_spec(&job.spec)?;
        let definition = loupe
            .store()
            .get_tag_definition(
                &job.workspace_id,
                &TagDefinitionId::from_raw(&spec.tag_definition_id),
            )
            .await?;
        // The job was created with the connection filled in; an old spec without one
        // means the built-in.
        let connection = spec.connection_id.clone().unwrap_or_else(|| {
            loupe_core::connection::BuiltIn::LocalModel
                .id(&job.workspace_id)
                .to_string()
        });
        let tagger = loupe
            .tagger(
                &job.workspace_id,
                &ConnectionId::from_raw(&connection),
                spec.model_name.as_deref(),
            )
            .await?;
        let storage = storage_of(loupe, job).await?;
        let permits = spec.max_concurrency.unwrap_or(DEFAULT_TAG_CONCURRENCY) as usize;
        Ok(TagRun {
            work_key: format!(
                "{connection}|{}|{}@{}",
                tagger.model(),
                definition.tag_definition_id,
                definition.definition_version
            ),
            spec: definition.spec(),
            tagger,
            storage,
            permits: Semaphore::new(permits),
            source: definition.tag_definition_id.to_string(),
        })
    }

    fn work_key(&self) -> String {
        self.work_key.clone()
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

/// Runs one task of a tag job.
pub async fn run(
    loupe: &Loupe,
    cache: &JobCache,
    task: &ClaimedTask,
    signals: &Signals,
) -> Result<TaskOutcome, TaskError> {
    work::run::<TagRun>(loupe, cache, task, signals).await
}

async fn batch(
    loupe: &Loupe,
    job: &JobContext,
    run: &TagRun,
    files: &[String],
    signals: &Signals,
) -> Result<TaskOutcome, TaskError> {
    let links = run.tagger.wants_urls().then(|| loupe.settings().link_ttl);
    let (loaded, gone) = work::load(loupe, job, &run.storage, files, links).await?;
    let results = work::run_groups(loaded, 1, &run.permits, signals, |mut images| async move {
        let Some(image) = images.pop() else {
            return Ok(Vec::new());
        };
        let tagged = match image {
            Source::Bytes(bytes) => run.tagger.tag(bytes, &run.spec).await,
            Source::Url(url) => run.tagger.tag_url(&url, &run.spec).await,
        };
        work::per_file::<Tagging>(tagged.map(|t| vec![Ok(t)]), 1)
    })
    .await?;
    let (mut done, mut failed, mut dropped) = (Vec::new(), Vec::new(), 0_usize);
    for (file, result) in results {
        match result {
            Ok(tagging) => {
                dropped += tagging.undefined_dropped;
                done.push(WorkDone {
                    file_id: file.file_id,
                    fingerprint: file.fingerprint,
                    tags: tagging.tags,
                });
            }
            Err(reason) => failed.push((file, reason)),
        }
    }
    let failed = work::record_failed(loupe, job, &failed, &gone).await?;
    let (completed, failures) = (done.len(), failed.len() + gone.len());
    loupe
        .store()
        .record_work(&WorkResult {
            version_row: job.version_row,
            kind: WorkKind::Tag,
            job: job.job_id.clone(),
            work_key: run.work_key.clone(),
            source: run.source.clone(),
            done,
            failed,
            dropped_tags: i64::try_from(dropped).unwrap_or(i64::MAX),
            at: Timestamp::now(),
        })
        .await?;
    if dropped > 0 {
        work::log(
            loupe,
            job,
            "warn",
            &format!("the model gave {dropped} tag names outside the definition: dropped"),
        )
        .await;
    }
    Ok(work::succeeded(
        i64::try_from(completed).unwrap_or(i64::MAX),
        i64::try_from(failures).unwrap_or(i64::MAX),
    ))
}

/// Runs one task of a revert job: one transaction removes the tags.
pub async fn revert(
    loupe: &Loupe,
    cache: &JobCache,
    task: &ClaimedTask,
) -> Result<TaskOutcome, TaskError> {
    let job = &task.job;
    match task_payload(task)? {
        TaskPayload::Finalize => work::finalize(loupe, cache, job, "reverted").await,
        TaskPayload::Plan => {
            let spec: IntelligentTagRevertSpec = read_spec(&job.spec)?;
            let store = loupe.store();
            let touched = store
                .revert_tags(
                    job.version_row,
                    &JobId::from_raw(&spec.tag_job_id),
                    Timestamp::now(),
                )
                .await?;
            store.set_job_total(&job.job_id, touched).await?;
            work::log(
                loupe,
                job,
                "info",
                &format!(
                    "removed the ai tags of job {} from {touched} files",
                    spec.tag_job_id
                ),
            )
            .await;
            Ok(work::succeeded(touched, 0))
        }
        other => Err(unexpected(&other)),
    }
}
