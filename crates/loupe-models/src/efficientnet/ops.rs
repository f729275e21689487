//! The network's CPU kernels on channels-last (NHWC) maps, where every pixel's channels
//! are contiguous: 1×1 convolutions are then one matrix product over all pixels of the
//! batch, and the depthwise loop vectorises across channels. candle runs a grouped
//! convolution as one convolution per group (1,152 in the widest blocks), and each of its
//! elementwise ops allocates a fresh map, so bias, ReLU6 and residual are fused here.

use candle_core::{CpuStorage, CustomOp1, InplaceOp1, InplaceOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::same_padding;

fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: f32 input expected");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: contiguous input expected");
    };
    Ok(&data[start..end])
}

fn f32_slice_mut<'a>(
    storage: &'a mut CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a mut [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: f32 input expected");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: contiguous input expected");
    };
    Ok(&mut data[start..end])
}

/// Adds a per-channel bias (the last dimension) in place, then optionally ReLU6.
struct BiasAct<'a> {
    bias: &'a [f32],
    relu6: bool,
}

impl InplaceOp1 for BiasAct<'_> {
    fn name(&self) -> &'static str {
        "bias-relu6"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let data = f32_slice_mut(storage, layout, self.name())?;
        let c = self.bias.len();
        data.par_chunks_mut(c * 64).for_each(|rows| {
            for row in rows.chunks_exact_mut(c) {
                for (v, b) in row.iter_mut().zip(self.bias) {
                    let x = *v + b;
                    *v = if self.relu6 { x.clamp(0.0, 6.0) } else { x };
                }
            }
        });
        Ok(())
    }
}

/// Adds a per-channel bias and a residual map of the same shape, in place.
struct BiasResidual<'a> {
    bias: &'a [f32],
}

impl InplaceOp2 for BiasResidual<'_> {
    fn name(&self) -> &'static str {
        "bias-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        if l1.shape() != l2.shape() {
            candle_core::bail!(
                "bias-residual: shapes {:?} and {:?} differ",
                l1.shape(),
                l2.shape()
            );
        }
        let residual = f32_slice(s2, l2, self.name())?;
        let data = f32_slice_mut(s1, l1, self.name())?;
        let c = self.bias.len();
        data.par_chunks_mut(c * 64)
            .zip(residual.par_chunks(c * 64))
            .for_each(|(rows, res)| {
                for (row, res) in rows.chunks_exact_mut(c).zip(res.chunks_exact(c)) {
                    for ((v, b), r) in row.iter_mut().zip(self.bias).zip(res) {
                        *v += b + r;
                    }
                }
            });
        Ok(())
    }
}

/// A 1×1 convolution with bias, then ReLU6 or a residual add.
pub(super) struct Pointwise {
    /// `(in, out)`: pixels `(n, in)` times this are the output.
    weight: Tensor,
    bias: Vec<f32>,
    relu6: bool,
}

impl Pointwise {
    /// From an `(out, in, 1, 1)` weight and its `(out)` bias.
    pub(super) fn new(weight: &Tensor, bias: &Tensor, relu6: bool) -> Result<Self> {
        let (c_out, c_in, _, _) = weight.dims4()?;
        Ok(Self {
            weight: weight.reshape((c_out, c_in))?.t()?.contiguous()?,
            bias: bias.to_vec1()?,
            relu6,
        })
    }

    /// `(b, h, w, in)` → `(b, h, w, out)`; with `residual`, adds it (no activation).
    pub(super) fn forward(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        let y = x.reshape((b * h * w, c))?.matmul(&self.weight)?;
        let y = y.reshape((b, h, w, self.bias.len()))?;
        match residual {
            Some(r) => y.inplace_op2(r, &BiasResidual { bias: &self.bias })?,
            None => y.inplace_op1(&BiasAct {
                bias: &self.bias,
                relu6: self.relu6,
            })?,
        }
        Ok(y)
    }
}

/// The stem: a k×k convolution over few input channels, as im2col (patches with TF
/// "SAME" padding, in `(ky, kx, channel)` order) and one matrix product.
pub(super) struct Stem {
    /// `(k·k·in, out)`.
    weight: Tensor,
    bias: Vec<f32>,
    kernel: usize,
    stride: usize,
}

impl Stem {
    /// From an `(out, in, k, k)` weight and its `(out)` bias.
    pub(super) fn new(weight: &Tensor, bias: &Tensor, stride: usize) -> Result<Self> {
        let (c_out, c_in, kernel, _) = weight.dims4()?;
        let weight = weight
            .permute((2, 3, 1, 0))?
            .reshape((kernel * kernel * c_in, c_out))?
            .contiguous()?;
        Ok(Self {
            weight,
            bias: bias.to_vec1()?,
            kernel,
            stride,
        })
    }

