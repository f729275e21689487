//! The scoring kernels, picked once per process for the CPU they run on:
//! - AVX-512 (with VNNI for int8) where present,
//! - AVX2 with FMA (and F16C for f16),
//! - NEON on aarch64 (part of its base instruction set),
//! - otherwise portable code written so the compiler vectorises it (independent lane
//!   accumulators).
//!
//! Every kernel computes the same sums, so results differ only by float rounding; the
//! tests compare each one available on the machine with an exact f64 sum.

use std::sync::OnceLock;

#[cfg(target_arch = "aarch64")]
mod neon;
pub mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

/// A query quantised for int8 rows: the values in `-127..=127` and the same plus 128 as
/// unsigned bytes (VNNI multiplies unsigned by signed bytes; the offset is taken back
/// out with each row's sum).
#[derive(Debug, Clone)]
pub struct QueryI8 {
    /// The quantised values.
    pub signed: Vec<i8>,
    /// `signed + 128`.
    pub offset: Vec<u8>,
    /// Multiply an integer dot product by this (times the row's scale) to get the score.
    pub scale: f32,
}

/// Four vectors borrowed at once: a tile of rows or of queries.
pub type Four<'a> = [&'a [f32]; 4];

/// One CPU's set of kernels.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    /// Which instruction set, for logs and benchmarks.
    pub name: &'static str,
    /// `a · b`.
    pub dot: fn(&[f32], &[f32]) -> f32,
    /// `query · row` for each row of `dim` values into `out`: the row loop runs inside the
    /// SIMD code, not through a call per row.
    pub scan: fn(&[f32], &[f32], usize, &mut [f32]),
    /// The same over rows stored as IEEE half floats (bits).
    pub scan_f16: fn(&[f32], &[u16], usize, &mut [f32]),
    /// Integer dot products of a quantised query with int8 rows whose values sum to
    /// `sums[i]` (the VNNI kernel needs the sums to take its unsigned offset back out).
    pub scan_i8: fn(&QueryI8, &[i8], &[i32], usize, &mut [i32]),
    /// Sixteen dot products at once, `[query][row]`: four rows against four queries with
    /// every loaded value used four times, which turns a batch from memory-bound into
    /// FMA-bound.
    pub dots_4x4: fn(&Four, &Four) -> [[f32; 4]; 4],
}

static KERNELS: OnceLock<Kernels> = OnceLock::new();

const PORTABLE: Kernels = Kernels {
    name: "portable",
    dot: portable::dot,
    scan: portable::scan,
    scan_f16: portable::scan_f16,
    scan_i8: portable::scan_i8,
    dots_4x4: portable::dots_4x4,
};

fn select() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    if let Some(kernels) = x86::detect() {
        return kernels;
    }
    #[cfg(target_arch = "aarch64")]
    return neon::NEON;
    #[cfg_attr(
        target_arch = "aarch64",
        expect(unreachable_code, reason = "NEON is always there")
    )]
    PORTABLE
}

/// The kernels for this machine.
pub fn kernels() -> &'static Kernels {
    KERNELS.get_or_init(select)
}

/// Every kernel set this machine can run, best first, portable last: for tests and
/// benchmarks that compare them.
pub fn available() -> Vec<Kernels> {
    arch_kernels().into_iter().chain([PORTABLE]).collect()
}

#[cfg(target_arch = "x86_64")]
fn arch_kernels() -> Vec<Kernels> {
    x86::all_supported()
}

#[cfg(target_arch = "aarch64")]
fn arch_kernels() -> Vec<Kernels> {
    vec![neon::NEON]
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn arch_kernels() -> Vec<Kernels> {
    Vec::new()
}

/// The dot product of two vectors of equal length.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().dot)(a, b)
}

/// The dot kernel itself, for loops that score many rows: resolved once, called directly.
pub fn dot_fn() -> fn(&[f32], &[f32]) -> f32 {
    kernels().dot
}

/// Which kernel set [`dot`] uses on this machine.
pub fn kernel_name() -> &'static str {
    kernels().name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    fn vector(n: usize, mul: usize, modulo: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * mul % modulo) as f32 - (modulo / 2) as f32) / (modulo / 2) as f32)
            .collect()
    }

    #[test]
    fn every_kernel_matches_the_exact_sum_at_every_length() {
        let sets = available();
        assert!(sets.iter().any(|k| k.name == kernel_name()));
        for n in [
            0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 384, 512, 513, 1536,
        ] {
            let a = vector(n, 37, 101);
            let b = vector(n, 53, 97);
            let expected = naive(&a, &b);
            let b16 = quant::to_f16(&b);
            let b16_exact: Vec<f32> = b16.iter().map(|&h| quant::f16_to_f32(h)).collect();
            let expected16 = naive(&a, &b16_exact);
            let (b8, _scale) = quant::to_i8(&b);
            let q8 = quant::query_i8(&a);
            let expected8: i64 = q8
                .signed
                .iter()
                .zip(&b8)
                .map(|(x, y)| i64::from(*x) * i64::from(*y))
                .sum();
            let row_sum: i32 = b8.iter().map(|&x| i32::from(x)).sum();
            let rows: [Vec<f32>; 4] = [
                vector(n, 11, 89),
                vector(n, 13, 83),
                vector(n, 17, 79),
                vector(n, 19, 73),
            ];
            let queries: [Vec<f32>; 4] = [
                a.clone(),
                vector(n, 23, 71),
                vector(n, 29, 67),
                vector(n, 31, 61),
            ];
            for k in &sets {
                let got = (k.dot)(&a, &b);
                assert!(
                    (f64::from(got) - expected).abs() < 1e-3,
                    "{} dot at {n}",
                    k.name
                );
                // Each scan over three copies of the row gives the same dot three times.
                if n > 0 {
                    let mut out = [0.0f32; 3];
                    (k.scan)(&a, &b.repeat(3), n, &mut out);
                    let close = |got: &[f32], want: f64| {
                        got.iter().all(|g| (f64::from(*g) - want).abs() < 1e-3)
                    };
                    assert!(close(&out, expected), "{} scan at {n}: {out:?}", k.name);
                    (k.scan_f16)(&a, &b16.repeat(3), n, &mut out);
                    assert!(close(&out, expected16), "{} f16 at {n}: {out:?}", k.name);
                    let mut ints = [0i32; 3];
                    (k.scan_i8)(&q8, &b8.repeat(3), &[row_sum; 3], n, &mut ints);
                    assert!(
                        ints.iter().all(|&g| i64::from(g) == expected8),
                        "{} i8 at {n}: {ints:?} vs {expected8}",
                        k.name
                    );
                }
                let rs = [&rows[0][..], &rows[1], &rows[2], &rows[3]];
                let qs = [&queries[0][..], &queries[1], &queries[2], &queries[3]];
                let got = (k.dots_4x4)(&qs, &rs);
                for (q, query) in queries.iter().enumerate() {
                    for (r, row) in rows.iter().enumerate() {
                        let want = naive(query, row);
                        assert!(
                            (f64::from(got[q][r]) - want).abs() < 1e-3,
                            "{} 4x4 [{q}][{r}] at {n}",
                            k.name
                        );
                    }
                }
            }
        }
    }
}
