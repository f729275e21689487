//! Row shapes shared by both engines, and their conversion to domain types.

use loupe_core::auth::Role;
use loupe_core::dataset::{Dataset, DatasetType, Label, StoredIndexConfig};
use loupe_core::ids::{ApiKeyId, DatasetId, WorkspaceId};
use loupe_core::time::Timestamp;
use loupe_core::version::{DatasetVersion, VersionName, VersionState};
use loupe_core::workspace::{ApiKey, Workspace};
use loupe_core::{Error, Result};

/// Columns of `workspaces`, in the order of [`WorkspaceRow`].
pub(crate) const WORKSPACE_COLUMNS: &str = "id, name, description, created_at";
/// Columns of `api_keys`, in the order of [`ApiKeyRow`].
pub(crate) const API_KEY_COLUMNS: &str = "id, name, role, display_prefix, created_at, revoked_at";
/// Columns of `datasets`, in the order of [`DatasetRow`].
pub(crate) const DATASET_COLUMNS: &str =
    "id, name, description, labels, uri, data_type, property, \
     dataset_type, connection_id, created_at, modified_at, workspace_id, \
     index_embedding_connection_id, index_vector_connection_id, index_name";
/// Columns of `dataset_versions`, in the order of [`VersionRow`].
pub(crate) const VERSION_COLUMNS: &str =
    "dataset_id, number, description, state, data_count, data_size, created_at, modified_at";

#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow {
    id: String,
    name: String,
    description: String,
    created_at: i64,
}

