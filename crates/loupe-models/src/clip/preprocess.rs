//! Decoded image → CLIP's pixel values, as transformers' `CLIPImageProcessor` makes them
//! from `preprocessor_config.json`: the shortest side resized to `size` with Pillow's
//! filter (bicubic for CLIP), a centred `crop_size` crop, values times `rescale_factor`,
//! then `(x − mean) / std` per channel, channels first. Alpha is composited on white
//! first, as Loupe does for every model (transformers would drop it).

use image::DynamicImage;
use serde::Deserialize;

use super::resample::{resize_window, Filter};

/// The preprocessing of one model.
#[derive(Debug, Clone)]
pub struct ImageProcessor {
    /// The shortest side after resizing, if resizing.
    shortest_edge: Option<u32>,
    /// `(width, height)` of the centred crop, if cropping.
    crop: Option<(u32, u32)>,
    filter: Filter,
    rescale: Option<f64>,
    mean: [f32; 3],
    std: [f32; 3],
}

/// `size` and `crop_size` are a number in old files and an object in new ones.
#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Square(u32),
    Shortest { shortest_edge: u32 },
    Box { height: u32, width: u32 },
}

#[derive(Deserialize)]
struct File {
    #[serde(default = "yes")]
    do_resize: bool,
    size: Option<Size>,
    #[serde(default = "bicubic")]
    resample: u64,
    #[serde(default = "yes")]
    do_center_crop: bool,
    crop_size: Option<Size>,
    #[serde(default = "yes")]
    do_rescale: bool,
    #[serde(default = "rescale_factor")]
    rescale_factor: f64,
    #[serde(default = "yes")]
    do_normalize: bool,
    #[serde(default = "openai_mean")]
    image_mean: [f32; 3],
    #[serde(default = "openai_std")]
    image_std: [f32; 3],
}

fn yes() -> bool {
    true
}
fn bicubic() -> u64 {
    3
}
fn rescale_factor() -> f64 {
    1.0 / 255.0
}
fn openai_mean() -> [f32; 3] {
    [0.481_454_66, 0.457_827_5, 0.408_210_73]
}
fn openai_std() -> [f32; 3] {
    [0.268_629_54, 0.261_302_6, 0.275_777_1]
}

