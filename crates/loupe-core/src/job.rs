//! Dataset jobs (PAI's `DatasetJob`): asynchronous work on one dataset version, split
//! into tasks that any worker may claim.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{DatasetId, JobId};
use crate::time::Timestamp;
use crate::{Error, Result};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum JobAction {
    /// Lists the dataset's storage and registers the version's file metas.
    FileMetaBuild,
    /// Embeds the version's images into the dataset's vector index (see `IndexConfig`).
    SemanticIndex,
    /// Tags the version's images with a tagging model and a tag definition (`ai` group).
    IntelligentTag,
    /// Removes the `ai` tags an `IntelligentTag` job wrote.
    IntelligentTagRevert,
}

/// Whether a job redoes everything or only what changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum JobMode {
    /// Redo every file.
    #[default]
    Full,
    /// Only new, changed or previously failed files; deleted files are removed.
    Increment,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum JobStatus {
    /// Waiting for a worker.
    Pending,
    /// A worker runs it.
    Running,
    /// Every file succeeded.
    Succeeded,
    /// It finished, but some files failed (see the job's failures).
    PartiallySucceeded,
    /// It could not finish (see `Message`).
    Failed,
    /// Stopped on request.
    Stopped,
}

macro_rules! stored_enum {
    ($ty:ident { $($variant:ident),* $(,)? }) => {
        impl $ty {
            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => stringify!($variant)),* }
            }

            /// Parses the stored name.
            pub fn from_stored(s: &str) -> Result<Self> {
                match s {
                    $(stringify!($variant) => Ok($ty::$variant),)*
                    other => Err(Error::internal(
                        concat!("reading ", stringify!($ty)),
                        format!("unknown stored value '{other}'"),
                    )),
                }
            }
        }
    };
}
stored_enum!(JobAction {
    FileMetaBuild,
    SemanticIndex,
    IntelligentTag,
    IntelligentTagRevert
});
stored_enum!(JobMode { Full, Increment });
stored_enum!(JobStatus {
    Pending,
    Running,
    Succeeded,
    PartiallySucceeded,
    Failed,
    Stopped
});

impl JobStatus {
    /// Whether the job will not change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running)
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetJob {
    /// The job id (`dsjob-…`).
    pub dataset_job_id: JobId,
    /// The dataset.
    pub dataset_id: DatasetId,
    /// The version the job works on.
    #[schema(example = "v1")]
    pub dataset_version: String,
    /// What it does.
    pub job_action: JobAction,
    /// `Full` or `Increment`.
    pub job_mode: JobMode,
    /// The action's options.
    pub job_spec: serde_json::Value,
    /// Free text.
    pub description: String,
    /// Where it is.
    pub status: JobStatus,
    /// Files the job works on (known once the listing is done; grows while it lists).
    pub total_file_count: i64,
    /// Files done.
    pub completed_file_count: i64,
    /// Files that failed; each is listed with its reason under `…/failures`.
    pub failed_file_count: i64,
    /// Why it failed or stopped, or a summary.
    pub message: String,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub create_time: Timestamp,
    /// When a worker started it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start_time: Option<Timestamp>,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finish_time: Option<Timestamp>,
}

/// `CreateDatasetJob` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewJob {
    /// The version to work on, e.g. `v1`.
    pub dataset_version: String,
    /// What to do.
    pub job_action: JobAction,
    /// `Full` (default) or `Increment`.
    #[serde(default)]
    pub job_mode: JobMode,
    /// Options of the action, one typed object per action: `FileMetaBuild` takes none
    /// (`{}`), `SemanticIndex` a [`crate::job_spec::SemanticIndexSpec`], `IntelligentTag`
    /// an [`crate::job_spec::IntelligentTagSpec`], `IntelligentTagRevert` an
    /// [`crate::job_spec::IntelligentTagRevertSpec`].
    #[serde(default)]
    pub job_spec: Option<serde_json::Value>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

/// A file a job could not process, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct JobFailure {
    /// The file.
    pub uri: String,
    /// What went wrong.
    pub reason: String,
    /// When it was recorded.
    #[schema(value_type = String, format = DateTime)]
    pub create_time: Timestamp,
}

/// One line of a job's log.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct JobLog {
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub time: Timestamp,
    /// `info`, `warn` or `error`.
    pub level: String,
    /// What happened.
    pub message: String,
}

/// The task key of a job's last task, which decides its final status.
pub const FINALIZE_TASK: &str = "finalize";

/// What a task does. Stored as JSON in the task row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskPayload {
    /// List the storage and register file metas (one per build).
    List,
    /// Read the headers of the pending files of one chunk.
    Probe {
        /// The chunk number.
        chunk: i64,
    },
    /// Decide the job's final status and counters.
    Finalize,
    /// List the files an index or tag job works on and enqueue them in batches.
    Plan,
    /// Embed or tag one batch of files.
    Batch {
        /// The batch number, unique within the job.
        n: i64,
        /// The file meta ids.
        files: Vec<String>,
    },
}

impl TaskPayload {
    /// The task's unique key within its job.
    pub fn key(&self) -> String {
        match self {
            TaskPayload::List => "list".to_string(),
            TaskPayload::Probe { chunk } => format!("probe-{chunk}"),
            TaskPayload::Finalize => FINALIZE_TASK.to_string(),
            TaskPayload::Plan => "plan".to_string(),
            TaskPayload::Batch { n, .. } => format!("batch-{n}"),
        }
    }

    /// As a task to enqueue.
    pub fn task(&self, max_attempts: i32) -> crate::store::NewTask {
        crate::store::NewTask {
            key: self.key(),
            payload: serde_json::to_value(self).unwrap_or_default(),
            max_attempts,
        }
    }
}

/// Attempts a task gets before it fails for good.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;

/// The tasks a new job of this action starts with.
pub fn initial_tasks(action: JobAction) -> Vec<crate::store::NewTask> {
    match action {
        JobAction::FileMetaBuild => vec![TaskPayload::List.task(DEFAULT_MAX_ATTEMPTS)],
        JobAction::SemanticIndex | JobAction::IntelligentTag | JobAction::IntelligentTagRevert => {
            vec![TaskPayload::Plan.task(DEFAULT_MAX_ATTEMPTS)]
        }
    }
}
