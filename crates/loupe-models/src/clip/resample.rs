//! Pillow's `Image.resize` for 8-bit RGB, reproduced to the bit: transformers'
//! `CLIPImageProcessor` resizes with Pillow, and a one-level difference in a pixel moves
//! an embedding by more than the parity test allows. Pillow precomputes each output
//! pixel's filter taps (the filter widened by the scale when shrinking), turns them into
//! fixed-point integers, and resamples rows first, then columns, rounding to 8 bits after
//! each pass (`libImaging/Resample.c`).

use image::RgbImage;

/// Pillow's resampling filters, numbered as `resample` in `preprocessor_config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `Image.LANCZOS` (1).
    Lanczos,
    /// `Image.BILINEAR` (2).
    Bilinear,
    /// `Image.BICUBIC` (3), CLIP's.
    Bicubic,
}

impl Filter {
    /// The filter for Pillow's number, if it is one of these.
    pub fn from_pil(number: u64) -> Option<Self> {
        match number {
            1 => Some(Filter::Lanczos),
            2 => Some(Filter::Bilinear),
            3 => Some(Filter::Bicubic),
            _ => None,
        }
    }

    fn support(self) -> f64 {
        match self {
            Filter::Lanczos => 3.0,
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear if x < 1.0 => 1.0 - x,
            Filter::Bicubic if x < 1.0 => ((BICUBIC_A + 2.0) * x - (BICUBIC_A + 3.0)) * x * x + 1.0,
            Filter::Bicubic if x < 2.0 => (((x - 5.0) * x + 8.0) * x - 4.0) * BICUBIC_A,
            Filter::Lanczos if x < 3.0 => sinc(x) * sinc(x / 3.0),
            _ => 0.0,
        }
    }
}

const BICUBIC_A: f64 = -0.5;
const PRECISION_BITS: u32 = 32 - 8 - 2;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

/// The taps of every output pixel along one axis.
struct Taps {
    /// First input index and tap count, per output index.
    bounds: Vec<(usize, usize)>,
    /// `ksize` fixed-point weights per output index.
    weights: Vec<i32>,
    ksize: usize,
}

impl Taps {
    fn new(in_size: usize, out_size: usize, filter: Filter) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut weights = vec![0i32; out_size * ksize];
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // Pillow's `(int)` casts: truncation toward zero, then clamping.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) - xmin;
            let count = usize::try_from(xmax.max(0)).unwrap_or(0).min(ksize);
            let mut total = 0.0;
            for (x, w) in k.iter_mut().enumerate().take(count) {
                *w = filter.weight((x as f64 + xmin as f64 - center + 0.5) / filterscale);
                total += *w;
            }
            let row = &mut weights[xx * ksize..(xx + 1) * ksize];
            for (out, w) in row.iter_mut().zip(&k[..count]) {
                let w = if total == 0.0 { *w } else { *w / total };
                let fixed = w * f64::from(1u32 << PRECISION_BITS);
                *out = if w < 0.0 {
                    (fixed - 0.5) as i32
                } else {
                    (fixed + 0.5) as i32
                };
            }
            bounds.push((usize::try_from(xmin).unwrap_or(0), count));
        }
        Self {
            bounds,
            weights,
            ksize,
        }
    }

    /// One output value from the input values `at(i)`.
    fn apply(&self, out: usize, at: impl Fn(usize) -> u8) -> u8 {
        let (start, count) = self.bounds[out];
        let k = &self.weights[out * self.ksize..out * self.ksize + count];
        let mut sum = 1i32 << (PRECISION_BITS - 1);
        for (i, w) in k.iter().enumerate() {
            sum += i32::from(at(start + i)) * w;
        }
        (sum >> PRECISION_BITS).clamp(0, 255) as u8
    }
}

/// The window `(left, top, width, height)` of `image` resized to `width × height` as
/// Pillow would, computing only the window's pixels (the same values as cropping the
/// full resize).
pub fn resize_window(
    image: &RgbImage,
    (width, height): (u32, u32),
    (left, top, crop_w, crop_h): (u32, u32, u32, u32),
    filter: Filter,
) -> RgbImage {
    debug_assert!(left + crop_w <= width && top + crop_h <= height);
    let (in_w, in_h) = (image.width() as usize, image.height() as usize);
    let (left, top, crop_w, crop_h) = (
        left as usize,
        top as usize,
        crop_w as usize,
        crop_h as usize,
    );
    let src = image.as_raw();

    // Rows first, only over the input rows the window's columns pass will read.
    let vertical = (height as usize != in_h).then(|| Taps::new(in_h, height as usize, filter));
    let (first_row, last_row) = match &vertical {
        Some(taps) => {
            let rows = &taps.bounds[top..top + crop_h];
            let first = rows.iter().map(|(s, _)| *s).min().unwrap_or(0);
            let last = rows.iter().map(|(s, n)| s + n).max().unwrap_or(0);
            (first, last)
        }
        None => (top, top + crop_h),
    };
    let horizontal = (width as usize != in_w).then(|| Taps::new(in_w, width as usize, filter));
    let mut rows = vec![0u8; (last_row - first_row) * crop_w * 3];
    for y in first_row..last_row {
        let line = &src[y * in_w * 3..(y + 1) * in_w * 3];
        let out = &mut rows[(y - first_row) * crop_w * 3..(y - first_row + 1) * crop_w * 3];
        for x in 0..crop_w {
            for c in 0..3 {
                out[x * 3 + c] = match &horizontal {
                    Some(taps) => taps.apply(left + x, |i| line[i * 3 + c]),
                    None => line[(left + x) * 3 + c],
                };
            }
        }
    }

    let mut out = RgbImage::new(crop_w as u32, crop_h as u32);
    let buffer: &mut [u8] = &mut out;
    for y in 0..crop_h {
        for x in 0..crop_w {
            for c in 0..3 {
                let at = |row: usize| rows[(row - first_row) * crop_w * 3 + x * 3 + c];
                buffer[(y * crop_w + x) * 3 + c] = match &vertical {
                    Some(taps) => taps.apply(top + y, at),
                    None => at(top + y),
                };
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_the_identity() {
        let image = RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8 * 40, y as u8 * 60, 7]));
        let out = resize_window(&image, (5, 4), (0, 0, 5, 4), Filter::Bicubic);
        assert_eq!(out, image);
    }

    #[test]
    fn a_window_equals_the_crop_of_the_full_resize() {
        let image = RgbImage::from_fn(37, 23, |x, y| {
            image::Rgb([(x * 7 + y * 3) as u8, (x * y) as u8, (255 - x * 5) as u8])
        });
        let full = resize_window(&image, (19, 12), (0, 0, 19, 12), Filter::Bicubic);
        let window = resize_window(&image, (19, 12), (4, 2, 11, 9), Filter::Bicubic);
        let cropped = image::imageops::crop_imm(&full, 4, 2, 11, 9).to_image();
        assert_eq!(window, cropped);
    }

    #[test]
    fn bicubic_taps_sum_to_one_in_fixed_point() {
        let taps = Taps::new(100, 7, Filter::Bicubic);
        for out in 0..7 {
            let (_, count) = taps.bounds[out];
            let sum: i32 = taps.weights[out * taps.ksize..out * taps.ksize + count]
                .iter()
                .sum();
            assert!((sum - (1 << PRECISION_BITS)).abs() <= count as i32, "{sum}");
        }
    }
}
