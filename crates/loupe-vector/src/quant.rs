//! Quantised copies of vectors for the fast first pass of a search: half floats (half
//! the bytes, about three significant digits) and int8 with one scale per vector (a
//! quarter of the bytes). Either pass over-fetches candidates that are then rescored
//! exactly in f32, so quantisation trades memory bandwidth for a rerank, not accuracy.

use crate::kernel::QueryI8;

/// IEEE half-float bits of each value (round to nearest even).
pub fn to_f16(values: &[f32]) -> Vec<u16> {
    values
        .iter()
        .map(|&v| half::f16::from_f32(v).to_bits())
        .collect()
}

/// The value of half-float bits.
#[inline]
pub fn f16_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// Symmetric int8 quantisation: `values[i] ≈ q[i] * scale`, `q` in `-127..=127` (never
/// -128, which the AVX2 sign trick cannot negate).
pub fn to_i8(values: &[f32]) -> (Vec<i8>, f32) {
    let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        return (vec![0; values.len()], 0.0);
    }
    let scale = max / 127.0;
    let q = values
        .iter()
        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scale)
}

/// A query in the form the int8 kernels take.
pub fn query_i8(query: &[f32]) -> QueryI8 {
    let (signed, scale) = to_i8(query);
    let offset = signed.iter().map(|&v| (i16::from(v) + 128) as u8).collect();
    QueryI8 {
        signed,
        offset,
        scale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_stay_within_one_step() {
        let values: Vec<f32> = (0..300)
            .map(|i| ((i * 7919) % 613) as f32 / 613.0 - 0.5)
            .collect();
        let (q, scale) = to_i8(&values);
        for (v, q) in values.iter().zip(&q) {
            assert!((v - f32::from(*q) * scale).abs() <= scale / 2.0 + 1e-6);
        }
        for (v, h) in values.iter().zip(to_f16(&values)) {
            assert!((v - f16_to_f32(h)).abs() <= v.abs() / 1024.0 + 1e-7);
        }
        assert_eq!(to_i8(&[0.0, 0.0]), (vec![0, 0], 0.0));
        let q = query_i8(&[1.0, -1.0]);
        assert_eq!(q.signed, [127, -127]);
        assert_eq!(q.offset, [255, 1]);
    }
}
