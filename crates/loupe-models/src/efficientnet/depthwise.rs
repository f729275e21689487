//! Depthwise convolution as a candle CPU op. candle runs a grouped convolution as one
//! convolution per group (1,152 of them in the widest blocks), so this plain per-plane
//! loop with TF "SAME" padding, the folded BatchNorm bias and ReLU6 fused is far faster.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::same_padding;

/// A k×k depthwise convolution with bias and ReLU6.
pub(super) struct Depthwise {
    /// `channels × k × k`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    kernel: usize,
    stride: usize,
}

impl Depthwise {
    pub(super) fn new(weight: &Tensor, bias: &Tensor, stride: usize) -> Result<Self> {
        let (_, _, kernel, _) = weight.dims4()?;
        Ok(Self {
            weight: weight.flatten_all()?.to_vec1()?,
            bias: bias.to_vec1()?,
            kernel,
            stride,
        })
    }

    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }

    /// One output plane from one input plane.
    fn plane(&self, channel: usize, input: &[f32], (h, w): (usize, usize), out: &mut [f32]) {
        let k = self.kernel;
        let s = self.stride;
        let (oh, top, _) = same_padding(h, k, s);
        let (ow, left, _) = same_padding(w, k, s);
        let weights = &self.weight[channel * k * k..(channel + 1) * k * k];
        out.fill(self.bias[channel]);
        for oy in 0..oh {
            let row = &mut out[oy * ow..(oy + 1) * ow];
            for ky in 0..k {
                let Some(iy) = (oy * s + ky).checked_sub(top).filter(|&iy| iy < h) else {
                    continue;
                };
                let in_row = &input[iy * w..(iy + 1) * w];
                for kx in 0..k {
                    let wv = weights[ky * k + kx];
                    // Output columns whose input column `ox·s + kx − left` is inside the row.
                    let first = left.saturating_sub(kx).div_ceil(s);
                    let last = (w + left).saturating_sub(kx).div_ceil(s).min(ow);
                    if first >= last {
                        continue;
                    }
                    let ix0 = first * s + kx - left;
                    if s == 1 {
                        let src = &in_row[ix0..ix0 + (last - first)];
                        for (o, i) in row[first..last].iter_mut().zip(src) {
                            *o += wv * i;
                        }
                    } else {
                        let src = in_row[ix0..].iter().step_by(s);
                        for (o, i) in row[first..last].iter_mut().zip(src) {
                            *o += wv * i;
                        }
                    }
                }
            }
        }
        for v in out.iter_mut() {
            *v = v.clamp(0.0, 6.0);
        }
    }
}

impl CustomOp1 for Depthwise {
    fn name(&self) -> &'static str {
        "depthwise-conv-same-relu6"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        if c != self.bias.len() {
            candle_core::bail!(
                "depthwise: {c} input channels, weights for {}",
                self.bias.len()
            );
        }
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("depthwise: f32 input expected");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("depthwise: contiguous input expected");
        };
        let input = &data[start..end];
        let (oh, _, _) = same_padding(h, self.kernel, self.stride);
        let (ow, _, _) = same_padding(w, self.kernel, self.stride);
        let mut out = vec![0f32; b * c * oh * ow];
        out.par_chunks_mut(oh * ow)
            .zip(input.par_chunks(h * w))
            .enumerate()
            .for_each(|(plane, (out, input))| self.plane(plane % c, input, (h, w), out));
        Ok((CpuStorage::F32(out), Shape::from((b, c, oh, ow))))
    }
}
