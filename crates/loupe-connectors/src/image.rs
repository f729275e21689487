//! Images as remote models receive them: decoded, turned upright by their EXIF
//! orientation, transparency composited on white, and re-encoded as JPEG small enough
//! for the provider's limit. Every image is re-encoded, even one that would fit: the
//! model then sees the same upright pixels as the thumbnails and the local model, and
//! no metadata (GPS positions, camera serials) leaves for a third party.

use std::io::Cursor;

use base64::Engine as _;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::DynamicImage;
use loupe_core::pixels::{decode_upright, on_white};
use loupe_core::{Error, ErrorCode, Result};

/// JPEG quality of the first try; high enough that models see no artefacts.
const QUALITY: u8 = 90;
/// Below this side the image is useless to a model; a limit that needs it is refused.
const MIN_SIDE: u32 = 32;

/// Encoded bytes → upright RGB JPEG of at most `max_bytes`.
pub fn fit_jpeg(bytes: &[u8], max_bytes: usize) -> std::result::Result<Vec<u8>, String> {
    let upright = decode_upright(bytes)?;
    let mut image = DynamicImage::ImageRgb8(on_white(&upright));
    loop {
        let jpeg = encode(&image)?;
        if jpeg.len() <= max_bytes {
            return Ok(jpeg);
        }
        let (w, h) = (image.width(), image.height());
        if w.max(h) <= MIN_SIDE {
            return Err(format!(
                "cannot bring the image under {max_bytes} bytes: raise Configs.MaxImageBytes"
            ));
        }
        // JPEG size grows roughly with the pixel count, so scale each side by the
        // square root of the overshoot, and a little more so that one pass usually does.
        let ratio = (max_bytes as f64 / jpeg.len() as f64).sqrt() * 0.9;
        let ratio = ratio.clamp(0.1, 0.9);
        let side = |n: u32| ((f64::from(n) * ratio) as u32).max(1);
        image = image.resize_exact(side(w), side(h), FilterType::Triangle);
    }
}

fn encode(image: &DynamicImage) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let encoder = JpegEncoder::new_with_quality(Cursor::new(&mut out), QUALITY);
    image
        .write_with_encoder(encoder)
        .map_err(|e| format!("cannot encode the image as JPEG: {e}"))?;
    Ok(out)
}

/// `data:image/jpeg;base64,…` of a fitted image, off the async threads (decoding and
/// resizing a large photo takes tens of milliseconds of CPU).
pub(crate) async fn data_uri(bytes: std::sync::Arc<Vec<u8>>, max_bytes: usize) -> Result<String> {
    let fitted = tokio::task::spawn_blocking(move || fit_jpeg(&bytes, max_bytes))
        .await
        .map_err(|e| Error::internal("preparing an image", e))?;
    match fitted {
        Ok(jpeg) => Ok(format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(jpeg)
        )),
        Err(reason) => Err(Error::new(ErrorCode::ModelError, reason)),
    }
}
