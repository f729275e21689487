//! ConSE (Norouzi et al., 2014, "Zero-Shot Learning by Convex Combination of Semantic
//! Embeddings"): an image's embedding is the probability-weighted mean of the text
//! embeddings of its top ImageNet classes, so images land in the sentence encoder's
//! space and text queries compare with them directly.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};
use image::DynamicImage;

use crate::efficientnet::{EfficientNetLite0, INPUT_SIZE, NUM_CLASSES};
use crate::labels::imagenet_classes;
use crate::minilm::{l2_normalise, MiniLm, DIM};
use crate::prepare::ModelPaths;

/// How many of the most probable classes an image embedding mixes.
pub const TOP_CLASSES: usize = 10;
/// Images per forward pass. Small on purpose: the widest map is about 5 MB per image,
/// and maps that stay below glibc's mmap threshold (32 MB at most) reuse heap pages,
/// while bigger ones are mapped and zeroed by the kernel on every layer. On 2 cores,
/// batches of 2 ran about twice as fast as batches of 16, whose matrix products are no
/// more efficient.
const IMAGE_BATCH: usize = 2;
const LABEL_TENSOR: &str = "labels";

/// The loaded model: classifier, sentence encoder and the class names' embeddings.
pub struct ConseModel {
    classifier: EfficientNetLite0,
    text: MiniLm,
    /// `(1000, 384)`, rows L2-normalised.
    labels: Tensor,
}

/// The text a class name is embedded as.
fn label_text(name: &str) -> String {
    name.to_owned()
}

fn embed_labels(text: &MiniLm) -> Result<Tensor> {
    let texts: Vec<String> = imagenet_classes().iter().map(|n| label_text(n)).collect();
    let rows = texts
        .chunks(100)
        .map(|chunk| text.embed(&chunk.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&rows, 0)
}

/// Computes the class names' embeddings and saves them for later loads.
pub fn write_label_embeddings(text: &MiniLm, to: &Path) -> Result<()> {
    let labels = embed_labels(text)?;
    candle_core::safetensors::save(&HashMap::from([(LABEL_TENSOR, labels)]), to)
}

impl ConseModel {
    /// Loads the prepared files; the class-name embeddings are computed when their file is
    /// absent (a hand-filled model folder).
    pub fn load(paths: &ModelPaths) -> Result<Self> {
        let classifier = EfficientNetLite0::load(&paths.efficientnet())?;
        let text = MiniLm::load(&paths.minilm())?;
        let saved = paths.label_embeddings();
        let labels = if saved.is_file() {
            let mut tensors = candle_core::safetensors::load(&saved, &Device::Cpu)?;
            tensors.remove(LABEL_TENSOR).ok_or_else(|| {
                candle_core::Error::Msg(format!("{} lacks {LABEL_TENSOR}", saved.display()))
            })?
        } else {
            embed_labels(&text)?
        };
        if labels.dims() != [NUM_CLASSES, DIM] {
            candle_core::bail!("class-name embeddings have shape {:?}", labels.dims());
        }
        Ok(Self {
            classifier,
            text,
            labels,
        })
    }

    /// Sentence embeddings, one row per text.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Tensor> {
        self.text.embed(texts)
    }

    /// Class probabilities `(n, 1000)` for decoded images.
    pub fn classify(&self, images: &[DynamicImage]) -> Result<Tensor> {
        let mut out = Vec::new();
        for batch in images.chunks(IMAGE_BATCH) {
            let mut input = Vec::with_capacity(batch.len() * 3 * INPUT_SIZE * INPUT_SIZE);
            for image in batch {
                input.extend(crate::image_input::to_input(image));
            }
            let input = Tensor::from_vec(
                input,
                (batch.len(), INPUT_SIZE, INPUT_SIZE, 3),
                &Device::Cpu,
            )?;
            let logits = self.classifier.forward(&input)?;
            out.push(candle_nn::ops::softmax_last_dim(&logits)?);
        }
        if out.is_empty() {
            return Tensor::zeros((0, NUM_CLASSES), DType::F32, &Device::Cpu);
        }
        Tensor::cat(&out, 0)
    }

    /// ConSE embeddings `(n, 384)` from class probabilities: each row keeps its
    /// [`TOP_CLASSES`] most probable classes, and mixes their names' embeddings by
    /// probability.
    pub fn embed_probabilities(&self, probabilities: &Tensor) -> Result<Tensor> {
        let rows = probabilities.to_vec2::<f32>()?;
        let mut weights = vec![0f32; rows.len() * NUM_CLASSES];
        for (row, p) in rows.iter().enumerate() {
            for (class, prob) in top_k(p, TOP_CLASSES) {
                weights[row * NUM_CLASSES + class] = prob;
            }
        }
        let weights = Tensor::from_vec(weights, (rows.len(), NUM_CLASSES), &Device::Cpu)?;
        l2_normalise(&weights.matmul(&self.labels)?)
    }

    /// ConSE embeddings `(n, 384)` of decoded images.
    pub fn embed_images(&self, images: &[DynamicImage]) -> Result<Tensor> {
        self.embed_probabilities(&self.classify(images)?)
    }
}

/// The `k` largest values with their indices, largest first.
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut indexed: Vec<(usize, f32)> = values.iter().copied().enumerate().collect();
    indexed.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
    indexed.truncate(k);
    indexed
}