impl ImageProcessor {
    /// Parses `preprocessor_config.json` for a model whose image tower takes
    /// `image_size × image_size` pixels; the error names the key that does not fit.
    pub fn from_json(bytes: &[u8], image_size: u32) -> Result<Self, String> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let filter = Filter::from_pil(file.resample).ok_or_else(|| {
            format!(
                "resample {} is not supported: use 1 (lanczos), 2 (bilinear) or 3 (bicubic)",
                file.resample
            )
        })?;
        let shortest_edge =
            match (file.do_resize, file.size) {
                (false, _) => None,
                (true, Some(Size::Square(n) | Size::Shortest { shortest_edge: n })) => Some(n),
                (true, None) => Some(image_size),
                (true, Some(Size::Box { .. })) => return Err(
                    "size with height and width is not supported: CLIP resizes by shortest_edge"
                        .into(),
                ),
            };
        let crop = match (file.do_center_crop, file.crop_size) {
            (false, _) => None,
            (true, Some(Size::Square(n))) => Some((n, n)),
            (true, Some(Size::Box { height, width })) => Some((width, height)),
            (true, None) => Some((image_size, image_size)),
            (true, Some(Size::Shortest { .. })) => {
                return Err("crop_size must give height and width".into())
            }
        };
        // Without a crop to the model's size, the tower would get the wrong shape.
        if crop != Some((image_size, image_size)) {
            return Err(format!(
                "crop_size must be {image_size}x{image_size} with do_center_crop, the image tower's size"
            ));
        }
        if shortest_edge.is_some_and(|s| s < image_size) {
            return Err(format!(
                "size.shortest_edge must be at least crop_size ({image_size})"
            ));
        }
        if file.image_std.contains(&0.0) {
            return Err("image_std must not be zero".into());
        }
        let (mean, std) = match file.do_normalize {
            true => (file.image_mean, file.image_std),
            false => ([0.0; 3], [1.0; 3]),
        };
        Ok(Self {
            shortest_edge,
            crop,
            filter,
            rescale: file.do_rescale.then_some(file.rescale_factor),
            mean,
            std,
        })
    }

    /// `(width, height)` of the pixel values.
    pub fn output_size(&self) -> (u32, u32) {
        self.crop.unwrap_or((0, 0))
    }

    /// The size after resizing: the shortest side to `shortest_edge`, the other scaled
    /// and truncated, as transformers' `get_resize_output_image_size`.
    fn resized(&self, width: u32, height: u32) -> (u32, u32) {
        let Some(short_target) = self.shortest_edge else {
            return (width, height);
        };
        let (short, long) = (width.min(height), width.max(height));
        let long_target = (f64::from(short_target) * f64::from(long) / f64::from(short)) as u32;
        match width <= height {
            true => (short_target, long_target),
            false => (long_target, short_target),
        }
    }

    /// The pixel values of one image, `3 × height × width`, channels first. Images
    /// smaller than the crop after resizing (only without resizing) are refused.
    pub fn pixel_values(&self, image: &DynamicImage) -> Result<Vec<f32>, String> {
        let rgb = crate::image_input::on_white(image);
        let (width, height) = self.resized(rgb.width(), rgb.height());
        let (crop_w, crop_h) = self.output_size();
        if width < crop_w || height < crop_h || rgb.width() == 0 || rgb.height() == 0 {
            return Err(format!(
                "the image is {}x{}, smaller than the model's {crop_w}x{crop_h}",
                rgb.width(),
                rgb.height()
            ));
        }
        let (left, top) = ((width - crop_w) / 2, (height - crop_h) / 2);
        let window = resize_window(
            &rgb,
            (width, height),
            (left, top, crop_w, crop_h),
            self.filter,
        );
        let plane = (crop_w * crop_h) as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, pixel) in window.pixels().enumerate() {
            for c in 0..3 {
                // float64 rescale then float32 arithmetic, as transformers' numpy code.
                let x = match self.rescale {
                    Some(factor) => (f64::from(pixel[c]) * factor) as f32,
                    None => f32::from(pixel[c]),
                };
                out[c * plane + i] = (x - self.mean[c]) / self.std[c];
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAI: &[u8] = br#"{"crop_size": 224, "do_center_crop": true, "do_normalize": true,
        "do_resize": true, "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224}"#;

    #[test]
    fn reads_the_old_and_the_new_layout() {
        let old = ImageProcessor::from_json(OPENAI, 224).unwrap();
        assert_eq!(old.shortest_edge, Some(224));
        let new =
            br#"{"size": {"shortest_edge": 256}, "crop_size": {"height": 224, "width": 224}}"#;
        let new = ImageProcessor::from_json(new, 224).unwrap();
        assert_eq!(
            (new.shortest_edge, new.output_size()),
            (Some(256), (224, 224))
        );
        assert_eq!(new.filter, Filter::Bicubic);
    }

    #[test]
    fn a_crop_unlike_the_tower_is_refused() {
        let err = ImageProcessor::from_json(OPENAI, 336).unwrap_err();
        assert!(err.contains("crop_size must be 336x336"), "{err}");
    }

    #[test]
    fn shortest_side_scales_and_the_other_truncates() {
        let p = ImageProcessor::from_json(OPENAI, 224).unwrap();
        assert_eq!(p.resized(640, 480), (298, 224));
        assert_eq!(p.resized(100, 301), (224, 674));
    }

    #[test]
    fn values_are_channels_first_and_normalised() {
        let p = ImageProcessor::from_json(OPENAI, 224).unwrap();
        let white =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(300, 250, image::Rgb([255; 3])));
        let values = p.pixel_values(&white).unwrap();
        assert_eq!(values.len(), 3 * 224 * 224);
        let expected = (1.0 - 0.481_454_66f32) / 0.268_629_54;
        assert!((values[0] - expected).abs() < 1e-6);
        assert!((values[2 * 224 * 224] - (1.0 - 0.408_210_73) / 0.275_777_1).abs() < 1e-6);
    }
}