impl From<WorkspaceRow> for Workspace {
    fn from(row: WorkspaceRow) -> Self {
        Workspace {
            workspace_id: WorkspaceId::from_raw(row.id),
            name: row.name,
            description: row.description,
            gmt_create_time: Timestamp::from_millis(row.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: String,
    name: String,
    role: String,
    display_prefix: String,
    pub(crate) created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = Error;

    fn try_from(row: ApiKeyRow) -> Result<Self> {
        Ok(ApiKey {
            key_id: ApiKeyId::from_raw(row.id),
            name: row.name,
            role: parse_role(&row.role)?,
            key_prefix: row.display_prefix,
            gmt_create_time: Timestamp::from_millis(row.created_at),
            gmt_revoke_time: row.revoked_at.map(Timestamp::from_millis),
        })
    }
}

/// A stored role; anything else means the table was edited by hand.
pub(crate) fn parse_role(role: &str) -> Result<Role> {
    role.parse()
        .map_err(|_| Error::internal("reading api key", format!("unknown stored role '{role}'")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct DatasetRow {
    id: String,
    name: String,
    description: String,
    labels: String,
    uri: String,
    data_type: String,
    property: String,
    dataset_type: String,
    connection_id: Option<String>,
    created_at: i64,
    modified_at: i64,
    workspace_id: String,
    index_embedding_connection_id: Option<String>,
    index_vector_connection_id: Option<String>,
    index_name: Option<String>,
}

impl TryFrom<DatasetRow> for Dataset {
    type Error = Error;

    fn try_from(row: DatasetRow) -> Result<Self> {
        let labels: Vec<Label> = serde_json::from_str(&row.labels)
            .map_err(|e| Error::internal("reading dataset labels", e))?;
        let enum_value = |v: &str| serde_json::Value::String(v.to_string());
        let dataset_id = DatasetId::from_raw(row.id);
        let index_config = StoredIndexConfig {
            embedding_connection_id: row.index_embedding_connection_id,
            vector_connection_id: row.index_vector_connection_id,
            index_name: row.index_name,
        }
        .resolve(&WorkspaceId::from_raw(row.workspace_id), &dataset_id);
        Ok(Dataset {
            dataset_id,
            name: row.name,
            description: row.description,
            labels,
            uri: row.uri,
            data_type: serde_json::from_value(enum_value(&row.data_type))
                .map_err(|e| Error::internal("reading dataset data type", e))?,
            property: serde_json::from_value(enum_value(&row.property))
                .map_err(|e| Error::internal("reading dataset property", e))?,
            dataset_type: DatasetType::from_stored(&row.dataset_type)?,
            connection_id: row.connection_id,
            index_config,
            gmt_create_time: Timestamp::from_millis(row.created_at),
            gmt_modified_time: Timestamp::from_millis(row.modified_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    /// Present when the query returns it (`RETURNING id, …`).
    #[sqlx(default)]
    pub(crate) id: i64,
    dataset_id: String,
    pub(crate) number: i64,
    description: String,
    state: String,
    data_count: i64,
    data_size: i64,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<VersionRow> for DatasetVersion {
    type Error = Error;

    fn try_from(row: VersionRow) -> Result<Self> {
        Ok(DatasetVersion {
            dataset_id: DatasetId::from_raw(row.dataset_id),
            version_name: VersionName::from_number(row.number),
            description: row.description,
            state: VersionState::from_stored(&row.state)?,
            data_count: row.data_count,
            data_size: row.data_size,
            gmt_create_time: Timestamp::from_millis(row.created_at),
            gmt_modified_time: Timestamp::from_millis(row.modified_at),
        })
    }
}

/// Converts fetched rows, failing on the first row that does not parse.
pub(crate) fn convert_all<R, T>(rows: Vec<R>) -> Result<Vec<T>>
where
    T: TryFrom<R, Error = Error>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// The stored form of a serde unit enum such as `DataType::Pic` (`"PIC"`).
pub(crate) fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Columns of `jobs`, in the order of [`JobRow`].
pub(crate) const JOB_COLUMNS: &str =
    "id, dataset_id, version_number, action, mode, spec, description, status, \
     total_files, completed_files, failed_files, message, created_at, started_at, finished_at";

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: String,
    dataset_id: String,
    version_number: i64,
    action: String,
    mode: String,
    spec: String,
    description: String,
    status: String,
    total_files: i64,
    completed_files: i64,
    failed_files: i64,
    message: String,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

impl TryFrom<JobRow> for loupe_core::job::DatasetJob {
    type Error = Error;

    fn try_from(row: JobRow) -> Result<Self> {
        use loupe_core::job::{JobAction, JobMode, JobStatus};
        Ok(Self {
            dataset_job_id: loupe_core::ids::JobId::from_raw(row.id),
            dataset_id: DatasetId::from_raw(row.dataset_id),
            dataset_version: VersionName::from_number(row.version_number).to_string(),
            job_action: JobAction::from_stored(&row.action)?,
            job_mode: JobMode::from_stored(&row.mode)?,
            job_spec: serde_json::from_str(&row.spec).unwrap_or_default(),
            description: row.description,
            status: JobStatus::from_stored(&row.status)?,
            total_file_count: row.total_files,
            completed_file_count: row.completed_files,
            failed_file_count: row.failed_files,
            message: row.message,
            create_time: Timestamp::from_millis(row.created_at),
            start_time: row.started_at.map(Timestamp::from_millis),
            finish_time: row.finished_at.map(Timestamp::from_millis),
        })
    }
}

/// Columns of `file_metas`, in the order of [`FileMetaRow`].
pub(crate) const FILE_META_COLUMNS: &str =
    "file_id, uri, file_key, name, dir, size, fingerprint, content_type, \
     created_at, updated_at, width, height, semantic_index_job_id, semantic_index_update_time, \
     tag_update_time";

#[derive(sqlx::FromRow)]
pub(crate) struct FileMetaRow {
    file_id: String,
    uri: String,
    file_key: String,
    name: String,
    dir: String,
    size: i64,
    fingerprint: String,
    content_type: String,
    created_at: i64,
    updated_at: i64,
    width: Option<i32>,
    height: Option<i32>,
    semantic_index_job_id: Option<String>,
    semantic_index_update_time: Option<i64>,
    tag_update_time: Option<i64>,
}

impl From<FileMetaRow> for loupe_core::file_meta::FileMetaRecord {
    fn from(row: FileMetaRow) -> Self {
        Self {
            file_id: row.file_id,
            uri: row.uri,
            key: row.file_key,
            name: row.name,
            dir: row.dir,
            size: row.size,
            fingerprint: row.fingerprint,
            content_type: row.content_type,
            created_at: row.created_at,
            updated_at: row.updated_at,
            width: row.width.map(i64::from),
            height: row.height.map(i64::from),
            stamps: loupe_core::file_meta::FileStamps {
                semantic_index_job_id: row.semantic_index_job_id,
                semantic_index_update_time: row.semantic_index_update_time,
                tag_update_time: row.tag_update_time,
            },
        }
    }
}
