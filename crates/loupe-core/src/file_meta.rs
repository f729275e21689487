//! File metas (PAI's `DatasetFileMeta`): one image of one dataset version.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::ids::DatasetId;
use crate::time::Timestamp;
use crate::version::VersionName;

/// The image formats a version may hold, by extension (lowercase).
pub const SUPPORTED_EXTENSIONS: &[&str] =
    &["jpg", "jpeg", "png", "gif", "bmp", "tiff", "tif", "webp"];

/// The id of a file meta: derived from the dataset, version and storage key, so a file
/// listed again (by a retried or incremental build) keeps its id.
pub fn file_meta_id(dataset: &DatasetId, version: VersionName, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(dataset.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(version.number().to_le_bytes());
    hasher.update(key.as_bytes());
    hex::encode(&hasher.finalize()[..12])
}

/// The lowercase extension of a key, if it is a supported image format.
pub fn supported_extension(key: &str) -> Option<String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    SUPPORTED_EXTENSIONS.contains(&ext.as_str()).then_some(ext)
}

/// The MIME type for a supported extension.
pub fn content_type_of(ext: &str) -> &'static str {
    match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// Image attributes read from the header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetaAttributes {
    /// Width in pixels.
    pub image_width: Option<i64>,
    /// Height in pixels.
    pub image_height: Option<i64>,
}

/// A file meta as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetFileMeta {
    /// The file meta id.
    pub dataset_file_meta_id: String,
    /// The dataset.
    pub dataset_id: DatasetId,
    /// The version.
    #[schema(value_type = String, example = "v1")]
    pub dataset_version: VersionName,
    /// Full storage URI, e.g. `s3://bucket/frames/0001.jpg`.
    pub uri: String,
    /// The file name.
    pub file_name: String,
    /// The folder, relative to the dataset's URI (`""` at the top).
    pub file_dir: String,
    /// Size in bytes.
    pub data_size: i64,
    /// ETag in object storage, MD5 of the content for local files.
    pub file_finger_print: String,
    /// Always `image`.
    pub file_type: String,
    /// MIME type from the file's header.
    pub content_type: String,
    /// When the file was created (when storage knows; else its update time).
    #[schema(value_type = String, format = DateTime)]
    pub file_create_time: Timestamp,
    /// When the file last changed.
    #[schema(value_type = String, format = DateTime)]
    pub file_update_time: Timestamp,
    /// Width and height.
    pub meta_attributes: MetaAttributes,
    /// Tags by group.
    pub tags: FileTags,
    /// When the file's tags last changed.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub tag_update_time: Option<Timestamp>,
    /// The `SemanticIndex` job that last embedded the file.
    pub semantic_index_job_id: Option<String>,
    /// When that job embedded it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub semantic_index_update_time: Option<Timestamp>,
    /// Similarity to the query (vector searches only); higher is closer. Its scale
    /// depends on the embedding model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// A signed link to the file, valid for a limited time.
    pub download_url: Option<String>,
    /// A signed link to a thumbnail (`Width`, `Height`, `Fit` may be appended).
    pub thumbnail_url: Option<String>,
}

/// A file's tags by group, as PAI's `Tags` holds them: `ai` from smart-tagging jobs,
/// `user` set by hand, `user-delete-ai-tags` the `ai` tags a user suppressed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileTags {
    /// Tags from `IntelligentTag` jobs (the union over tag definitions).
    #[serde(default)]
    pub ai: Vec<String>,
    /// Tags added by hand.
    #[serde(default)]
    pub user: Vec<String>,
    /// `ai` tags a user suppressed.
    #[serde(default, rename = "user-delete-ai-tags")]
    pub user_delete_ai_tags: Vec<String>,
}

/// The tag groups, as stored.
pub const TAG_GROUPS: [&str; 3] = ["ai", "user", "user-delete-ai-tags"];

impl FileTags {
    /// Adds a tag to a stored group.
    pub fn push(&mut self, group: &str, tag: String) {
        match group {
            "ai" => self.ai.push(tag),
            "user" => self.user.push(tag),
            _ => self.user_delete_ai_tags.push(tag),
        }
    }
}

/// What indexing and tagging stamped on a file meta.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStamps {
    /// The `SemanticIndex` job that last embedded the file.
    pub semantic_index_job_id: Option<String>,
    /// When, ms.
    pub semantic_index_update_time: Option<i64>,
    /// When its tags last changed, ms.
    pub tag_update_time: Option<i64>,
}

/// A file meta row as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMetaRecord {
    /// Derived id, see [`file_meta_id`].
    pub file_id: String,
    /// Full URI.
    pub uri: String,
    /// Key relative to the dataset's URI.
    pub key: String,
    /// File name.
    pub name: String,
    /// Folder relative to the dataset's URI.
    pub dir: String,
    /// Bytes.
    pub size: i64,
    /// ETag or content hash; empty until probed for local files.
    pub fingerprint: String,
    /// MIME type.
    pub content_type: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Update time, ms.
    pub updated_at: i64,
    /// Width, once probed.
    pub width: Option<i64>,
    /// Height, once probed.
    pub height: Option<i64>,
    /// Index and tag stamps.
    pub stamps: FileStamps,
}

impl FileMetaRecord {
    /// Splits a key into folder and name.
    pub fn split_key(key: &str) -> (String, String) {
        match key.rsplit_once('/') {
            Some((dir, name)) => (dir.to_string(), name.to_string()),
            None => (String::new(), key.to_string()),
        }
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SortOrder {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_image_extensions_are_supported() {
        assert_eq!(supported_extension("a/b/C.JPG").as_deref(), Some("jpg"));
        assert_eq!(supported_extension("x.webp").as_deref(), Some("webp"));
        assert!(supported_extension("notes.txt").is_none());
        assert!(supported_extension("dir.jpg/noext").is_none());
    }

    #[test]
    fn ids_are_stable_per_version_and_key() {
        let d = DatasetId::from_raw("d-1");
        let v1 = VersionName::from_number(1);
        assert_eq!(file_meta_id(&d, v1, "a.jpg"), file_meta_id(&d, v1, "a.jpg"));
        assert_ne!(file_meta_id(&d, v1, "a.jpg"), file_meta_id(&d, v1, "b.jpg"));
        assert_ne!(
            file_meta_id(&d, v1, "a.jpg"),
            file_meta_id(&d, VersionName::from_number(2), "a.jpg")
        );
        assert_eq!(file_meta_id(&d, v1, "a.jpg").len(), 24);
    }
}
