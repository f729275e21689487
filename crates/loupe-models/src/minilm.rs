//! all-MiniLM-L6-v2 sentence embeddings: candle's BertModel, mean pooling over the
//! attention mask, L2 normalisation — what sentence-transformers' `modules.json` for this
//! model does (Transformer → Pooling(mean) → Normalize).

use std::path::Path;

use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Values per sentence embedding.
pub const DIM: usize = 384;

/// The sentence encoder.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
}

fn msg(e: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

impl MiniLm {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from one folder.
    pub fn load(dir: &Path) -> Result<Self> {
        let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)
            .map_err(|e| msg(format!("minilm config.json: {e}")))?;
        let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)?;
        let model = BertModel::load(
            VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu),
            &config,
        )?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| msg(format!("minilm tokenizer.json: {e}")))?;
        // The file pads every input to 128 tokens; padding to the batch's longest is
        // the same after masked pooling and several times cheaper for short texts.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        // sentence-transformers truncates this model at 256 word pieces.
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: 256,
                ..TruncationParams::default()
            }))
            .map_err(msg)?;
        Ok(Self { model, tokenizer })
    }

    /// One L2-normalised 384-d embedding per text, as rows of a `(n, 384)` tensor.
    pub fn embed(&self, texts: &[&str]) -> Result<Tensor> {
        if texts.is_empty() {
            return Tensor::zeros((0, DIM), DType::F32, &Device::Cpu);
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(msg)?;
        let rows = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
            let rows: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(f(e), &Device::Cpu))
                .collect::<Result<_>>()?;
            Tensor::stack(&rows, 0)
        };
        let ids = rows(|e| e.get_ids())?;
        let type_ids = rows(|e| e.get_type_ids())?;
        let mask = rows(|e| e.get_attention_mask())?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        l2_normalise(&summed.broadcast_div(&counts)?)
    }
}

/// Each row divided by its L2 norm (a zero row stays zero).
pub fn l2_normalise(rows: &Tensor) -> Result<Tensor> {
    let norms = rows
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    rows.broadcast_div(&norms)
}
