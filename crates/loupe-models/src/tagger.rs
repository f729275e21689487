//! Zero-shot tagging: the image's embedding (ConSE or CLIP) against the text embedding of
//! each defined tag's "name: description"; the closest tags above a similarity floor win.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use loupe_core::model::{Tag, TagSpec};
use loupe_core::Result;

use candle_core::Tensor;

use crate::clip::ClipModel;
use crate::conse::ConseModel;

/// A model whose text embeddings share the space of its image embeddings.
pub(crate) trait TextEmbedding: Send + Sync + 'static {
    /// One L2-normalised row per text.
    fn embed_texts(&self, texts: &[&str]) -> candle_core::Result<Tensor>;
}

impl TextEmbedding for ConseModel {
    fn embed_texts(&self, texts: &[&str]) -> candle_core::Result<Tensor> {
        ConseModel::embed_texts(self, texts)
    }
}

impl TextEmbedding for ClipModel {
    fn embed_texts(&self, texts: &[&str]) -> candle_core::Result<Tensor> {
        ClipModel::embed_texts(self, texts)
    }
}

/// Which tags an image gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZeroShot {
    /// Cosine similarity a tag needs.
    pub min_similarity: f32,
    /// At most this many tags, the most similar first.
    pub max_tags: usize,
}

impl Default for ZeroShot {
    fn default() -> Self {
        Self {
            min_similarity: 0.3,
            max_tags: 3,
        }
    }
}

impl ZeroShot {
    /// The tags for one image embedding, given each tag's name and text embedding.
    /// Confidence is the cosine similarity.
    pub fn select(&self, image: &[f32], names: &[&str], tags: &[Arc<Vec<f32>>]) -> Vec<Tag> {
        debug_assert_eq!(names.len(), tags.len());
        let mut scored: Vec<(usize, f32)> = tags
            .iter()
            .map(|t| t.iter().zip(image).map(|(a, b)| a * b).sum::<f32>())
            .enumerate()
            .filter(|(_, s)| *s >= self.min_similarity)
            .collect();
        scored.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(self.max_tags);
        scored
            .into_iter()
            .map(|(i, s)| Tag {
                name: names[i].to_owned(),
                confidence: Some(s.clamp(0.0, 1.0)),
            })
            .collect()
    }
}

/// Each tag's name and the text embedded for it: "name: description", or the name alone
/// when the description is empty.
pub(crate) fn tag_texts(spec: &TagSpec) -> Vec<(String, String)> {
    spec.tags
        .iter()
        .map(|(name, description)| {
            let description = description.trim();
            let text = if description.is_empty() {
                name.clone()
            } else {
                format!("{name}: {description}")
            };
            (name.clone(), text)
        })
        .collect()
}

/// Tag texts' embeddings, kept across images: a job tags thousands of images with the
/// same definition.
#[derive(Default)]
pub(crate) struct TextCache(Mutex<HashMap<String, Arc<Vec<f32>>>>);

/// Entries kept before the cache starts over (definitions are tens of tags).
const CACHE_LIMIT: usize = 4096;

impl TextCache {
    pub(crate) async fn embed<M: TextEmbedding>(
        &self,
        model: &Arc<M>,
        texts: &[(String, String)],
    ) -> Result<Vec<Arc<Vec<f32>>>> {
        let missing: Vec<String> = {
            let cache = self.0.lock().expect("tag cache lock");
            texts
                .iter()
                .map(|(_, t)| t)
                .filter(|t| !cache.contains_key(*t))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let model = model.clone();
            let to_embed = missing.clone();
            let rows = crate::blocking(move || {
                let refs: Vec<&str> = to_embed.iter().map(String::as_str).collect();
                model
                    .embed_texts(&refs)
                    .and_then(|t| t.to_vec2::<f32>())
                    .map_err(|e| crate::model_fault("embedding tag descriptions", e))
            })
            .await?;
            let mut cache = self.0.lock().expect("tag cache lock");
            if cache.len() + missing.len() > CACHE_LIMIT {
                cache.clear();
            }
            for (text, row) in missing.into_iter().zip(rows) {
                cache.insert(text, Arc::new(row));
            }
        }
        let cache = self.0.lock().expect("tag cache lock");
        Ok(texts.iter().map(|(_, t)| cache[t].clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_the_closest_tags_above_the_floor_most_similar_first() {
        let tags: Vec<Arc<Vec<f32>>> = [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [0.8, 0.6]]
            .iter()
            .map(|v| Arc::new(v.to_vec()))
            .collect();
        let policy = ZeroShot {
            min_similarity: 0.5,
            max_tags: 2,
        };
        let picked = policy.select(&[1.0, 0.0], &["a", "b", "c", "d"], &tags);
        let names: Vec<&str> = picked.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "d"]);
        assert_eq!(picked[0].confidence, Some(1.0));
    }

    #[test]
    fn tag_text_is_name_and_description() {
        let spec = TagSpec {
            prompt: String::new(),
            tags: [
                ("bear".to_owned(), "a large mammal".to_owned()),
                ("cone".to_owned(), " ".to_owned()),
            ]
            .into(),
        };
        assert_eq!(
            tag_texts(&spec),
            [
                ("bear".to_owned(), "bear: a large mammal".to_owned()),
                ("cone".to_owned(), "cone".to_owned())
            ]
        );
    }
}
