//! Encoded image bytes → the classifier's input: decoded, turned upright by its EXIF
//! orientation, transparent pixels composited on white, resized to 224×224 and
//! normalised as TF-Lite's EfficientNet-Lite expects, `(x·255 − 127)/128`.

use image::imageops::FilterType;
use image::DynamicImage;

use crate::efficientnet::INPUT_SIZE;

/// Why an image cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

/// Decodes and applies the EXIF orientation, within the decoder's memory limit: the
/// same pixels thumbnails and remote connectors see.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    loupe_core::pixels::decode_upright(bytes).map_err(DecodeError)
}

pub use loupe_core::pixels::on_white;

/// The network input for one image: `224 × 224 × 3` values, channels last.
pub fn to_input(image: &DynamicImage) -> Vec<f32> {
    let rgb = on_white(image);
    let size = INPUT_SIZE as u32;
    let resized = image::imageops::resize(&rgb, size, size, FilterType::Triangle);
    resized
        .as_raw()
        .iter()
        .map(|v| (f32::from(*v) - 127.0) / 128.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;
    use image::{Rgba, RgbaImage};
    use std::io::Cursor;

    fn png(image: &DynamicImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn transparent_pixels_become_white_and_half_transparent_ones_blend() {
        let mut rgba = RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, Rgba([0, 0, 0, 128]));
        let image = decode(&png(&DynamicImage::ImageRgba8(rgba))).unwrap();
        let rgb = on_white(&image);
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [127, 127, 127]);
    }

    #[test]
    fn input_is_channels_last_and_normalised_like_tflite() {
        let pixel = image::Rgb([255, 0, 127]);
        let input = to_input(&DynamicImage::ImageRgb8(RgbImage::from_pixel(
            10, 20, pixel,
        )));
        assert_eq!(input.len(), 3 * INPUT_SIZE * INPUT_SIZE);
        let first_two_pixels = [1.0, -127.0 / 128.0, 0.0, 1.0, -127.0 / 128.0, 0.0];
        assert_eq!(input[..6], first_two_pixels);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(decode(b"not an image").is_err());
    }
}
