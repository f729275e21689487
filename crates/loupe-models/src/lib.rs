//! Loupe's local models, in process on CPU with candle.
//!
//! The offline default is ConSE ([`conse`]): EfficientNet-Lite0 classifies an image into
//! ImageNet's 1,000 classes, and the probability-weighted mean of all-MiniLM-L6-v2
//! embeddings of its top class names places the image in MiniLM's sentence space, where
//! text queries and tag descriptions are embedded too. Both models come from PyPI wheels
//! ([`prepare`]), so a machine that reaches only package registries can run it.
//!
//! [`LocalConse`] is the [`Embedder`] and the zero-shot [`Tagger`]; it loads the model
//! once, on first use, and runs every forward pass on tokio's blocking pool.
//!
//! A local connection whose `Model` names a CLIP-family model (a folder in the Hugging
//! Face layout, or a hub id fetched once by [`hf_hub`]) gets [`LocalClip`] instead
//! ([`clip`]), which embeds and tags the same way.

pub mod clip;
pub mod conse;
pub mod efficientnet;
pub mod hf_hub;
pub mod image_input;
pub mod labels;
pub mod legacy_pickle;
mod local_clip;
pub mod minilm;
mod opener;
mod prepare;
pub mod pypi;
mod tagger;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use loupe_core::model::{EmbedInput, Embedder, Tag, TagSpec, Tagger, Tagging};
use loupe_core::{Error, ErrorCode, Result};
use tokio::sync::OnceCell;

pub use clip::ClipModel;
pub use conse::ConseModel;
pub use local_clip::{LocalClip, CLIP_ZERO_SHOT};
pub use opener::ModelHub;
pub use prepare::{
    convert_checkpoint, prepare, prepare_with, ModelPaths, PrepareOptions, MODEL_DIR_ENV,
    WHEEL_DIR_ENV,
};
pub use tagger::ZeroShot;

/// The name recorded with every vector and tag this model makes.
pub const MODEL_NAME: &str = "conse-efficientnet-lite0-all-minilm-l6-v2";

/// The ConSE model as Loupe's embedder and zero-shot tagger.
pub struct LocalConse {
    paths: prepare::ModelPaths,
    model: OnceCell<Arc<ConseModel>>,
    tags: tagger::TextCache,
    zero_shot: ZeroShot,
}

impl LocalConse {
    /// A handle on prepared files; nothing is loaded until the first call.
    pub fn new(paths: ModelPaths) -> Self {
        Self {
            paths,
            model: OnceCell::new(),
            tags: tagger::TextCache::default(),
            zero_shot: ZeroShot::default(),
        }
    }

    /// Prepares the files under `data_dir` if needed (see [`prepare`]) and returns the handle.
    pub async fn open(data_dir: &std::path::Path) -> Result<Self> {
        Ok(Self::new(prepare(data_dir).await?))
    }

    /// Replaces the zero-shot tagging policy.
    pub fn with_zero_shot(mut self, zero_shot: ZeroShot) -> Self {
        self.zero_shot = zero_shot;
        self
    }

    /// The loaded model, loading it on the blocking pool the first time.
    pub async fn model(&self) -> Result<Arc<ConseModel>> {
        self.model
            .get_or_try_init(|| async {
                let paths = self.paths.clone();
                let model = blocking(move || {
                    ConseModel::load(&paths).map_err(|e| model_fault("loading the local model", e))
                })
                .await?;
                Ok(Arc::new(model))
            })
            .await
            .cloned()
    }

    /// The `n` most probable ImageNet classes of an image, as tags whose confidence is the
    /// class probability.
    pub async fn labels(&self, image: Arc<Vec<u8>>, n: usize) -> Result<Vec<Tag>> {
        let model = self.model().await?;
        blocking(move || {
            let decoded = decode(&image, 0)?;
            let probs = model
                .classify(&[decoded])
                .map_err(|e| model_fault("classifying", e))?;
            let probs = probs
                .to_vec2::<f32>()
                .map_err(|e| model_fault("classifying", e))?;
            let names = labels::imagenet_classes();
            Ok(conse::top_k(&probs[0], n)
                .into_iter()
                .map(|(class, p)| Tag {
                    name: names[class].to_owned(),
                    confidence: Some(p),
                })
                .collect())
        })
        .await
    }
}

/// Runs CPU-heavy work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal("the local model's worker thread failed", e))?
}

fn model_fault(what: &str, e: candle_core::Error) -> Error {
    Error::internal(format!("local model: {what}"), e)
}

fn decode(bytes: &[u8], index: usize) -> Result<image::DynamicImage> {
    image_input::decode(bytes).map_err(|e| {
        Error::with_cause(
            ErrorCode::InvalidParameter,
            format!("input {index}: {e}; send a JPEG, PNG, GIF, BMP, TIFF or WebP image"),
            e,
        )
    })
}

/// In-process models read bytes (their `wants_urls` is false, so jobs never send a URL).
fn url_input(index: usize) -> Error {
    Error::invalid(format!(
        "input {index}: a local model cannot fetch an image URL; send the image's bytes"
    ))
}

#[async_trait]
impl Embedder for LocalConse {
    fn model(&self) -> &str {
        MODEL_NAME
    }

    /// One CPU forward pass over this many images amortises the model's fixed costs.
    fn batch_hint(&self) -> usize {
        16
    }

    fn dim(&self) -> usize {
        minilm::DIM
    }

    async fn embed(&self, inputs: &[EmbedInput]) -> Result<Vec<Vec<f32>>> {
        let model = self.model().await?;
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
            let text_rows = model
                .embed_texts(&texts.iter().map(|(_, t)| *t).collect::<Vec<_>>())
                .map_err(fault)?;
            let (image_at, decoded): (Vec<usize>, Vec<_>) = images.into_iter().unzip();
            let image_rows = model.embed_images(&decoded).map_err(fault)?;
            let mut out = vec![Vec::new(); inputs.len()];
            for ((i, _), row) in texts.iter().zip(text_rows.to_vec2::<f32>().map_err(fault)?) {
                out[*i] = row;
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
impl Tagger for LocalConse {
    fn model(&self) -> &str {
        MODEL_NAME
    }

    async fn tag(&self, image: Arc<Vec<u8>>, spec: &TagSpec) -> Result<Tagging> {
        let model = self.model().await?;
        let texts = tagger::tag_texts(spec);
        let tag_rows = self.tags.embed(&model, &texts).await?;
        let zero_shot = self.zero_shot;
        blocking(move || {
            let decoded = decode(&image, 0)?;
            let embedding = model
                .embed_images(&[decoded])
                .map_err(|e| model_fault("tagging", e))?;
            let embedding = embedding
                .to_vec2::<f32>()
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
