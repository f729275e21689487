//! Images as the providers receive them: under the byte limit, upright, opaque.

mod common;

use std::io::Cursor;
use std::sync::Arc;

use common::{from_data_uri, settings, HashEmbedder};
use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, RgbImage, RgbaImage};
use loupe_connectors::image::fit_jpeg;
use loupe_connectors::open_embedder;
use loupe_connectors::testing::{Backend, ModelServer};
use loupe_core::model::EmbedInput;
use loupe_core::modelconn::ModelKind;

/// A noisy photo-like PNG: noise compresses badly, so the JPEG must shrink to fit.
fn noisy_png(side: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let image = RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A 60×30 JPEG, left half red and right half blue, whose EXIF says "rotate 90° clockwise
/// to display" (orientation 6).
fn sideways_jpeg() -> Vec<u8> {
    let image = RgbImage::from_fn(60, 30, |x, _| {
        if x < 30 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    // A little-endian TIFF header and one IFD entry: Orientation (0x0112), SHORT, 1, 6.
    let exif: Vec<u8> = [
        b"II*\0".as_slice(),
        &8u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &0x0112u16.to_le_bytes(),
        &3u16.to_le_bytes(),
        &1u32.to_le_bytes(),
        &6u16.to_le_bytes(),
        &[0, 0],
        &0u32.to_le_bytes(),
    ]
    .concat();
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 95);
    encoder.set_exif_metadata(exif).unwrap();
    encoder
        .write_image(image.as_raw(), 60, 30, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

#[test]
fn a_large_image_is_downscaled_under_the_limit() {
    let png = noisy_png(1200);
    assert!(
        png.len() > 3_000_000,
        "the source is over the limit: {}",
        png.len()
    );

    let jpeg = fit_jpeg(&png, 200_000).expect("fits");

    assert!(jpeg.len() <= 200_000, "{} bytes", jpeg.len());
    let decoded = image::load_from_memory(&jpeg).unwrap();
    assert!(
        decoded.width() < 1200 && decoded.width() == decoded.height(),
        "aspect kept"
    );
    assert!(
        decoded.width() >= 100,
        "not shrunk more than needed: {}",
        decoded.width()
    );
}

#[test]
fn a_limit_no_image_can_meet_is_refused_with_the_setting_to_change() {
    let err = fit_jpeg(&noisy_png(200), 100).expect_err("too small a limit");
    assert!(err.contains("Configs.MaxImageBytes"), "{err}");
    assert!(fit_jpeg(b"not an image", 100_000)
        .unwrap_err()
        .starts_with("cannot"));
}

#[tokio::test]
async fn the_provider_receives_an_upright_opaque_jpeg_under_max_image_bytes() {
    let server = ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder(8))),
        ..Backend::default()
    })
    .await;
    let embedder = open_embedder(&settings(
        ModelKind::Embedding,
        &[
            ("Provider", "pai-eas"),
            ("BaseUrl", &server.gme_url()),
            ("Dimension", "8"),
            ("MaxImageBytes", "150000"),
        ],
        None,
    ))
    .unwrap();
    let transparent = {
        let mut out = Vec::new();
        RgbaImage::from_pixel(10, 10, image::Rgba([0, 0, 0, 0]))
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let inputs =
        [noisy_png(1000), sideways_jpeg(), transparent].map(|b| EmbedInput::Image(Arc::new(b)));

    embedder.embed(&inputs).await.expect("embedded");

    let body = &server.requests()[0].body;
    let sent: Vec<_> = (0..3)
        .map(|i| from_data_uri(body["input"]["contents"][i]["image"].as_str().unwrap()))
        .collect();
    assert!(sent[0].len() <= 150_000, "{} bytes", sent[0].len());

    let upright = image::load_from_memory(&sent[1]).unwrap().to_rgb8();
    assert_eq!(
        upright.dimensions(),
        (30, 60),
        "turned by its EXIF orientation"
    );
    // Rotated clockwise, the left (red) half is on top.
    let top = upright.get_pixel(15, 10).0;
    let bottom = upright.get_pixel(15, 50).0;
    assert!(top[0] > 200 && top[2] < 60, "top is red: {top:?}");
    assert!(
        bottom[2] > 200 && bottom[0] < 60,
        "bottom is blue: {bottom:?}"
    );

    let flat = image::load_from_memory(&sent[2]).unwrap().to_rgb8();
    assert!(
        flat.get_pixel(5, 5).0.iter().all(|c| *c > 245),
        "transparent became white"
    );
}
