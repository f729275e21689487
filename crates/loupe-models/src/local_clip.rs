//! A CLIP-family model as Loupe's embedder and zero-shot tagger: loaded once (on the
//! blocking pool), every forward pass on the blocking pool too.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use loupe_core::model::{EmbedInput, Embedder, TagSpec, Tagger, Tagging};
use loupe_core::Result;

use crate::clip::ClipModel;
use crate::tagger::{self, TextCache};
use crate::{blocking, decode, model_fault, url_input, ZeroShot};

/// CLIP's tagging policy. Matching image–text pairs of CLIP models score a cosine
/// similarity of about 0.25–0.35 and unrelated ones about 0.1–0.2, lower than ConSE's
/// scores, so the floor is lower than [`ZeroShot::default`]'s.
pub const CLIP_ZERO_SHOT: ZeroShot = ZeroShot {
    min_similarity: 0.25,
    max_tags: 3,
};

/// A loaded CLIP model with its name.
pub struct LocalClip {
    name: String,
    model: Arc<ClipModel>,
    tags: TextCache,
    zero_shot: ZeroShot,
}

impl LocalClip {
    /// Loads the model folder on the blocking pool; `name` is recorded with every vector
    /// and tag. The error is candle's, saying which file is missing or wrong.
    pub async fn load(dir: PathBuf, name: String) -> std::result::Result<Self, candle_core::Error> {
        let model = tokio::task::spawn_blocking(move || ClipModel::load(&dir))
            .await
            .map_err(|e| candle_core::Error::Msg(format!("the loading thread failed: {e}")))??;
        Ok(Self {
            name,
            model: Arc::new(model),
            tags: TextCache::default(),
            zero_shot: CLIP_ZERO_SHOT,
        })
    }

    /// Replaces the zero-shot tagging policy.
    pub fn with_zero_shot(mut self, zero_shot: ZeroShot) -> Self {
        self.zero_shot = zero_shot;
        self
    }

    /// The loaded model.
    pub fn model(&self) -> &Arc<ClipModel> {
        &self.model
    }
}

#[async_trait]
impl Embedder for LocalClip {
    fn model(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.model.dim
    }

    async fn embed(&self, inputs: &[EmbedInput]) -> Result<Vec<Vec<f32>>> {
        let model = self.model.clone();
        let inputs = inputs.to_vec();
        blocking(move || {
            let mut texts = Vec::new();
            let mut images = Vec::new();
            for (i, input) in inputs.iter().enumerate() {
                match input {
                    EmbedInput::Text(t) => texts.push((i, t.as_str())),
                    EmbedInput::Image(bytes) => images.push((i, decode(bytes, i)?)),
                    EmbedInput::ImageUrl(_) => return Err(url_input(i)),
                }
            }
            let fault = |e| model_fault("embedding", e);
            let text_refs: Vec<&str> = texts.iter().map(|(_, t)| *t).collect();
            let text_rows = model.embed_texts(&text_refs).map_err(fault)?;
            let (image_at, decoded): (Vec<usize>, Vec<_>) = images.into_iter().unzip();
            let image_rows = model.embed_images(&decoded).map_err(fault)?;
            let mut out = vec![Vec::new(); inputs.len()];
            let text_at = texts.iter().map(|(i, _)| *i);
            for (i, row) in text_at.zip(text_rows.to_vec2::<f32>().map_err(fault)?) {
                out[i] = row;
            }
            for (i, row) in image_at
                .into_iter()
                .zip(image_rows.to_vec2::<f32>().map_err(fault)?)
            {
                out[i] = row;
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl Tagger for LocalClip {
    fn model(&self) -> &str {
        &self.name
    }

    async fn tag(&self, image: Arc<Vec<u8>>, spec: &TagSpec) -> Result<Tagging> {
        let texts = tagger::tag_texts(spec);
        let tag_rows = self.tags.embed(&self.model, &texts).await?;
        let (model, zero_shot) = (self.model.clone(), self.zero_shot);
        blocking(move || {
            let decoded = decode(&image, 0)?;
            let embedding = model
                .embed_images(&[decoded])
                .and_then(|t| t.to_vec2::<f32>())
                .map_err(|e| model_fault("tagging", e))?;
            let names: Vec<&str> = texts.iter().map(|(name, _)| name.as_str()).collect();
            Ok(Tagging {
                tags: zero_shot.select(&embedding[0], &names, &tag_rows),
                undefined_dropped: 0,
            })
        })
        .await
    }
}
