//! Dataset versions: `v1`, `v2`, … The set of files of a dataset at one point in time.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::DatasetId;
use crate::time::Timestamp;
use crate::{Error, ErrorCode, Result};

/// Where a version is in its life. A version is created `Pending`; the metadata build
/// moves it through `Building` to `Ready` or `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum VersionState {
    /// Recorded; its file list has not been built yet.
    Pending,
    /// The metadata build is running.
    Building,
    /// The file list is complete.
    Ready,
    /// The last build failed.
    Failed,
}

impl VersionState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Pending => "Pending",
            VersionState::Building => "Building",
            VersionState::Ready => "Ready",
            VersionState::Failed => "Failed",
        }
    }

    /// Parses the stored name.
    pub fn from_stored(s: &str) -> Result<Self> {
        match s {
            "Pending" => Ok(VersionState::Pending),
            "Building" => Ok(VersionState::Building),
            "Ready" => Ok(VersionState::Ready),
            "Failed" => Ok(VersionState::Failed),
            other => Err(Error::internal(
                "reading dataset version",
                format!("unknown stored version state '{other}'"),
            )),
        }
    }
}

/// A version's number; shown as `v{n}`. Numbers are never reused after a delete, so a
/// name always means the same snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct VersionName(i64);

impl VersionName {
    /// From the stored number.
    pub fn from_number(n: i64) -> Self {
        debug_assert!(n >= 1);
        Self(n)
    }

    /// The number.
    pub fn number(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for VersionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl FromStr for VersionName {
    type Err = Error;

    /// `v1`, `v2`, …; anything else is a missing version, not a malformed request,
    /// because the name comes from a path.
    fn from_str(s: &str) -> Result<Self> {
        s.strip_prefix('v')
            .filter(|digits| {
                !digits.starts_with('0')
                    && (1..=18).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
            })
            .and_then(|digits| digits.parse::<i64>().ok())
            .map(VersionName)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::DatasetVersionNotFound,
                    format!("dataset version '{s}' not found: versions are named v1, v2, …"),
                )
            })
    }
}

impl Serialize for VersionName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A dataset version as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetVersion {
    /// The dataset it belongs to.
    pub dataset_id: DatasetId,
    /// `v1`, `v2`, …
    #[schema(value_type = String, example = "v1")]
    pub version_name: VersionName,
    /// Free text.
    pub description: String,
    /// `Pending`, `Building`, `Ready` or `Failed`.
    pub state: VersionState,
    /// Number of files in the version.
    pub data_count: i64,
    /// Total size of those files in bytes.
    pub data_size: i64,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_create_time: Timestamp,
    /// When it was last changed.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_modified_time: Timestamp,
}

/// `CreateDatasetVersion` body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewVersion {
    /// Free text, at most 1024 characters.
    #[serde(default)]
    pub description: String,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

/// `UpdateDatasetVersion` body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VersionUpdate {
    /// New description.
    pub description: Option<String>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    pub workspace_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_round_trip() {
        let v: VersionName = "v12".parse().unwrap();
        assert_eq!(v.number(), 12);
        assert_eq!(v.to_string(), "v12");
        for bad in [
            "12",
            "v",
            "v0",
            "v01",
            "v-1",
            "v+1",
            "V1",
            "v99999999999999999999",
        ] {
            let err = bad.parse::<VersionName>().unwrap_err();
            assert_eq!(err.code(), ErrorCode::DatasetVersionNotFound, "{bad}");
        }
    }
}
