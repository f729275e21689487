//! The dot product, picked once per process for the CPU it runs on: AVX2 with FMA on
//! x86-64 when present, otherwise a portable version written so the compiler
//! vectorises it (eight independent accumulators; on aarch64 that becomes NEON).

use std::sync::OnceLock;

type DotFn = fn(&[f32], &[f32]) -> f32;

static KERNEL: OnceLock<(DotFn, &'static str)> = OnceLock::new();

fn select() -> (DotFn, &'static str) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        return (avx2::dot, "avx2+fma");
    }
    (dot_portable, "portable")
}

/// The dot product of two vectors of equal length.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (KERNEL.get_or_init(select).0)(a, b)
}

/// The kernel itself, for loops that score many rows: resolved once, called directly.
pub fn dot_fn() -> fn(&[f32], &[f32]) -> f32 {
    KERNEL.get_or_init(select).0
}

/// Which kernel [`dot`] uses on this machine, for logs and benchmarks.
pub fn kernel_name() -> &'static str {
    KERNEL.get_or_init(select).1
}

/// The portable kernel: eight lanes of partial sums the compiler keeps in one vector register.
pub fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let chunks = n / 8;
    for i in 0..chunks {
        let (x, y) = (&a[i * 8..i * 8 + 8], &b[i * 8..i * 8 + 8]);
        for lane in 0..8 {
            acc[lane] += x[lane] * y[lane];
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for i in chunks * 8..n {
        sum += a[i] * b[i];
    }
    sum
}

#[cfg(target_arch = "x86_64")]
#[expect(
    unsafe_code,
    reason = "SIMD intrinsics; called only after runtime detection of AVX2 and FMA"
)]
mod avx2 {
    use std::arch::x86_64::*;

    /// Safe entry point: [`super::select`] hands this out only when AVX2 and FMA are present.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: the CPU supports AVX2 and FMA (checked in `select`).
        unsafe { dot_avx2(a, b) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        // Four accumulators hide the FMA latency.
        let mut s0 = _mm256_setzero_ps();
        let mut s1 = _mm256_setzero_ps();
        let mut s2 = _mm256_setzero_ps();
        let mut s3 = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY (all loads): `i + 32 <= n` (or `i + 8 <= n` below) keeps every load in bounds.
        while i + 32 <= n {
            unsafe {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
                s1 = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(i + 8)),
                    _mm256_loadu_ps(pb.add(i + 8)),
                    s1,
                );
                s2 = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(i + 16)),
                    _mm256_loadu_ps(pb.add(i + 16)),
                    s2,
                );
                s3 = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(i + 24)),
                    _mm256_loadu_ps(pb.add(i + 24)),
                    s3,
                );
            }
            i += 32;
        }
        while i + 8 <= n {
            unsafe {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
            }
            i += 8;
        }
        let sum = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` holds exactly eight f32.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        let mut total: f32 = lanes.iter().sum();
        for j in i..n {
            total += a[j] * b[j];
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    #[test]
    fn every_kernel_matches_the_naive_sum_at_every_length() {
        for n in [0, 1, 7, 8, 9, 31, 32, 33, 100, 512, 513, 1536] {
            let a: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let b: Vec<f32> = (0..n)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 48.0)
                .collect();
            let expected = naive(&a, &b);
            for (name, got) in [
                ("dispatched", dot(&a, &b)),
                ("portable", dot_portable(&a, &b)),
            ] {
                assert!(
                    (f64::from(got) - expected).abs() < 1e-3,
                    "{name} at {n}: {got} vs {expected}"
                );
            }
        }
        assert!(["avx2+fma", "portable"].contains(&kernel_name()));
    }
}
