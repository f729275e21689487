//! File metas: list and read a version's files with signed links, register files
//! through the API, and open a file behind a signed link.

use std::sync::Arc;

use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{Role, WorkspaceCtx};
use crate::dataset::{Dataset, StorageUri};
use crate::file_meta::{
    content_type_of, file_meta_id, supported_extension, DatasetFileMeta, FileMetaRecord, FileTags,
    MetaAttributes,
};
use crate::ids::{ConnectionId, DatasetId, WorkspaceId};
use crate::storage::ObjectStore;
use crate::time::Timestamp;
use crate::version::VersionName;
use crate::{Error, Result};

use super::{check_workspace_param, FileRef, LinkKind, LinkSignature, Loupe};

/// Most file metas one `CreateDatasetFileMetas` call registers.
const MAX_CREATE: usize = 1000;

/// A page of file metas.
#[derive(Debug, Clone)]
pub struct FileMetaList {
    /// The files.
    pub items: Vec<DatasetFileMeta>,
    /// How many the version holds.
    pub total_count: i64,
    /// Token of the next page.
    pub next_token: Option<String>,
}

/// One file to register.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewFileMeta {
    /// Full URI under the dataset's URI, e.g. `s3://bucket/prefix/a.jpg`.
    pub uri: String,
    /// Size in bytes.
    #[serde(default)]
    pub data_size: i64,
    /// ETag or content hash.
    #[serde(default)]
    pub file_finger_print: String,
    /// MIME type; derived from the extension when left out.
    #[serde(default)]
    pub content_type: Option<String>,
    /// `image` (the only type).
    #[serde(default)]
    pub file_type: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub file_create_time: Option<i64>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub file_update_time: Option<i64>,
    /// Width and height, if known.
    #[serde(default)]
    pub meta_attributes: Option<MetaAttributes>,
}

/// `CreateDatasetFileMetas` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewFileMetas {
    /// The version, e.g. `v1`.
    pub dataset_version: String,
    /// At most 1000 files.
    pub dataset_file_metas: Vec<NewFileMeta>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

/// A file opened through a signed link.
pub struct OpenedFile {
    /// Its object store.
    pub store: Arc<dyn ObjectStore>,
    /// Its meta.
    pub record: FileMetaRecord,
}

impl Loupe {
    /// Reads one file meta with signed links.
    pub async fn get_file_meta(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        version: &str,
        file_id: &str,
    ) -> Result<DatasetFileMeta> {
        let version: VersionName = version.parse()?;
        let ws = ctx.workspace_id();
        let (row, _) = self.store.version_row(ws, dataset, version).await?;
        let record = self.store.get_file_meta(ws, row, file_id).await?;
        let target = self.store.get_dataset(ws, dataset).await?;
        let mut items = self
            .present_all(ws, &target, version, row, vec![(record, None)])
            .await?;
        items
            .pop()
            .ok_or_else(|| Error::internal("presenting a file meta", "no item"))
    }

    /// File metas as the API shows them: with their tags, score and signed links.
    pub(super) async fn present_all(
        &self,
        ws: &WorkspaceId,
        dataset: &Dataset,
        version: VersionName,
        version_row: i64,
        hits: Vec<(FileMetaRecord, Option<f32>)>,
    ) -> Result<Vec<DatasetFileMeta>> {
        let ids: Vec<String> = hits.iter().map(|(r, _)| r.file_id.clone()).collect();
        let mut tags = self.store.file_tags(version_row, &ids).await?;
        let storage = self.open_dataset_storage(ws, dataset).await.ok();
        let mut items = Vec::with_capacity(hits.len());
        for (record, score) in hits {
            let tags = tags.remove(&record.file_id).unwrap_or_default();
            let mut item = self
                .present(ws, dataset, version, storage.as_deref(), record, tags)
                .await;
            item.score = score;
            items.push(item);
        }
        Ok(items)
    }

