//! Small deterministic models for the protocol test servers, where a test needs to know
//! exactly what a model answers (tests that need meaning use the local model).

use std::sync::Arc;

use async_trait::async_trait;
use loupe_core::model::{EmbedInput, Embedder, Tag, TagSpec, Tagger, Tagging};
use sha2::{Digest, Sha256};

/// Unit vectors of `dim` values derived from a hash of the input: equal inputs give
/// equal vectors, different ones (almost surely) different vectors.
pub struct HashEmbedder {
    /// Values per vector.
    pub dim: usize,
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn model(&self) -> &str {
        "hash"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed(&self, inputs: &[EmbedInput]) -> loupe_core::Result<Vec<Vec<f32>>> {
        Ok(inputs
            .iter()
            .map(|input| {
                let bytes: &[u8] = match input {
                    EmbedInput::Text(text) | EmbedInput::ImageUrl(text) => text.as_bytes(),
                    EmbedInput::Image(bytes) => bytes,
                };
                let digest = Sha256::digest(bytes);
                let v: Vec<f32> = (0..self.dim)
                    .map(|i| f32::from(digest[i % digest.len()]) - 127.5)
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

/// Gives every image every defined tag.
pub struct AllTagger;

#[async_trait]
impl Tagger for AllTagger {
    fn model(&self) -> &str {
        "all"
    }

    async fn tag(&self, _: Arc<Vec<u8>>, spec: &TagSpec) -> loupe_core::Result<Tagging> {
        Ok(Tagging {
            tags: spec
                .tags
                .keys()
                .map(|name| Tag {
                    name: name.clone(),
                    confidence: None,
                })
                .collect(),
            undefined_dropped: 0,
        })
    }
}

/// Tags by shape, so files of a test version get different tags: `wide`, `tall` or
/// `square` by aspect ratio, and `big` from 32 pixels wide — each only when the
/// definition holds it.
pub struct ShapeTagger;

#[async_trait]
impl Tagger for ShapeTagger {
    fn model(&self) -> &str {
        "shape"
    }

    async fn tag(&self, image: Arc<Vec<u8>>, spec: &TagSpec) -> loupe_core::Result<Tagging> {
        let decoded = image::load_from_memory(&image)
            .map_err(|e| loupe_core::Error::invalid(format!("not an image: {e}")))?;
        let (w, h) = (decoded.width(), decoded.height());
        let shape = match w.cmp(&h) {
            std::cmp::Ordering::Greater => "wide",
            std::cmp::Ordering::Less => "tall",
            std::cmp::Ordering::Equal => "square",
        };
        let mut names = vec![shape];
        if w >= 32 {
            names.push("big");
        }
        Ok(Tagging {
            tags: names
                .into_iter()
                .filter(|n| spec.tags.contains_key(*n))
                .map(|n| Tag {
                    name: n.to_string(),
                    confidence: None,
                })
                .collect(),
            undefined_dropped: 0,
        })
    }
}