    /// `(b, h, w, in)` → `(b, ⌈h/s⌉, ⌈w/s⌉, out)`, with ReLU6.
    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w, _) = x.dims4()?;
        let (oh, ow) = (
            same_padding(h, self.kernel, self.stride).0,
            same_padding(w, self.kernel, self.stride).0,
        );
        let patches = x.contiguous()?.apply_op1_no_bwd(self)?;
        let y = patches
            .matmul(&self.weight)?
            .reshape((b, oh, ow, self.bias.len()))?;
        y.inplace_op1(&BiasAct {
            bias: &self.bias,
            relu6: true,
        })?;
        Ok(y)
    }
}

impl CustomOp1 for Stem {
    fn name(&self) -> &'static str {
        "im2col-same"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, h, w, c) = layout.shape().dims4()?;
        let input = f32_slice(storage, layout, self.name())?;
        let (k, s) = (self.kernel, self.stride);
        let (oh, top, _) = same_padding(h, k, s);
        let (ow, left, _) = same_padding(w, k, s);
        let cols = k * k * c;
        let mut out = vec![0f32; b * oh * ow * cols];
        out.par_chunks_mut(ow * cols)
            .enumerate()
            .for_each(|(row, out)| {
                let (image, oy) = (row / oh, row % oh);
                let image = &input[image * h * w * c..(image + 1) * h * w * c];
                for ox in 0..ow {
                    let patch = &mut out[ox * cols..(ox + 1) * cols];
                    for ky in 0..k {
                        let Some(iy) = (oy * s + ky).checked_sub(top).filter(|&iy| iy < h) else {
                            continue;
                        };
                        for kx in 0..k {
                            let Some(ix) = (ox * s + kx).checked_sub(left).filter(|&ix| ix < w)
                            else {
                                continue;
                            };
                            let at = (iy * w + ix) * c;
                            patch[(ky * k + kx) * c..(ky * k + kx + 1) * c]
                                .copy_from_slice(&image[at..at + c]);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((b * oh * ow, cols))))
    }
}

/// A k×k depthwise convolution with TF "SAME" padding, bias and ReLU6.
pub(super) struct Depthwise {
    /// `k × k × channels`: each tap's weights are contiguous across channels.
    weight: Vec<f32>,
    bias: Vec<f32>,
    kernel: usize,
    stride: usize,
}

impl Depthwise {
    /// From a `(channels, 1, k, k)` weight and its bias.
    pub(super) fn new(weight: &Tensor, bias: &Tensor, stride: usize) -> Result<Self> {
        let (c, _, kernel, _) = weight.dims4()?;
        let weight = weight
            .reshape((c, kernel * kernel))?
            .t()?
            .contiguous()?
            .flatten_all()?
            .to_vec1()?;
        Ok(Self {
            weight,
            bias: bias.to_vec1()?,
            kernel,
            stride,
        })
    }

    /// `(b, h, w, c)` → `(b, ⌈h/s⌉, ⌈w/s⌉, c)`.
    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }

    /// One output row `(ow, c)` of one image `(h, w, c)`.
    fn row(&self, image: &[f32], (h, w): (usize, usize), oy: usize, out: &mut [f32]) {
        let c = self.bias.len();
        let (k, s) = (self.kernel, self.stride);
        let (_, top, _) = same_padding(h, k, s);
        let (_, left, _) = same_padding(w, k, s);
        for pixel in out.chunks_exact_mut(c) {
            pixel.copy_from_slice(&self.bias);
        }
        for ky in 0..k {
            let Some(iy) = (oy * s + ky).checked_sub(top).filter(|&iy| iy < h) else {
                continue;
            };
            let in_row = &image[iy * w * c..(iy + 1) * w * c];
            for (ox, pixel) in out.chunks_exact_mut(c).enumerate() {
                for kx in 0..k {
                    let Some(ix) = (ox * s + kx).checked_sub(left).filter(|&ix| ix < w) else {
                        continue;
                    };
                    let taps = &self.weight[(ky * k + kx) * c..(ky * k + kx + 1) * c];
                    let src = &in_row[ix * c..(ix + 1) * c];
                    for ((o, t), i) in pixel.iter_mut().zip(taps).zip(src) {
                        *o += t * i;
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
        "depthwise-same-relu6"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, h, w, c) = layout.shape().dims4()?;
        if c != self.bias.len() {
            candle_core::bail!(
                "depthwise: {c} input channels, weights for {}",
                self.bias.len()
            );
        }
        let input = f32_slice(storage, layout, self.name())?;
        let oh = same_padding(h, self.kernel, self.stride).0;
        let ow = same_padding(w, self.kernel, self.stride).0;
        let mut out = vec![0f32; b * oh * ow * c];
        out.par_chunks_mut(ow * c)
            .enumerate()
            .for_each(|(row, out)| {
                let (image, oy) = (row / oh, row % oh);
                self.row(
                    &input[image * h * w * c..(image + 1) * h * w * c],
                    (h, w),
                    oy,
                    out,
                );
            });
        Ok((CpuStorage::F32(out), Shape::from((b, oh, ow, c))))
    }
}
