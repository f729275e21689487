//! Test images, made on the fly: real PNG and JPEG files of chosen sizes, and the bad
//! files a build must survive.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, RgbImage};

/// Encodes a gradient image of the given size.
pub fn encode(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, 128])
    });
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .expect("encode test image");
    bytes
}

/// Writes `bytes` to `dir/rel`, creating folders.
pub fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write test file");
}

/// A JPEG whose EXIF block says "rotate 90° clockwise to display" (orientation 6).
pub fn jpeg_with_orientation_6(width: u32, height: u32) -> Vec<u8> {
    let jpeg = encode(width, height, ImageFormat::Jpeg);
    // APP1: "Exif\0\0", a little-endian TIFF header, one IFD entry: 0x0112 SHORT 1 = 6.
    let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).expect("small segment");
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}
