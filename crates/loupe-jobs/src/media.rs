//! Image headers and thumbnails.
//!
//! The probe reads the first bytes of a file (a ranged read, never the whole object,
//! except for local files, whose fingerprint is a content hash) and its last bytes, to
//! tell the format from the magic bytes, read width and height, and catch files cut short.

use std::io::Cursor;

use image::DynamicImage;
use imagesize::ImageType;
use loupe_core::file_meta::supported_extension;
use loupe_core::storage::{ObjectStore, StorageError};
use loupe_core::store::{PendingFile, ProbedFile};
use md5::{Digest, Md5};

/// Bytes read for the header; enough for nearly every file (EXIF blocks can be larger,
/// then a second, larger read follows).
const HEADER_BYTES: u64 = 64 * 1024;
/// The second header read, for files with large metadata blocks before the frame header.
const LARGE_HEADER_BYTES: u64 = 1024 * 1024;
/// Bytes read at the end to check for the format's end marker.
const TAIL_BYTES: u64 = 16;
/// Largest local file hashed for its fingerprint.
pub const MAX_HASHED_BYTES: u64 = 512 * 1024 * 1024;

/// Why a file could not be probed.
#[derive(Debug)]
pub enum ProbeError {
    /// The file itself is bad; this is the reason recorded for it.
    File(String),
    /// Storage failed (may be retryable).
    Storage(StorageError),
}

impl From<StorageError> for ProbeError {
    fn from(err: StorageError) -> Self {
        match err {
            // A file that vanished or cannot be read is a per-file failure, not a fault of the job.
            StorageError::NotFound { .. }
            | StorageError::PermissionDenied { .. }
            | StorageError::TooLarge { .. }
            | StorageError::InvalidKey { .. } => ProbeError::File(err.to_string()),
            other => ProbeError::Storage(other),
        }
    }
}

/// Probes one file. `hash` asks for an MD5 of the whole content (local files, whose
/// listing has no ETag).
pub async fn probe(
    store: &dyn ObjectStore,
    file: &PendingFile,
    hash: bool,
) -> Result<ProbedFile, ProbeError> {
    let size = u64::try_from(file.size).unwrap_or(0);
    if size == 0 {
        return Err(ProbeError::File("empty file (0 bytes)".into()));
    }
    let (mut header, tail, fingerprint) = if hash {
        let bytes = store.get(&file.key, MAX_HASHED_BYTES).await?;
        let fingerprint = hex::encode(Md5::digest(&bytes));
        let end = bytes.len();
        let tail = bytes.slice(end.saturating_sub(TAIL_BYTES as usize)..);
        (bytes, tail, Some(fingerprint))
    } else {
        let header = store
            .get_range(&file.key, 0, HEADER_BYTES.min(size))
            .await?;
        let tail = if size <= HEADER_BYTES {
            header.slice(header.len().saturating_sub(TAIL_BYTES as usize)..)
        } else {
            store.get_range(&file.key, size - TAIL_BYTES, size).await?
        };
        // Some S3-compatible servers list no ETag; ask for it once.
        let fingerprint = match file.fingerprint.is_empty() {
            true => store.head(&file.key).await?.etag,
            false => None,
        };
        (header, tail, fingerprint)
    };
    let kind = imagesize::image_type(&header).map_err(|_| {
        ProbeError::File("not an image: the header matches no known image format".into())
    })?;
    let (family, content_type) = family_of(kind)
        .ok_or_else(|| ProbeError::File(format!("{kind:?} images are not supported")))?;
    let ext = supported_extension(&file.key).unwrap_or_default();
    if family_of_extension(&ext) != Some(family) {
        return Err(ProbeError::File(format!(
            "the content is {family} but the name ends in .{ext}"
        )));
    }
    let mut dims = imagesize::blob_size(&header);
    if dims.is_err() && (header.len() as u64) < size.min(LARGE_HEADER_BYTES) && !hash {
        header = store
            .get_range(&file.key, 0, LARGE_HEADER_BYTES.min(size))
            .await?;
        dims = imagesize::blob_size(&header);
    }
    let dims =
        dims.map_err(|_| ProbeError::File(format!("truncated or corrupt {family} header")))?;
    if !ends_completely(family, &header, &tail, size) {
        return Err(ProbeError::File(format!(
            "truncated {family}: the file ends before the image's end marker"
        )));
    }
    Ok(ProbedFile {
        file_id: file.file_id.clone(),
        width: i64::try_from(dims.width).unwrap_or(i64::MAX),
        height: i64::try_from(dims.height).unwrap_or(i64::MAX),
        content_type: content_type.to_string(),
        fingerprint,
    })
}

fn family_of(kind: ImageType) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        ImageType::Jpeg => ("JPEG", "image/jpeg"),
        ImageType::Png => ("PNG", "image/png"),
        ImageType::Gif => ("GIF", "image/gif"),
        ImageType::Bmp => ("BMP", "image/bmp"),
        ImageType::Tiff => ("TIFF", "image/tiff"),
        ImageType::Webp => ("WebP", "image/webp"),
        _ => return None,
    })
}

fn family_of_extension(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "jpg" | "jpeg" => "JPEG",
        "png" => "PNG",
        "gif" => "GIF",
        "bmp" => "BMP",
        "tif" | "tiff" => "TIFF",
        "webp" => "WebP",
        _ => return None,
    })
}

/// Whether the file reaches its format's end: JPEG's EOI marker, PNG's IEND chunk,
/// GIF's trailer, or the total size BMP and WebP declare in their headers. TIFF has no
/// end marker; its header parse is the check.
fn ends_completely(family: &str, header: &[u8], tail: &[u8], size: u64) -> bool {
    match family {
        // Some encoders pad after EOI, so look for it anywhere in the tail.
        "JPEG" => tail.windows(2).any(|w| w == [0xFF, 0xD9]),
        "PNG" => tail.ends_with(&[0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]),
        "GIF" => tail.last() == Some(&0x3B),
        "BMP" => header
            .get(2..6)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .is_some_and(|declared| declared <= size),
        "WebP" => header
            .get(4..8)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) + 8)
            .is_some_and(|declared| declared <= size),
        _ => true,
    }
}

/// How a thumbnail fits its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The whole image inside the box, aspect kept (the default).
    Contain,
    /// The box filled, aspect kept, the overflow cropped.
    Cover,
    /// Stretched to the box.
    Fill,
}

/// Renders a JPEG thumbnail, EXIF orientation applied.
pub fn render_thumbnail(
    bytes: &[u8],
    width: u32,
    height: u32,
    fit: Fit,
) -> Result<Vec<u8>, String> {
    let image = loupe_core::pixels::decode_upright(bytes)?;
    let resized = match fit {
        Fit::Contain => image.thumbnail(width, height),
        Fit::Cover => image.resize_to_fill(width, height, image::imageops::FilterType::Triangle),
        Fit::Fill => image.resize_exact(width, height, image::imageops::FilterType::Triangle),
    };
    let mut out = Vec::new();
    let rgb = DynamicImage::ImageRgb8(resized.to_rgb8());
    rgb.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .map_err(|e| format!("cannot encode the thumbnail: {e}"))?;
    Ok(out)
}
