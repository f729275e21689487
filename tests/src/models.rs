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
                    EmbedInput::Text(text) => text.as_bytes(),
                    EmbedInput::Image(bytes) => bytes,
                    // The test servers fetch URLs, so their backend never sees one.
                    EmbedInput::ImageUrl(url) => url.as_bytes(),
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
