//! What the connector tests share: a deterministic embedder and tagger behind the test
//! servers, settings builders, and test images.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use loupe_core::model::{EmbedInput, Embedder, Tag, TagSpec, Tagger, Tagging};
use loupe_core::modelconn::{ModelKind, ModelSettings};
use loupe_core::Result;
use sha2::{Digest, Sha256};

/// Hashes a text, or an image's bytes, into a unit vector: equal inputs give equal
/// vectors, different ones different vectors.
pub struct HashEmbedder(pub usize);

#[async_trait]
impl Embedder for HashEmbedder {
    fn model(&self) -> &str {
        "hash"
    }
    fn dim(&self) -> usize {
        self.0
    }
    async fn embed(&self, inputs: &[EmbedInput]) -> Result<Vec<Vec<f32>>> {
        Ok(inputs.iter().map(|i| hash_vector(i, self.0)).collect())
    }
}

pub fn hash_vector(input: &EmbedInput, dim: usize) -> Vec<f32> {
    let seed = match input {
        EmbedInput::Text(t) => Sha256::digest(format!("text:{t}")),
        EmbedInput::Image(b) => Sha256::digest([b"image:".as_slice(), b].concat()),
        // The test servers fetch URLs, so their backend never sees one.
        EmbedInput::ImageUrl(u) => Sha256::digest(format!("url:{u}")),
    };
    let v: Vec<f32> = (0..dim)
        .map(|i| f32::from(seed[i % 32]) - 127.5 + i as f32 * 0.01)
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

/// Gives every image the first two defined tags, with confidences 0.9 and 0.4.
pub struct FirstTwoTagger;

#[async_trait]
impl Tagger for FirstTwoTagger {
    fn model(&self) -> &str {
        "first-two"
    }
    async fn tag(&self, _image: Arc<Vec<u8>>, spec: &TagSpec) -> Result<Tagging> {
        Ok(Tagging {
            tags: spec
                .tags
                .keys()
                .zip([0.9, 0.4])
                .map(|(name, c)| Tag {
                    name: name.clone(),
                    confidence: Some(c),
                })
                .collect(),
            undefined_dropped: 0,
        })
    }
}

pub fn settings(kind: ModelKind, configs: &[(&str, &str)], key: Option<&str>) -> ModelSettings {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let secrets: Vec<(&str, &str)> = key.map(|k| ("ApiKey", k)).into_iter().collect();
    ModelSettings::parse(kind, &map(configs), &map(&secrets)).expect("valid test settings")
}

/// A small PNG of one colour.
pub fn png(width: u32, height: u32, rgb: [u8; 3]) -> Arc<Vec<u8>> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode png");
    Arc::new(out)
}

/// The image inside a `data:image/jpeg;base64,…` URI.
pub fn from_data_uri(uri: &str) -> Vec<u8> {
    let (head, data) = uri.split_once(',').expect("a data URI");
    assert_eq!(head, "data:image/jpeg;base64", "images go as base64 JPEG");
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("valid base64")
}

/// Two vectors equal but for rounding (the client normalises what it receives).
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "lengths");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "vectors differ by {worst}");
}
