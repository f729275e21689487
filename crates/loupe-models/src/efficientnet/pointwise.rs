//! 1×1 convolutions as matrix products over NCHW maps, with their BatchNorm folded in.

use candle_core::{Result, Tensor};

/// A 1×1 convolution with bias and an optional ReLU6.
pub(super) struct Pointwise {
    /// `(out, in)`.
    weight: Tensor,
    /// `(out, 1)`, broadcast over the pixels.
    bias: Tensor,
    relu6: bool,
}

impl Pointwise {
    pub(super) fn new(weight: &Tensor, bias: &Tensor, relu6: bool) -> Result<Self> {
        let (c_out, c_in, _, _) = weight.dims4()?;
        Ok(Self {
            weight: weight.reshape((c_out, c_in))?,
            bias: bias.reshape((c_out, 1))?,
            relu6,
        })
    }

    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let c_out = self.weight.dim(0)?;
        // In NCHW a 1×1 convolution is `W · X` per image, with X as (channels, pixels).
        let y = self
            .weight
            .broadcast_left(b)?
            .contiguous()?
            .matmul(&x.reshape((b, c, h * w))?)?
            .broadcast_add(&self.bias)?;
        let y = if self.relu6 { y.clamp(0f32, 6f32)? } else { y };
        y.reshape((b, c_out, h, w))
    }
}
