//! Row shapes shared by both engines, and their conversion to domain types.

use loupe_core::auth::Role;
use loupe_core::dataset::{Dataset, DatasetType, Label};
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
     dataset_type, connection_id, created_at, modified_at";
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
}

impl TryFrom<DatasetRow> for Dataset {
    type Error = Error;

    fn try_from(row: DatasetRow) -> Result<Self> {
        let labels: Vec<Label> = serde_json::from_str(&row.labels)
            .map_err(|e| Error::internal("reading dataset labels", e))?;
        let enum_value = |v: &str| serde_json::Value::String(v.to_string());
        Ok(Dataset {
            dataset_id: DatasetId::from_raw(row.id),
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
            gmt_create_time: Timestamp::from_millis(row.created_at),
            gmt_modified_time: Timestamp::from_millis(row.modified_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
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
