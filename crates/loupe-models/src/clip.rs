//! CLIP-family models in the Hugging Face layout (e.g. `openai/clip-vit-base-patch32`),
//! on candle's CLIP towers: L2-normalised `image_embeds` and `text_embeds`, as
//! transformers' `CLIPModel` returns them, from images and texts.
//!
//! A model folder holds `config.json`, `model.safetensors`, `preprocessor_config.json`,
//! and `tokenizer.json` (or `vocab.json` and `merges.txt`).

pub mod config;
pub mod preprocess;
pub mod resample;
pub mod tokenizer;
mod vision;

use std::path::Path;

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use candle_transformers::models::clip::text_model::ClipTextTransformer;
use image::DynamicImage;
use tokenizers::Tokenizer;

pub use config::ClipConfig;
pub use preprocess::ImageProcessor;
use vision::VisionTower;

use crate::minilm::l2_normalise;

/// The files a model folder must have, besides the tokenizer.
pub const REQUIRED_FILES: [&str; 3] = [
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
];

/// Images per forward pass: enough rows (50 tokens an image for ViT-B/32) for the matrix
/// products to run at full speed, few enough that a batch's activations stay small
/// (about 10 MB).
const IMAGE_BATCH: usize = 16;

fn msg(e: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

/// The image tower and its projection, with the preprocessing.
pub struct ClipImageEncoder {
    tower: VisionTower,
    processor: ImageProcessor,
    size: usize,
}

impl ClipImageEncoder {
    /// The tower under `vision_model.` and `visual_projection.` of `weights` (the names
    /// of both `CLIPModel` and `CLIPVisionModelWithProjection`).
    pub fn new(
        weights: &VarBuilder,
        config: &ClipConfig,
        processor: ImageProcessor,
    ) -> Result<Self> {
        Ok(Self {
            tower: VisionTower::new(weights, config)?,
            processor,
            size: config.vision.image_size,
        })
    }

    /// The pixel values `(n, 3, size, size)` of decoded images.
    pub fn pixel_values(&self, images: &[DynamicImage]) -> Result<Tensor> {
        let mut values = Vec::with_capacity(images.len() * 3 * self.size * self.size);
        for image in images {
            values.extend(self.processor.pixel_values(image).map_err(msg)?);
        }
        Tensor::from_vec(
            values,
            (images.len(), 3, self.size, self.size),
            &Device::Cpu,
        )
    }

    /// L2-normalised embeddings `(n, projection_dim)` of pixel values.
    pub fn embed_pixels(&self, pixels: &Tensor) -> Result<Tensor> {
        let images = pixels.dim(0)?;
        let expected = [images, 3, self.size, self.size];
        if pixels.dims() != expected {
            candle_core::bail!("pixel values must be {expected:?}, not {:?}", pixels.dims());
        }
        let values = pixels.flatten_all()?.to_vec1::<f32>()?;
        let projected = self.tower.forward(&values, images);
        let dim = self.tower.output_dim();
        l2_normalise(&Tensor::from_vec(projected, (images, dim), &Device::Cpu)?)
    }

    /// L2-normalised embeddings of decoded images, a few at a time.
    pub fn embed(&self, images: &[DynamicImage]) -> Result<Tensor> {
        let rows = images
            .chunks(IMAGE_BATCH)
            .map(|batch| self.embed_pixels(&self.pixel_values(batch)?))
            .collect::<Result<Vec<_>>>()?;
        match rows.is_empty() {
            true => Tensor::zeros((0, self.tower.output_dim()), DType::F32, &Device::Cpu),
            false => Tensor::cat(&rows, 0),
        }
    }
}

/// The text tower and its projection, with the tokenizer.
pub struct ClipTextEncoder {
    tower: ClipTextTransformer,
    projection: Linear,
    tokenizer: Tokenizer,
    eos_token_id: u32,
}

impl ClipTextEncoder {
    /// The token ids of each text: start token, text (truncated), end token.
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(msg)?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// The position whose state stands for the text, as transformers picks it: the
    /// largest id for configs from before `eos_token_id` was fixed (2), else the first
    /// end token.
    fn pooled_position(&self, ids: &[u32]) -> usize {
        let found = match self.eos_token_id {
            2 => ids
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
                .map(|(i, _)| i),
            eos => ids.iter().position(|id| *id == eos),
        };
        found.unwrap_or(ids.len().saturating_sub(1))
    }

    /// L2-normalised embeddings `(n, projection_dim)` of texts.
    pub fn embed(&self, texts: &[&str]) -> Result<Tensor> {
        if texts.is_empty() {
            let dim = self.projection.weight().dim(0)?;
            return Tensor::zeros((0, dim), DType::F32, &Device::Cpu);
        }
        let ids = self.token_ids(texts)?;
        let longest = ids.iter().map(Vec::len).max().unwrap_or(1);
        let mut padded = Vec::with_capacity(ids.len() * longest);
        let mut pooled = Vec::with_capacity(ids.len());
        for (row, text) in ids.iter().enumerate() {
            pooled.push((row * longest + self.pooled_position(text)) as u32);
            padded.extend(text);
            // Causal attention: what follows the pooled token never reaches it.
            padded.extend(std::iter::repeat_n(0, longest - text.len()));
        }
        let input = Tensor::from_vec(padded, (ids.len(), longest), &Device::Cpu)?;
        let states = self.tower.forward_with_mask(&input, usize::MAX)?;
        let states = states.flatten_to(1)?;
        let pooled = Tensor::from_vec(pooled, ids.len(), &Device::Cpu)?;
        l2_normalise(&self.projection.forward(&states.index_select(&pooled, 0)?)?)
    }
}

/// A loaded CLIP model: both towers.
pub struct ClipModel {
    /// Images → embeddings.
    pub image: ClipImageEncoder,
    /// Texts → embeddings.
    pub text: ClipTextEncoder,
    /// Values per embedding.
    pub dim: usize,
}

impl ClipModel {
    /// Loads a model folder. The error says which file is missing or wrong.
    pub fn load(dir: &Path) -> Result<Self> {
        if let Some(missing) = REQUIRED_FILES.iter().find(|f| !dir.join(f).is_file()) {
            candle_core::bail!("the folder has no {missing}");
        }
        let read =
            |name: &str| std::fs::read(dir.join(name)).map_err(|e| msg(format!("{name}: {e}")));
        let config = ClipConfig::from_json(&read("config.json")?)
            .map_err(|e| msg(format!("config.json: {e}")))?;
        let processor = ImageProcessor::from_json(
            &read("preprocessor_config.json")?,
            config.vision.image_size as u32,
        )
        .map_err(|e| msg(format!("preprocessor_config.json: {e}")))?;
        let tokenizer = tokenizer::load(dir, config.text.max_position_embeddings).map_err(msg)?;
        let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
            .map_err(|e| msg(format!("model.safetensors: {e}")))?;
        let weights = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let wrong =
            |e: candle_core::Error| msg(format!("model.safetensors does not fit config.json: {e}"));
        let text_config = &config.text;
        let text = ClipTextEncoder {
            tower: ClipTextTransformer::new(weights.pp("text_model"), text_config)
                .map_err(wrong)?,
            projection: candle_nn::linear_no_bias(
                text_config.embed_dim,
                config.projection_dim,
                weights.pp("text_projection"),
            )
            .map_err(wrong)?,
            tokenizer,
            eos_token_id: config.eos_token_id,
        };
        Ok(Self {
            image: ClipImageEncoder::new(&weights, &config, processor).map_err(wrong)?,
            text,
            dim: config.projection_dim,
        })
    }

    /// Text embeddings, one row per text.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Tensor> {
        self.text.embed(texts)
    }

    /// Image embeddings, one row per image.
    pub fn embed_images(&self, images: &[DynamicImage]) -> Result<Tensor> {
        self.image.embed(images)
    }
}
