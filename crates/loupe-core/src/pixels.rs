//! Decoding stored images the way every consumer needs them: within a memory limit (a
//! small file can declare a huge canvas), turned upright by the EXIF orientation, and
//! with transparency composited on white. Thumbnails, remote model connectors and local
//! models all read images through here, so they all see the same pixels.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

/// Largest image decoded, in bytes of decoded pixels; protects the process from
/// decompression bombs.
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// Decodes an encoded image (JPEG, PNG, …) and applies its EXIF orientation, if the
/// format carries one. The error says what went wrong, for a per-file failure reason.
pub fn decode_upright(bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read the image: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| format!("cannot decode the image: {e}"))?;
    let orientation = decoder
        .orientation()
        .map_err(|e| format!("cannot read the orientation: {e}"))?;
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| format!("cannot decode the image: {e}"))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Composites any alpha on white: cut-outs on a transparent background would otherwise
/// show whatever colour their invisible pixels happen to have (often black).
pub fn on_white(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = u16::from(a);
        let blend = |c: u8| {
            let mixed = (u16::from(c) * a + 255 * (255 - a) + 127) / 255;
            u8::try_from(mixed).unwrap_or(u8::MAX)
        };
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transparent_pixels_become_white_and_opaque_ones_stay() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([10, 20, 30, 255]));
        let flat = on_white(&DynamicImage::ImageRgba8(rgba));
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(flat.get_pixel(1, 0).0, [10, 20, 30]);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let err = decode_upright(b"not an image").expect_err("garbage");
        assert!(err.starts_with("cannot"), "{err}");
    }
}
