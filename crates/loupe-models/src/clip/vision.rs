//! CLIP's image tower on CPU, written out over plain buffers.
//!
//! candle's CLIP runs every linear layer as one small matrix product per image (the
//! weight broadcast over the batch, so each of the 16 images of a batch packs the whole
//! weight again), and its attention, softmax and activation as separate passes that
//! allocate. Here the batch's tokens are one matrix, so each layer is four large
//! products (`gemm`, the kernels candle uses, with its bias and residual folded in by
//! accumulating into the destination), and the rest is a few fused passes over rows
//! split between threads. Same weights, same arithmetic: the parity test holds it to
//! transformers' outputs.

use candle_core::Result;
use candle_nn::VarBuilder;
use rayon::prelude::*;

use super::config::ClipConfig;

/// A linear layer with its weight stored `inputs × outputs`, as the products read it.
struct Linear {
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    inputs: usize,
    outputs: usize,
}

impl Linear {
    fn load(vb: &VarBuilder, inputs: usize, outputs: usize, bias: bool) -> Result<Self> {
        // PyTorch stores `outputs × inputs`.
        let stored = vb.get((outputs, inputs), "weight")?;
        let weight = stored.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let bias = match bias {
            true => Some(vb.get(outputs, "bias")?.to_vec1::<f32>()?),
            false => None,
        };
        Ok(Self {
            weight,
            bias,
            inputs,
            outputs,
        })
    }

    /// `out = x·W + b`, or `out += x·W + b` with `accumulate` (a residual connection).
    fn apply(&self, x: &[f32], rows: usize, out: &mut [f32], accumulate: bool, threads: usize) {
        match (&self.bias, accumulate) {
            (Some(bias), true) => out
                .chunks_exact_mut(self.outputs)
                .for_each(|row| row.iter_mut().zip(bias).for_each(|(o, b)| *o += b)),
            (Some(bias), false) => out
                .chunks_exact_mut(self.outputs)
                .for_each(|row| row.copy_from_slice(bias)),
            (None, true) => {}
            (None, false) => out.fill(0.0),
        }
        let parallelism = match threads {
            0 | 1 => gemm::Parallelism::None,
            n => gemm::Parallelism::Rayon(n),
        };
        assert!(x.len() == rows * self.inputs && out.len() == rows * self.outputs);
        // SAFETY: the three buffers are row-major and of the sizes asserted above, and
        // `out` does not overlap the inputs (it is borrowed mutably).
        #[expect(
            unsafe_code,
            reason = "gemm's entry point takes raw pointers and strides"
        )]
        unsafe {
            gemm::gemm(
                rows,
                self.outputs,
                self.inputs,
                out.as_mut_ptr(),
                1,
                self.outputs as isize,
                true,
                x.as_ptr(),
                1,
                self.inputs as isize,
                self.weight.as_ptr(),
                1,
                self.outputs as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            gamma: vb.get(dim, "weight")?.to_vec1::<f32>()?,
            beta: vb.get(dim, "bias")?.to_vec1::<f32>()?,
            eps: eps as f32,
        })
    }

    /// Normalises each row of `x` into the same row of `out`.
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        let dim = self.gamma.len();
        out.par_chunks_mut(dim)
            .zip(x.par_chunks(dim))
            .for_each(|(out, x)| self.row(x, out));
    }

    fn row(&self, x: &[f32], out: &mut [f32]) {
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var + self.eps).sqrt();
        for (((o, v), g), b) in out.iter_mut().zip(x).zip(&self.gamma).zip(&self.beta) {
            *o = (v - mean) * inv * g + b;
        }
    }
}

