use super::*;

#[test]
fn same_padding_matches_tensorflow() {
    // The stem on a 224 input: 112 out, the odd pixel of padding goes after.
    assert_eq!(same_padding(224, 3, 2), (112, 0, 1));
    assert_eq!(same_padding(112, 3, 1), (112, 1, 1));
    assert_eq!(same_padding(56, 5, 2), (28, 1, 2));
    assert_eq!(same_padding(14, 5, 1), (14, 2, 2));
    assert_eq!(same_padding(7, 3, 2), (4, 1, 1));
    // A kernel smaller than the stride needs no padding.
    assert_eq!(same_padding(8, 1, 2), (4, 0, 0));
}

fn seeded(shape: &[usize], seed: u64) -> Tensor {
    // A small LCG: deterministic values without a rand dependency.
    let n: usize = shape.iter().product();
    let mut state = seed;
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// candle's own grouped convolution on explicitly padded input, as the reference.
fn reference_depthwise(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize) -> Tensor {
    let (_, c, h, wd) = x.dims4().unwrap();
    let k = w.dim(2).unwrap();
    let (_, top, bottom) = same_padding(h, k, stride);
    let (_, left, right) = same_padding(wd, k, stride);
    x.pad_with_zeros(2, top, bottom)
        .unwrap()
        .pad_with_zeros(3, left, right)
        .unwrap()
        .conv2d(w, 0, stride, 1, c)
        .unwrap()
        .broadcast_add(&b.reshape((1, c, 1, 1)).unwrap())
        .unwrap()
        .clamp(0f32, 6f32)
        .unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

fn nhwc(x: &Tensor) -> Tensor {
    x.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap()
}

fn nchw(x: &Tensor) -> Tensor {
    x.permute((0, 3, 1, 2)).unwrap().contiguous().unwrap()
}

#[test]
fn depthwise_op_matches_a_grouped_convolution_with_same_padding() {
    for (k, stride, size) in [(3, 1, 9), (3, 2, 9), (5, 2, 10), (5, 1, 7), (3, 2, 4)] {
        let c = 4;
        let x = (seeded(&[2, c, size, size + 1], 1) * 8.0).unwrap();
        let w = seeded(&[c, 1, k, k], 2);
        let b = seeded(&[c], 3);
        let ours = nchw(
            &ops::Depthwise::new(&w, &b, stride)
                .unwrap()
                .forward(&nhwc(&x))
                .unwrap(),
        );
        let want = reference_depthwise(&x, &w, &b, stride);
        assert!(
            max_abs_diff(&ours, &want) < 1e-5,
            "k={k} stride={stride} size={size}"
        );
    }
}

#[test]
fn stem_matches_a_strided_convolution_with_same_padding() {
    let x = seeded(&[2, 3, 9, 8], 7);
    let w = seeded(&[5, 3, 3, 3], 8);
    let b = seeded(&[5], 9);
    let ours = nchw(
        &ops::Stem::new(&w, &b, 2)
            .unwrap()
            .forward(&nhwc(&x))
            .unwrap(),
    );
    let (_, top, bottom) = same_padding(9, 3, 2);
    let (_, left, right) = same_padding(8, 3, 2);
    let want = x
        .pad_with_zeros(2, top, bottom)
        .unwrap()
        .pad_with_zeros(3, left, right)
        .unwrap()
        .conv2d(&w, 0, 2, 1, 1)
        .unwrap()
        .broadcast_add(&b.reshape((1, 5, 1, 1)).unwrap())
        .unwrap()
        .clamp(0f32, 6f32)
        .unwrap();
    let diff = max_abs_diff(&ours, &want);
    assert!(diff < 1e-5, "max abs diff {diff}");
}

#[test]
fn pointwise_matches_a_one_by_one_convolution_with_residual() {
    let x = seeded(&[2, 6, 5, 3], 4);
    let w = seeded(&[6, 6, 1, 1], 5);
    let b = seeded(&[6], 6);
    let ours = ops::Pointwise::new(&w, &b, false)
        .unwrap()
        .forward(&nhwc(&x), Some(&nhwc(&x)))
        .unwrap();
    let want = (x
        .conv2d(&w, 0, 1, 1, 1)
        .unwrap()
        .broadcast_add(&b.reshape((1, 6, 1, 1)).unwrap())
        .unwrap()
        + &x)
        .unwrap();
    let diff = max_abs_diff(&nchw(&ours), &want);
    assert!(diff < 1e-5, "max abs diff {diff}");
}
