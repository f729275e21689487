//! Signed links: the file itself and its thumbnails, without an API key. The link's
//! signature and expiry are the authorisation; they come from `DownloadUrl` and
//! `ThumbnailUrl` of a file meta.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use loupe_core::ids::{DatasetId, WorkspaceId};
use loupe_core::service::{FileRef, LinkKind, LinkSignature};
use loupe_core::ErrorCode;
use loupe_jobs::media::{render_thumbnail, Fit};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

/// Largest file served through a link or decoded for a thumbnail.
const MAX_LINKED_BYTES: u64 = 256 * 1024 * 1024;
/// Largest thumbnail side.
const MAX_THUMBNAIL_SIDE: u32 = 2048;

/// The path of a signed link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LinkPath {
    /// The workspace.
    #[serde(rename = "WorkspaceId")]
    #[param(rename = "WorkspaceId")]
    pub workspace_id: String,
    /// The dataset.
    #[serde(rename = "DatasetId")]
    #[param(rename = "DatasetId")]
    pub dataset_id: String,
    /// The version.
    #[serde(rename = "VersionName")]
    #[param(rename = "VersionName")]
    pub version_name: String,
    /// The file meta.
    #[serde(rename = "DatasetFileMetaId")]
    #[param(rename = "DatasetFileMetaId")]
    pub dataset_file_meta_id: String,
}

/// The signature of a link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct Signed {
    /// Unix time the link expires at.
    pub expires: i64,
    /// HMAC of the path and expiry.
    pub signature: String,
}

/// The signature of a thumbnail link, and the box to fit.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "PascalCase")]
pub struct ThumbnailQuery {
    /// Unix time the link expires at.
    pub expires: i64,
    /// HMAC of the path and expiry.
    pub signature: String,
    /// Box width, 1 to 2048 (default 256).
    pub width: Option<u32>,
    /// Box height, 1 to 2048 (default 256).
    pub height: Option<u32>,
    /// `contain` (default), `cover` or `fill`.
    pub fit: Option<String>,
}

async fn open(
    state: &AppState,
    kind: LinkKind,
    path: &LinkPath,
    expires: i64,
    signature: &str,
) -> Result<loupe_core::service::OpenedFile, ApiError> {
    let workspace = WorkspaceId::from_raw(path.workspace_id.clone());
    let dataset = DatasetId::from_raw(path.dataset_id.clone());
    let file = FileRef {
        workspace: &workspace,
        dataset: &dataset,
        version: path.version_name.parse()?,
        file_id: &path.dataset_file_meta_id,
    };
    let opened = state
        .loupe
        .open_linked_file(kind, &file, LinkSignature { expires, signature })
        .await?;
    Ok(opened)
}

/// The whole file behind a link, up to the size Loupe serves or decodes.
async fn read(opened: &loupe_core::service::OpenedFile) -> Result<bytes::Bytes, ApiError> {
    let bytes = opened.store.get(&opened.record.key, MAX_LINKED_BYTES).await;
    Ok(bytes.map_err(loupe_core::Error::from)?)
}

/// The file behind a signed `DownloadUrl` (local folders; object stores presign their own).
#[utoipa::path(get, path = "/links/files/{WorkspaceId}/{DatasetId}/{VersionName}/{DatasetFileMetaId}", tag = "filemetas",
    operation_id = "DownloadFile", security(()), params(LinkPath, Signed),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = 403, description = "bad or expired signature", body = crate::error::ErrorEnvelope),
        (status = 404, description = "no such file", body = crate::error::ErrorEnvelope)))]
pub async fn download(
    State(state): State<AppState>,
    Path(path): Path<LinkPath>,
    ApiQuery(signed): ApiQuery<Signed>,
) -> Result<Response, ApiError> {
    let opened = open(
        &state,
        LinkKind::Download,
        &path,
        signed.expires,
        &signed.signature,
    )
    .await?;
    let bytes = read(&opened).await?;
    let content_type = HeaderValue::from_str(&opened.record.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok(([(header::CONTENT_TYPE, content_type)], Body::from(bytes)).into_response())
}

/// A JPEG thumbnail behind a signed `ThumbnailUrl`, EXIF orientation applied, cached on disk.
#[utoipa::path(get, path = "/links/thumbnails/{WorkspaceId}/{DatasetId}/{VersionName}/{DatasetFileMetaId}", tag = "filemetas",
    operation_id = "GetThumbnail", security(()), params(LinkPath, ThumbnailQuery),
    responses((status = 200, description = "a JPEG thumbnail", content_type = "image/jpeg"),
        (status = 400, description = "bad size or fit, or an undecodable image", body = crate::error::ErrorEnvelope),
        (status = 403, description = "bad or expired signature", body = crate::error::ErrorEnvelope)))]
pub async fn thumbnail(
    State(state): State<AppState>,
    Path(path): Path<LinkPath>,
    ApiQuery(query): ApiQuery<ThumbnailQuery>,
) -> Result<Response, ApiError> {
    let width = query.width.unwrap_or(256);
    let height = query.height.unwrap_or(256);
    if !(1..=MAX_THUMBNAIL_SIDE).contains(&width) || !(1..=MAX_THUMBNAIL_SIDE).contains(&height) {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!("Width and Height must be from 1 to {MAX_THUMBNAIL_SIDE}"),
        ));
    }
    let fit = match query.fit.as_deref().unwrap_or("contain") {
        "contain" => Fit::Contain,
        "cover" => Fit::Cover,
        "fill" => Fit::Fill,
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!("Fit '{other}' is not one of contain, cover, fill"),
            ))
        }
    };
    let opened = open(
        &state,
        LinkKind::Thumbnail,
        &path,
        query.expires,
        &query.signature,
    )
    .await?;
    let record = &opened.record;
    // The fingerprint and update time make a changed file miss the cache.
    let key = format!(
        "{}/{}/{}/{}/{}/{width}x{height}/{fit:?}",
        path.workspace_id, path.dataset_id, record.file_id, record.fingerprint, record.updated_at
    );
    let cache = state.thumbnail_cache.as_deref();
    if let Some(cached) = match cache {
        Some(cache) => cache.get(&key).await,
        None => None,
    } {
        return Ok(jpeg(cached));
    }
    let bytes = read(&opened).await?;
    let rendered =
        tokio::task::spawn_blocking(move || render_thumbnail(&bytes, width, height, fit))
            .await
            .map_err(|e| loupe_core::Error::internal("rendering a thumbnail", e.to_string()))?
            .map_err(|reason| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    format!("{}: {reason}", record.uri),
                )
            })?;
    if let Some(cache) = cache {
        cache.put(&key, &rendered).await;
    }
    Ok(jpeg(rendered))
}

fn jpeg(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}