struct Layer {
    norm1: LayerNorm,
    /// `q`, `k` and `v` side by side: one product instead of three.
    qkv: Linear,
    out: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// The image tower: patches, class token and positions, the encoder layers, the pooled
/// (class) token's final norm, and the projection.
pub struct VisionTower {
    patch: Linear,
    class: Vec<f32>,
    positions: Vec<f32>,
    pre_norm: LayerNorm,
    layers: Vec<Layer>,
    post_norm: LayerNorm,
    projection: Linear,
    heads: usize,
    patch_size: usize,
    image_size: usize,
    embed: usize,
}

/// Loads `q_proj`, `k_proj` and `v_proj` as one layer.
fn fused_qkv(vb: &VarBuilder, embed: usize) -> Result<Linear> {
    let parts = ["q_proj", "k_proj", "v_proj"]
        .into_iter()
        .map(|name| Linear::load(&vb.pp(name), embed, embed, true))
        .collect::<Result<Vec<_>>>()?;
    let mut weight = Vec::with_capacity(embed * 3 * embed);
    for row in 0..embed {
        for part in &parts {
            weight.extend_from_slice(&part.weight[row * embed..(row + 1) * embed]);
        }
    }
    let bias = parts
        .iter()
        .flat_map(|p| p.bias.as_deref().unwrap_or_default().iter().copied())
        .collect();
    Ok(Linear {
        weight,
        bias: Some(bias),
        inputs: embed,
        outputs: 3 * embed,
    })
}

impl VisionTower {
    /// The tower under `vision_model.` and `visual_projection.` of `weights`.
    pub fn new(weights: &VarBuilder, config: &ClipConfig) -> Result<Self> {
        let c = &config.vision;
        let (embed, patch_size) = (c.embed_dim, c.patch_size);
        let eps = 1e-5;
        let vm = weights.pp("vision_model");
        let emb = vm.pp("embeddings");
        let patch_inputs = c.num_channels * patch_size * patch_size;
        let stored = emb.get(
            (embed, c.num_channels, patch_size, patch_size),
            "patch_embedding.weight",
        )?;
        let patch = Linear {
            weight: stored
                .reshape((embed, patch_inputs))?
                .t()?
                .contiguous()?
                .flatten_all()?
                .to_vec1::<f32>()?,
            bias: None,
            inputs: patch_inputs,
            outputs: embed,
        };
        let tokens = (c.image_size / patch_size).pow(2) + 1;
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let l = vm.pp("encoder.layers").pp(i.to_string());
                Ok(Layer {
                    norm1: LayerNorm::load(&l.pp("layer_norm1"), embed, eps)?,
                    qkv: fused_qkv(&l.pp("self_attn"), embed)?,
                    out: Linear::load(&l.pp("self_attn.out_proj"), embed, embed, true)?,
                    norm2: LayerNorm::load(&l.pp("layer_norm2"), embed, eps)?,
                    fc1: Linear::load(&l.pp("mlp.fc1"), embed, c.intermediate_size, true)?,
                    fc2: Linear::load(&l.pp("mlp.fc2"), c.intermediate_size, embed, true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            patch,
            class: emb.get(embed, "class_embedding")?.to_vec1::<f32>()?,
            positions: emb
                .get((tokens, embed), "position_embedding.weight")?
                .flatten_all()?
                .to_vec1::<f32>()?,
            pre_norm: LayerNorm::load(&vm.pp("pre_layrnorm"), embed, eps)?,
            layers,
            post_norm: LayerNorm::load(&vm.pp("post_layernorm"), embed, eps)?,
            projection: Linear::load(
                &weights.pp("visual_projection"),
                embed,
                config.projection_dim,
                false,
            )?,
            heads: c.num_attention_heads,
            patch_size,
            image_size: c.image_size,
            embed,
        })
    }

    /// Values per output row.
    pub fn output_dim(&self) -> usize {
        self.projection.outputs
    }

    /// The projected (not yet normalised) embeddings of `images` images given as pixel
    /// values `(images, channels, size, size)`, row after row.
    pub fn forward(&self, pixels: &[f32], images: usize) -> Vec<f32> {
        if images == 0 {
            return Vec::new();
        }
        let threads = candle_core::utils::get_num_threads();
        let (embed, side) = (self.embed, self.image_size / self.patch_size);
        let patches = side * side;
        let tokens = patches + 1;
        let rows = images * tokens;

        // Patches as rows of (channel, y, x) values, the conv weight's order.
        let p = self.patch_size;
        let channels = self.patch.inputs / (p * p);
        let mut patch_rows = vec![0.0; images * patches * self.patch.inputs];
        patch_rows
            .par_chunks_mut(self.patch.inputs)
            .enumerate()
            .for_each(|(n, row)| {
                let (image, patch) = (n / patches, n % patches);
                let (py, px) = (patch / side, patch % side);
                let mut at = 0;
                for ch in 0..channels {
                    let plane = (image * channels + ch) * self.image_size * self.image_size;
                    for y in 0..p {
                        let start = plane + (py * p + y) * self.image_size + px * p;
                        row[at..at + p].copy_from_slice(&pixels[start..start + p]);
                        at += p;
                    }
                }
            });
        let mut patched = vec![0.0; images * patches * embed];
        self.patch
            .apply(&patch_rows, images * patches, &mut patched, false, threads);
        drop(patch_rows);

        // Class token first, then the patches, each plus its position.
        let mut x = vec![0.0; rows * embed];
        x.par_chunks_mut(embed).enumerate().for_each(|(r, row)| {
            let (image, token) = (r / tokens, r % tokens);
            let source = match token {
                0 => &self.class[..],
                t => {
                    let at = (image * patches + t - 1) * embed;
                    &patched[at..at + embed]
                }
            };
            let position = &self.positions[token * embed..(token + 1) * embed];
            for ((o, s), q) in row.iter_mut().zip(source).zip(position) {
                *o = s + q;
            }
        });
        let mut normed = vec![0.0; rows * embed];
        self.pre_norm.apply(&x, &mut normed);
        std::mem::swap(&mut x, &mut normed);

        let mut qkv = vec![0.0; rows * 3 * embed];
        let mut attended = vec![0.0; rows * embed];
        let mut hidden = vec![0.0; rows * self.layers.first().map_or(0, |l| l.fc1.outputs)];
        for layer in &self.layers {
            layer.norm1.apply(&x, &mut normed);
            layer.qkv.apply(&normed, rows, &mut qkv, false, threads);
            self.attention(&qkv, tokens, &mut attended);
            layer.out.apply(&attended, rows, &mut x, true, threads);
            layer.norm2.apply(&x, &mut normed);
            layer.fc1.apply(&normed, rows, &mut hidden, false, threads);
            quick_gelu(&mut hidden, layer.fc1.outputs);
            layer.fc2.apply(&hidden, rows, &mut x, true, threads);
        }

        // The class token of each image, normalised and projected.
        let mut pooled = vec![0.0; images * embed];
        pooled
            .chunks_exact_mut(embed)
            .zip(x.chunks_exact(tokens * embed))
            .for_each(|(out, image)| self.post_norm.row(&image[..embed], out));
        let mut projected = vec![0.0; images * self.projection.outputs];
        self.projection
            .apply(&pooled, images, &mut projected, false, threads);
        projected
    }

    /// Multi-head self-attention of each image's tokens: `qkv` holds each token's
    /// query, key and value side by side; the heads' outputs go side by side in `out`.
    fn attention(&self, qkv: &[f32], tokens: usize, out: &mut [f32]) {
        let (embed, heads) = (self.embed, self.heads);
        let head_dim = embed / heads;
        let scale = (head_dim as f32).powf(-0.5);
        out.par_chunks_mut(tokens * embed)
            .zip(qkv.par_chunks(tokens * 3 * embed))
            .for_each(|(out, qkv)| {
                let mut weights = vec![0.0f32; tokens];
                for h in 0..heads {
                    let part = |token: usize, which: usize| {
                        let at = token * 3 * embed + which * embed + h * head_dim;
                        &qkv[at..at + head_dim]
                    };
                    for i in 0..tokens {
                        let q = part(i, 0);
                        let mut max = f32::NEG_INFINITY;
                        for (j, w) in weights.iter_mut().enumerate() {
                            let dot: f32 = q.iter().zip(part(j, 1)).map(|(a, b)| a * b).sum();
                            *w = dot * scale;
                            max = max.max(*w);
                        }
                        let mut sum = 0.0;
                        for w in weights.iter_mut() {
                            *w = (*w - max).exp();
                            sum += *w;
                        }
                        let row =
                            &mut out[i * embed + h * head_dim..i * embed + (h + 1) * head_dim];
                        row.fill(0.0);
                        for (j, w) in weights.iter().enumerate() {
                            let p = w / sum;
                            for (o, v) in row.iter_mut().zip(part(j, 2)) {
                                *o += p * v;
                            }
                        }
                    }
                }
            });
    }
}

/// `x · sigmoid(1.702 x)` in place, rows split between threads.
fn quick_gelu(values: &mut [f32], width: usize) {
    values.par_chunks_mut(width * 16).for_each(|chunk| {
        for v in chunk {
            *v /= 1.0 + (-1.702 * *v).exp();
        }
    });
}
