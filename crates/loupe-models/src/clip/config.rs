//! A CLIP model folder's `config.json` (transformers' `CLIPConfig`), read into candle's
//! configs. Keys a file leaves out take transformers' defaults, which are ViT-B/32's.
//! What candle's CLIP cannot run (another activation or layer-norm epsilon) is refused
//! here, by name, instead of giving wrong vectors.

use candle_transformers::models::clip::text_model::{Activation, ClipTextConfig};
use candle_transformers::models::clip::vision_model::ClipVisionConfig;
use serde::Deserialize;

/// The parts of `config.json` the model needs.
#[derive(Debug, Clone)]
pub struct ClipConfig {
    /// The text tower.
    pub text: ClipTextConfig,
    /// The image tower.
    pub vision: ClipVisionConfig,
    /// Values per embedding (both projections).
    pub projection_dim: usize,
    /// How the text tower picks the token whose state is the sentence's:
    /// transformers' `eos_token_id` of the text config.
    pub eos_token_id: u32,
}

#[derive(Deserialize)]
struct File {
    model_type: Option<String>,
    #[serde(default = "projection_dim")]
    projection_dim: usize,
    #[serde(default)]
    text_config: Text,
    #[serde(default)]
    vision_config: Vision,
}

#[derive(Deserialize)]
#[serde(default)]
struct Text {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    max_position_embeddings: usize,
    hidden_act: String,
    layer_norm_eps: f64,
    eos_token_id: u32,
}

impl Default for Text {
    fn default() -> Self {
        Self {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            hidden_act: QUICK_GELU.into(),
            layer_norm_eps: 1e-5,
            eos_token_id: 49407,
        }
    }
}

#[derive(Deserialize)]
#[serde(default)]
struct Vision {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_channels: usize,
    image_size: usize,
    patch_size: usize,
    hidden_act: String,
    layer_norm_eps: f64,
}

impl Default for Vision {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            hidden_act: QUICK_GELU.into(),
            layer_norm_eps: 1e-5,
        }
    }
}

const QUICK_GELU: &str = "quick_gelu";

fn projection_dim() -> usize {
    512
}

/// The only values candle's CLIP layers implement.
fn check_supported(tower: &str, act: &str, eps: f64) -> Result<(), String> {
    if act != QUICK_GELU {
        return Err(format!(
            "{tower}.hidden_act is '{act}'; only quick_gelu CLIP models (such as openai/clip-vit-*) are supported"
        ));
    }
    if (eps - 1e-5).abs() > 1e-12 {
        return Err(format!(
            "{tower}.layer_norm_eps is {eps}; only 1e-5 is supported"
        ));
    }
    Ok(())
}

impl ClipConfig {
    /// Parses `config.json`; the error says which key is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if let Some(kind) = file.model_type.as_deref().filter(|k| *k != "clip") {
            return Err(format!(
                "model_type is '{kind}', not 'clip': point it at a CLIPModel (both towers)"
            ));
        }
        let (t, v) = (file.text_config, file.vision_config);
        check_supported("text_config", &t.hidden_act, t.layer_norm_eps)?;
        check_supported("vision_config", &v.hidden_act, v.layer_norm_eps)?;
        let sizes_ok = t.num_attention_heads > 0
            && t.hidden_size % t.num_attention_heads == 0
            && v.num_attention_heads > 0
            && v.hidden_size % v.num_attention_heads == 0
            && v.patch_size > 0
            && v.image_size % v.patch_size == 0
            && t.max_position_embeddings > 1;
        if !sizes_ok {
            return Err(
                "the attention heads must divide hidden_size and patch_size must divide image_size"
                    .into(),
            );
        }
        Ok(Self {
            text: ClipTextConfig {
                vocab_size: t.vocab_size,
                embed_dim: t.hidden_size,
                activation: Activation::QuickGelu,
                intermediate_size: t.intermediate_size,
                max_position_embeddings: t.max_position_embeddings,
                pad_with: None,
                num_hidden_layers: t.num_hidden_layers,
                num_attention_heads: t.num_attention_heads,
                projection_dim: file.projection_dim,
            },
            vision: ClipVisionConfig {
                embed_dim: v.hidden_size,
                activation: Activation::QuickGelu,
                intermediate_size: v.intermediate_size,
                num_hidden_layers: v.num_hidden_layers,
                num_attention_heads: v.num_attention_heads,
                projection_dim: file.projection_dim,
                num_channels: v.num_channels,
                image_size: v.image_size,
                patch_size: v.patch_size,
            },
            projection_dim: file.projection_dim,
            eos_token_id: t.eos_token_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_take_vit_b_32_defaults() {
        let config = ClipConfig::from_json(br#"{"model_type":"clip"}"#).unwrap();
        assert_eq!(config.projection_dim, 512);
        assert_eq!(config.vision.embed_dim, 768);
        assert_eq!(config.vision.patch_size, 32);
        assert_eq!(config.text.max_position_embeddings, 77);
        assert_eq!(config.eos_token_id, 49407);
    }

    #[test]
    fn unsupported_models_are_refused_by_key() {
        let gelu = br#"{"vision_config":{"hidden_act":"gelu"}}"#;
        let err = ClipConfig::from_json(gelu).unwrap_err();
        assert!(err.contains("vision_config.hidden_act"), "{err}");
        let siglip = br#"{"model_type":"siglip"}"#;
        assert!(ClipConfig::from_json(siglip)
            .unwrap_err()
            .contains("siglip"));
        let heads = br#"{"text_config":{"hidden_size":30,"num_attention_heads":4}}"#;
        assert!(ClipConfig::from_json(heads).is_err());
    }
}