    async fn present(
        &self,
        ws: &WorkspaceId,
        dataset: &Dataset,
        version: VersionName,
        storage: Option<&dyn ObjectStore>,
        r: FileMetaRecord,
        tags: FileTags,
    ) -> DatasetFileMeta {
        let id = &dataset.dataset_id;
        let file = FileRef {
            workspace: ws,
            dataset: id,
            version,
            file_id: &r.file_id,
        };
        let presigned = match storage {
            Some(store) => store
                .presign_get(&r.key, self.settings.link_ttl)
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let download_url = presigned.unwrap_or_else(|| self.signed_link(LinkKind::Download, &file));
        let thumbnail_url = self.signed_link(LinkKind::Thumbnail, &file);
        DatasetFileMeta {
            thumbnail_url: Some(thumbnail_url),
            download_url: Some(download_url),
            dataset_file_meta_id: r.file_id,
            dataset_id: id.clone(),
            dataset_version: version,
            uri: r.uri,
            file_name: r.name,
            file_dir: r.dir,
            data_size: r.size,
            file_finger_print: r.fingerprint,
            file_type: "image".to_string(),
            content_type: r.content_type,
            file_create_time: Timestamp::from_millis(r.created_at),
            file_update_time: Timestamp::from_millis(r.updated_at),
            meta_attributes: MetaAttributes {
                image_width: r.width,
                image_height: r.height,
            },
            tags,
            tag_update_time: r.stamps.tag_update_time.map(Timestamp::from_millis),
            semantic_index_job_id: r.stamps.semantic_index_job_id,
            semantic_index_update_time: r
                .stamps
                .semantic_index_update_time
                .map(Timestamp::from_millis),
            score: None,
        }
    }

    /// Registers files through the API (editors), for platforms that list their own storage.
    pub async fn create_file_metas(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        new: NewFileMetas,
    ) -> Result<Vec<String>> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, new.workspace_id.as_deref())?;
        if new.dataset_file_metas.is_empty() || new.dataset_file_metas.len() > MAX_CREATE {
            return Err(Error::invalid(format!(
                "DatasetFileMetas must hold 1 to {MAX_CREATE} files"
            )));
        }
        let version: VersionName = new.dataset_version.parse()?;
        let ws = ctx.workspace_id();
        let target = self.store.get_dataset(ws, dataset).await?;
        let (row, _) = self.store.version_row(ws, dataset, version).await?;
        let prefix = format!("{}/", target.uri.trim_end_matches('/'));
        let now = Timestamp::now().millis();
        let mut records = Vec::with_capacity(new.dataset_file_metas.len());
        for (i, file) in new.dataset_file_metas.into_iter().enumerate() {
            let key = file
                .uri
                .strip_prefix(&prefix)
                .filter(|k| {
                    !k.is_empty() && !k.split('/').any(|s| s.is_empty() || s == "." || s == "..")
                })
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "DatasetFileMetas[{i}].Uri must be a file under {prefix}"
                    ))
                })?;
            let ext = supported_extension(key).ok_or_else(|| {
                Error::invalid(format!(
                    "DatasetFileMetas[{i}].Uri is not a supported image (jpg, jpeg, png, gif, bmp, tiff, webp)"
                ))
            })?;
            if file.data_size < 0 || file.file_type.as_deref().is_some_and(|t| t != "image") {
                return Err(Error::invalid(format!(
                    "DatasetFileMetas[{i}]: DataSize must be ≥ 0 and FileType image"
                )));
            }
            let (dir, name) = FileMetaRecord::split_key(key);
            let attributes = file.meta_attributes.unwrap_or_default();
            let updated = file.file_update_time.unwrap_or(now);
            records.push(FileMetaRecord {
                file_id: file_meta_id(dataset, version, key),
                uri: file.uri.clone(),
                key: key.to_string(),
                name,
                dir,
                size: file.data_size,
                fingerprint: file.file_finger_print,
                content_type: file
                    .content_type
                    .unwrap_or_else(|| content_type_of(&ext).to_string()),
                created_at: file.file_create_time.unwrap_or(updated),
                updated_at: updated,
                width: attributes.image_width,
                height: attributes.image_height,
                stamps: Default::default(),
            });
        }
        self.store
            .insert_file_metas(ws, row, &records, Timestamp::now())
            .await?;
        Ok(records.into_iter().map(|r| r.file_id).collect())
    }

    /// Opens the file behind a signed link.
    pub async fn open_linked_file(
        &self,
        kind: LinkKind,
        file: &FileRef<'_>,
        signed: LinkSignature<'_>,
    ) -> Result<OpenedFile> {
        self.verify_link(kind, file, signed)?;
        let FileRef {
            workspace: ws,
            dataset,
            version,
            file_id,
        } = *file;
        let (row, _) = self.store.version_row(ws, dataset, version).await?;
        let record = self.store.get_file_meta(ws, row, file_id).await?;
        let target = self.store.get_dataset(ws, dataset).await?;
        let store = self.open_dataset_storage(ws, &target).await?;
        Ok(OpenedFile { store, record })
    }

    /// The object store of a dataset, with its connection's secrets opened.
    pub async fn open_dataset_storage(
        &self,
        ws: &WorkspaceId,
        dataset: &Dataset,
    ) -> Result<Arc<dyn ObjectStore>> {
        let uri = StorageUri::parse(&dataset.uri)?;
        if let StorageUri::File { path } = &uri {
            self.settings.local_roots.check(path)?;
            return self.opener.open(&uri, None);
        }
        let id = dataset.connection_id.as_deref().ok_or_else(|| {
            Error::invalid(format!(
                "dataset '{}' has no ConnectionId for its {} location",
                dataset.dataset_id, dataset.uri
            ))
        })?;
        let connection = self
            .open_connection(ws, &ConnectionId::from_raw(id))
            .await?;
        self.opener.open(&uri, Some(&connection))
    }
}
