//! Datasets: named collections of images at a storage location.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::connection::BuiltIn;
use crate::ids::{DatasetId, WorkspaceId};
use crate::time::Timestamp;
use crate::workspace::{validate_description, validate_name};
use crate::{Error, ErrorCode, Result};

/// Longest dataset name.
pub const MAX_DATASET_NAME: usize = 128;
/// Most labels on one dataset.
pub const MAX_LABELS: usize = 32;
/// Longest label key or value.
pub const MAX_LABEL_LEN: usize = 128;
/// Longest storage URI.
pub const MAX_URI_LEN: usize = 1024;

/// What the dataset holds. Loupe manages images only, as PAI's multimodal data management does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum DataType {
    /// Pictures.
    #[default]
    #[serde(rename = "PIC")]
    Pic,
}

/// How the URI is read: as a folder of files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Property {
    /// The URI is a folder (prefix); every supported image below it belongs to the dataset.
    #[default]
    #[serde(rename = "DIRECTORY")]
    Directory,
}

/// Whether the files are in storage or referenced from other datasets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum DatasetType {
    /// Files live under the dataset's storage URI.
    #[default]
    Premium,
    /// Versions are lists of references to files of other datasets (filled by export jobs).
    Logical,
}

impl DatasetType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetType::Premium => "Premium",
            DatasetType::Logical => "Logical",
        }
    }

    /// Parses the stored name.
    pub fn from_stored(s: &str) -> Result<Self> {
        match s {
            "Premium" => Ok(DatasetType::Premium),
            "Logical" => Ok(DatasetType::Logical),
            other => Err(Error::internal(
                "reading dataset",
                format!("unknown stored dataset type '{other}'"),
            )),
        }
    }
}

/// A key/value label, as in PAI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Label {
    /// Label key.
    pub key: String,
    /// Label value.
    #[serde(default)]
    pub value: String,
}

/// A dataset as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Dataset {
    /// The dataset id.
    pub dataset_id: DatasetId,
    /// Unique within the workspace.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Key/value labels.
    pub labels: Vec<Label>,
    /// Storage location: `s3://bucket/prefix`, `oss://bucket/prefix` or `file:///abs/path`; empty for a logical dataset without one.
    pub uri: String,
    /// Always `PIC`.
    pub data_type: DataType,
    /// Always `DIRECTORY`.
    pub property: Property,
    /// `Premium` or `Logical`.
    pub dataset_type: DatasetType,
    /// The object-store connection used to read `s3://` and `oss://` URIs.
    pub connection_id: Option<String>,
    /// Where `SemanticIndex` jobs put the dataset's vectors and where vector search looks.
    pub index_config: IndexConfig,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_create_time: Timestamp,
    /// When it was last changed.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_modified_time: Timestamp,
}

/// A dataset's index configuration (PAI's "Index Configuration"): the embedding model,
/// the vector database and the index. Unset fields read as the workspace's built-ins
/// (`local-model`, `embedded-vectors`) and the dataset's own default index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct IndexConfig {
    /// An `EmbeddingModel` connection.
    pub embedding_connection_id: String,
    /// A `VectorDatabase` connection.
    pub vector_connection_id: String,
    /// The index (table, collection) in that database.
    #[schema(example = "dataset_embed_test")]
    pub index_name: String,
}

/// The stored form of an [`IndexConfig`]: `None` means the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredIndexConfig {
    /// The embedding connection, unless the built-in.
    pub embedding_connection_id: Option<String>,
    /// The vector connection, unless the built-in.
    pub vector_connection_id: Option<String>,
    /// The index name, unless the dataset's default.
    pub index_name: Option<String>,
}

impl StoredIndexConfig {
    /// The effective configuration of a dataset of `ws`.
    pub fn resolve(&self, ws: &WorkspaceId, dataset: &DatasetId) -> IndexConfig {
        IndexConfig {
            embedding_connection_id: self
                .embedding_connection_id
                .clone()
                .unwrap_or_else(|| BuiltIn::LocalModel.id(ws).to_string()),
            vector_connection_id: self
                .vector_connection_id
                .clone()
                .unwrap_or_else(|| BuiltIn::EmbeddedVectors.id(ws).to_string()),
            index_name: self
                .index_name
                .clone()
                .unwrap_or_else(|| default_index_name(dataset)),
        }
    }
}

