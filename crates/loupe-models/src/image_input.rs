//! Encoded image bytes → the classifier's input: decoded, turned upright by its EXIF
//! orientation, transparent pixels composited on white, resized to 224×224 and
//! normalised as TF-Lite's EfficientNet-Lite expects, `(x·255 − 127)/128`.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::efficientnet::INPUT_SIZE;

/// Why an image cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode the image: {0}")]
pub struct DecodeError(#[from] image::ImageError);

/// Decodes and applies the EXIF orientation, if the format carries one.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    let mut decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(image::ImageError::IoError)?
        .into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
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
        let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

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
    use image::{Rgba, RgbaImage};

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