/// The index a dataset uses when none is configured: its own, so datasets embedded with
/// different models never share an index of the wrong dimension.
pub fn default_index_name(dataset: &DatasetId) -> String {
    let id: String = dataset
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("loupe_{id}")
}

/// Longest index name.
pub const MAX_INDEX_NAME: usize = 128;

/// Checks an index name: letters, digits, `_` and `-`, starting with a letter or digit.
pub fn validate_index_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_INDEX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidName,
            format!(
                "IndexConfig.IndexName '{name}' must be 1 to {MAX_INDEX_NAME} letters, digits, '_' or '-', starting with a letter or digit"
            ),
        ))
    }
}

/// `IndexConfig` in `UpdateDataset`: only the fields given change; `""` puts a field back
/// to its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IndexConfigUpdate {
    /// An `EmbeddingModel` connection of the workspace.
    #[serde(default)]
    pub embedding_connection_id: Option<String>,
    /// A `VectorDatabase` connection of the workspace.
    #[serde(default)]
    pub vector_connection_id: Option<String>,
    /// The index name.
    #[serde(default)]
    pub index_name: Option<String>,
}

/// `CreateDataset` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewDataset {
    /// 1 to 128 letters, digits, `_`, `-` or `.`, starting with a letter or digit; unique in the workspace.
    pub name: String,
    /// Storage location. Required for `Premium` datasets.
    #[serde(default)]
    pub uri: Option<String>,
    /// Only `PIC` is supported.
    #[serde(default)]
    pub data_type: DataType,
    /// Only `DIRECTORY` is supported.
    #[serde(default)]
    pub property: Property,
    /// `Premium` (default) or `Logical`.
    #[serde(default)]
    pub dataset_type: DatasetType,
    /// Object-store connection for `s3://` and `oss://` URIs.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// Free text, at most 1024 characters.
    #[serde(default)]
    pub description: String,
    /// At most 32 labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

/// `UpdateDataset` body: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DatasetUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New labels (replace the old ones).
    pub labels: Option<Vec<Label>>,
    /// Changes to the index configuration. Vectors already written stay where they are:
    /// run a `SemanticIndex` job (or `…/action/refreshindex`) to fill the new index.
    pub index_config: Option<IndexConfigUpdate>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    pub workspace_id: Option<String>,
}

/// Checks a dataset name.
pub fn validate_dataset_name(name: &str) -> Result<()> {
    validate_name("dataset name", name, MAX_DATASET_NAME)
}

/// Checks labels and description, shared by create and update.
pub fn validate_details(description: Option<&str>, labels: Option<&[Label]>) -> Result<()> {
    if let Some(description) = description {
        validate_description(description)?;
    }
    let Some(labels) = labels else { return Ok(()) };
    if labels.len() > MAX_LABELS {
        return Err(Error::invalid(format!(
            "too many Labels: at most {MAX_LABELS}"
        )));
    }
    for label in labels {
        if label.key.is_empty() || label.key.chars().count() > MAX_LABEL_LEN {
            return Err(Error::invalid(format!(
                "label Key must be 1 to {MAX_LABEL_LEN} characters"
            )));
        }
        if label.value.chars().count() > MAX_LABEL_LEN {
            return Err(Error::invalid(format!(
                "label Value of '{}' is longer than {MAX_LABEL_LEN} characters",
                label.key
            )));
        }
    }
    Ok(())
}

/// A parsed storage location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUri {
    /// An S3-compatible bucket and key prefix.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix, without a leading slash; may be empty.
        prefix: String,
    },
    /// An Alibaba OSS bucket and key prefix.
    Oss {
        /// Bucket name.
        bucket: String,
        /// Key prefix, without a leading slash; may be empty.
        prefix: String,
    },
    /// A local folder.
    File {
        /// Absolute, normalised path.
        path: PathBuf,
    },
}

impl StorageUri {
    /// Parses and checks a URI. Any problem is an `InvalidUri` that says what form is expected.
    pub fn parse(uri: &str) -> Result<Self> {
        if uri.len() > MAX_URI_LEN || uri.chars().any(char::is_control) {
            return Err(invalid_uri(uri, "it is too long or has control characters"));
        }
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = split_bucket(uri, rest)?;
            return Ok(StorageUri::S3 { bucket, prefix });
        }
        if let Some(rest) = uri.strip_prefix("oss://") {
            let (bucket, prefix) = split_bucket(uri, rest)?;
            return Ok(StorageUri::Oss { bucket, prefix });
        }
        if let Some(rest) = uri.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(invalid_uri(
                    uri,
                    "a file URI needs an absolute path: file:///abs/path",
                ));
            }
            if has_parent_or_dot_segment(rest) {
                return Err(invalid_uri(uri, "'.' and '..' segments are not allowed"));
            }
            let path: PathBuf = Path::new(rest).components().collect();
            return Ok(StorageUri::File { path });
        }
        Err(invalid_uri(
            uri,
            "use s3://bucket/prefix, oss://bucket/prefix or file:///abs/path",
        ))
    }

    /// Whether reading this location needs an object-store connection.
    pub fn needs_connection(&self) -> bool {
        !matches!(self, StorageUri::File { .. })
    }
}

fn invalid_uri(uri: &str, why: &str) -> Error {
    Error::new(
        ErrorCode::InvalidUri,
        format!("Uri '{uri}' is invalid: {why}"),
    )
}

fn has_parent_or_dot_segment(path: &str) -> bool {
    path.split('/')
        .any(|segment| segment == ".." || segment == ".")
}

/// Splits `bucket/prefix` and checks the bucket against the S3 naming rules, which OSS shares.
fn split_bucket(uri: &str, rest: &str) -> Result<(String, String)> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric();
    if !bucket_ok {
        return Err(invalid_uri(
            uri,
            "the bucket must be 3 to 63 lowercase letters, digits, '-' or '.'",
        ));
    }
    if has_parent_or_dot_segment(prefix) {
        return Err(invalid_uri(uri, "'.' and '..' segments are not allowed"));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// The folders `file://` datasets may live under (`LOUPE_LOCAL_ROOTS`). Empty refuses
/// every local dataset, so no tenant can read the server's own files by default.
#[derive(Debug, Clone, Default)]
pub struct LocalRoots(Vec<PathBuf>);

impl LocalRoots {
    /// From absolute folders, normalised the same way as URIs.
    pub fn new(roots: impl IntoIterator<Item = PathBuf>) -> Self {
        Self(
            roots
                .into_iter()
                .map(|root| root.components().collect())
                .collect(),
        )
    }

    /// Fails with `LocalPathNotAllowed`, naming the setting, when the path is outside every root.
    /// The path is already free of `..` segments, so a component-wise prefix check is sound.
    pub fn check(&self, path: &Path) -> Result<()> {
        if self.0.iter().any(|root| path.starts_with(root)) {
            return Ok(());
        }
        let allowed = if self.0.is_empty() {
            "none are allowed yet".to_string()
        } else {
            let list: Vec<String> = self.0.iter().map(|r| r.display().to_string()).collect();
            format!("allowed: {}", list.join(", "))
        };
        Err(Error::new(
            ErrorCode::LocalPathNotAllowed,
            format!(
                "local folder {} is outside LOUPE_LOCAL_ROOTS ({allowed}); add its parent folder to LOUPE_LOCAL_ROOTS on the server",
                path.display()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_object_store_uris() {
        assert_eq!(
            StorageUri::parse("s3://my-bucket/frames/2024").unwrap(),
            StorageUri::S3 {
                bucket: "my-bucket".into(),
                prefix: "frames/2024".into()
            }
        );
        assert_eq!(
            StorageUri::parse("oss://bkt").unwrap(),
            StorageUri::Oss {
                bucket: "bkt".into(),
                prefix: String::new()
            }
        );
    }

    #[test]
    fn refuses_malformed_uris() {
        for bad in [
            "http://x/y",
            "s3://",
            "s3://UPPER/x",
            "s3://ab/x",
            "s3://bucket/../x",
            "file://relative/x",
            "file:///data/../etc",
            "/data/images",
        ] {
            let err = StorageUri::parse(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidUri, "{bad}");
        }
    }

    #[test]
    fn local_paths_must_be_under_a_root() {
        let roots = LocalRoots::new([PathBuf::from("/data/images/")]);
        let inside = StorageUri::parse("file:///data/images/cats").unwrap();
        let StorageUri::File { path } = inside else {
            panic!()
        };
        assert!(roots.check(&path).is_ok());
        let sibling = PathBuf::from("/data/images-private");
        let err = roots.check(&sibling).unwrap_err();
        assert_eq!(err.code(), ErrorCode::LocalPathNotAllowed);
        assert!(err.message().contains("LOUPE_LOCAL_ROOTS"));
        assert!(LocalRoots::default().check(&path).is_err());
    }
}
