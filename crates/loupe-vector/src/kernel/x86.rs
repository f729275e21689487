//! x86-64 kernels: AVX-512 (F, BW, VNNI) and AVX2 (with FMA and F16C). Each `unsafe`
//! function is reached only through a safe wrapper that [`detect`] hands out after the
//! CPU reported the features the function is compiled for.
#![expect(
    unsafe_code,
    reason = "SIMD intrinsics; every entry point is selected only after runtime feature detection"
)]

use std::arch::x86_64::*;

use super::{Kernels, QueryI8};

fn has_avx512() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
        && is_x86_feature_detected!("fma")
}

fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

const AVX512: Kernels = Kernels {
    name: "avx512",
    // SAFETY (all five): handed out by `detect`/`all_supported` only when `has_avx512()`.
    dot: |a, b| unsafe { avx512::dot(a, b) },
    scan: |q, r, d, o| unsafe { avx512::scan(q, r, d, o) },
    scan_f16: |q, r, d, o| unsafe { avx512::scan_f16(q, r, d, o) },
    scan_i8: |q, r, s, d, o| unsafe { avx512::scan_i8(q, r, s, d, o) },
    dots_4x4: |q, r| unsafe { avx512::dots_4x4(q, r) },
};

const AVX2: Kernels = Kernels {
    name: "avx2+fma",
    // SAFETY (all five): handed out only when `has_avx2()`.
    dot: |a, b| unsafe { avx2::dot(a, b) },
    scan: |q, r, d, o| unsafe { avx2::scan(q, r, d, o) },
    scan_f16: |q, r, d, o| unsafe { avx2::scan_f16(q, r, d, o) },
    scan_i8: |q, r, _, d, o| unsafe { avx2::scan_i8(q, r, d, o) },
    dots_4x4: |q, r| unsafe { avx2::dots_4x4(q, r) },
};

/// The best kernel set this CPU runs, if any beats the portable one.
pub fn detect() -> Option<Kernels> {
    all_supported().into_iter().next()
}

/// Every x86 kernel set this CPU runs, best first.
pub fn all_supported() -> Vec<Kernels> {
    let mut all = Vec::new();
    if has_avx512() {
        all.push(AVX512);
    }
    if has_avx2() {
        all.push(AVX2);
    }
    all
}

mod avx512 {
    use super::*;

    /// A mask of the first `n` (< 16) lanes.
    #[inline]
    fn lanes(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }

    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut s = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads): full loads stay below `n`; the tail load is masked to it.
        unsafe {
            while i + 64 <= n {
                for (j, acc) in s.iter_mut().enumerate() {
                    let x = _mm512_loadu_ps(pa.add(i + 16 * j));
                    let y = _mm512_loadu_ps(pb.add(i + 16 * j));
                    *acc = _mm512_fmadd_ps(x, y, *acc);
                }
                i += 64;
            }
            while i + 16 <= n {
                s[0] =
                    _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), s[0]);
                i += 16;
            }
            if i < n {
                let m = lanes(n - i);
                let x = _mm512_maskz_loadu_ps(m, pa.add(i));
                let y = _mm512_maskz_loadu_ps(m, pb.add(i));
                s[1] = _mm512_fmadd_ps(x, y, s[1]);
            }
        }
        _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(s[0], s[1]),
            _mm512_add_ps(s[2], s[3]),
        ))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
    pub unsafe fn dot_f16(query: &[f32], row: &[u16]) -> f32 {
        let n = query.len().min(row.len());
        let (pq, pr) = (query.as_ptr(), row.as_ptr());
        let mut s0 = _mm512_setzero_ps();
        let mut s1 = _mm512_setzero_ps();
        let mut i = 0;
        // SAFETY: as in `dot`; sixteen half floats are 32 bytes.
        unsafe {
            while i + 32 <= n {
                let h0 = _mm512_cvtph_ps(_mm256_loadu_si256(pr.add(i).cast()));
                let h1 = _mm512_cvtph_ps(_mm256_loadu_si256(pr.add(i + 16).cast()));
                s0 = _mm512_fmadd_ps(_mm512_loadu_ps(pq.add(i)), h0, s0);
                s1 = _mm512_fmadd_ps(_mm512_loadu_ps(pq.add(i + 16)), h1, s1);
                i += 32;
            }
            while i < n {
                let m = if n - i >= 16 { 0xffff } else { lanes(n - i) };
                let h = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, pr.add(i).cast()));
                s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, pq.add(i)), h, s0);
                i += 16;
            }
        }
        _mm512_reduce_add_ps(_mm512_add_ps(s0, s1))
    }

    /// VNNI multiplies unsigned by signed bytes: `Σ (q + 128)·x − 128·Σx = Σ q·x`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn dot_i8(query: &QueryI8, row: &[i8], row_sum: i32) -> i32 {
        let n = query.offset.len().min(row.len());
        let (pq, pr) = (query.offset.as_ptr(), row.as_ptr());
        let mut s0 = _mm512_setzero_si512();
        let mut s1 = _mm512_setzero_si512();
        let mut i = 0;
        // SAFETY: full loads stay below `n`; the tail load is masked to it.
        unsafe {
            while i + 128 <= n {
                let q0 = _mm512_loadu_si512(pq.add(i).cast());
                let r0 = _mm512_loadu_si512(pr.add(i).cast());
                let q1 = _mm512_loadu_si512(pq.add(i + 64).cast());
                let r1 = _mm512_loadu_si512(pr.add(i + 64).cast());
                s0 = _mm512_dpbusd_epi32(s0, q0, r0);
                s1 = _mm512_dpbusd_epi32(s1, q1, r1);
                i += 128;
            }
            while i < n {
                let left = n - i;
                let m: __mmask64 = if left >= 64 {
                    u64::MAX
                } else {
                    (1u64 << left) - 1
                };
                let q = _mm512_maskz_loadu_epi8(m, pq.add(i).cast());
                let r = _mm512_maskz_loadu_epi8(m, pr.add(i));
                s0 = _mm512_dpbusd_epi32(s0, q, r);
                i += 64;
            }
        }
        _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)) - 128 * row_sum
    }

    // The scans keep the row loop inside the target-feature code, so the dot product is
    // inlined instead of called through a pointer for every row.
    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn scan(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
            // SAFETY: same features as this function.
            *o = unsafe { dot(query, row) };
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
    pub unsafe fn scan_f16(query: &[f32], rows: &[u16], dim: usize, out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
            // SAFETY: same features as this function.
            *o = unsafe { dot_f16(query, row) };
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn scan_i8(query: &QueryI8, rows: &[i8], sums: &[i32], dim: usize, out: &mut [i32]) {
        for ((o, row), &sum) in out.iter_mut().zip(rows.chunks_exact(dim)).zip(sums) {
            // SAFETY: same features as this function.
            *o = unsafe { dot_i8(query, row, sum) };
        }
    }

    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn dots_4x4(queries: &[&[f32]; 4], rows: &[&[f32]; 4]) -> [[f32; 4]; 4] {
        let n = queries
            .iter()
            .chain(rows.iter())
            .map(|v| v.len())
            .min()
            .unwrap_or(0);
        let q = queries.map(<[f32]>::as_ptr);
        let r = rows.map(<[f32]>::as_ptr);
        let mut acc = [[_mm512_setzero_ps(); 4]; 4];
        let mut i = 0;
        while i < n {
            let m = if n - i >= 16 { 0xffff } else { lanes(n - i) };
            // SAFETY: the mask limits every load to the first `n` values of its slice.
            let (qv, rv) = unsafe {
                (
                    q.map(|p| _mm512_maskz_loadu_ps(m, p.add(i))),
                    r.map(|p| _mm512_maskz_loadu_ps(m, p.add(i))),
                )
            };
            for (a, x) in acc.iter_mut().zip(qv) {
                for (c, y) in a.iter_mut().zip(rv) {
                    *c = _mm512_fmadd_ps(x, y, *c);
                }
            }
            i += 16;
        }
        acc.map(|a| sum4(a))
    }

    /// The four horizontal sums of four vectors at once (a transpose-add): about half the
    /// instructions of four separate reductions, which matter in the batch kernel.
    #[target_feature(enable = "avx512f")]
    fn sum4(v: [__m512; 4]) -> [f32; 4] {
        // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d.
        let x = _mm512_add_ps(
            _mm512_unpacklo_ps(v[0], v[1]),
            _mm512_unpackhi_ps(v[0], v[1]),
        );
        let y = _mm512_add_ps(
            _mm512_unpacklo_ps(v[2], v[3]),
            _mm512_unpackhi_ps(v[2], v[3]),
        );
        // Per lane: [a, b, c, d] partial sums.
        let z = _mm512_add_ps(
            _mm512_shuffle_ps::<0x44>(x, y),
            _mm512_shuffle_ps::<0xEE>(x, y),
        );
        let lanes = _mm_add_ps(
            _mm_add_ps(
                _mm512_extractf32x4_ps::<0>(z),
                _mm512_extractf32x4_ps::<1>(z),
            ),
            _mm_add_ps(
                _mm512_extractf32x4_ps::<2>(z),
                _mm512_extractf32x4_ps::<3>(z),
            ),
        );
        let mut out = [0.0f32; 4];
        // SAFETY: `out` holds four f32.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), lanes) };
        out
    }
}

mod avx2 {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let quad = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
        _mm_cvtss_f32(_mm_add_ss(quad, _mm_shuffle_ps(quad, quad, 1)))
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        // Four accumulators hide the FMA latency.
        let mut s = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads): `i + 32 <= n` (or `i + 8 <= n`) keeps them in bounds.
        unsafe {
            while i + 32 <= n {
                for (j, acc) in s.iter_mut().enumerate() {
                    let x = _mm256_loadu_ps(pa.add(i + 8 * j));
                    let y = _mm256_loadu_ps(pb.add(i + 8 * j));
                    *acc = _mm256_fmadd_ps(x, y, *acc);
                }
                i += 32;
            }
            while i + 8 <= n {
                s[0] =
                    _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s[0]);
                i += 8;
            }
        }
        let sum = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3]));
        hsum(sum)
            + a[i..n]
                .iter()
                .zip(&b[i..n])
                .map(|(x, y)| x * y)
                .sum::<f32>()
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot_f16(query: &[f32], row: &[u16]) -> f32 {
        let n = query.len().min(row.len());
        let (pq, pr) = (query.as_ptr(), row.as_ptr());
        let mut s0 = _mm256_setzero_ps();
        let mut s1 = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY: `i + 16 <= n` keeps the loads in bounds; eight half floats are 16 bytes.
        unsafe {
            while i + 16 <= n {
                let h0 = _mm256_cvtph_ps(_mm_loadu_si128(pr.add(i).cast()));
                let h1 = _mm256_cvtph_ps(_mm_loadu_si128(pr.add(i + 8).cast()));
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pq.add(i)), h0, s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(pq.add(i + 8)), h1, s1);
                i += 16;
            }
        }
        let tail: f32 = query[i..n]
            .iter()
            .zip(&row[i..n])
            .map(|(x, h)| x * crate::quant::f16_to_f32(*h))
            .sum();
        hsum(_mm256_add_ps(s0, s1)) + tail
    }

    /// `maddubs` multiplies unsigned by signed bytes; with `|q|` and `x` carrying `q`'s
    /// sign each product is `q·x`, and pairs stay within i16 because neither side is -128.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_i8(query: &QueryI8, row: &[i8]) -> i32 {
        let n = query.signed.len().min(row.len());
        let (pq, pr) = (query.signed.as_ptr(), row.as_ptr());
        let ones = _mm256_set1_epi16(1);
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        // SAFETY: `i + 32 <= n` keeps the loads in bounds.
        unsafe {
            while i + 32 <= n {
                let q = _mm256_loadu_si256(pq.add(i).cast());
                let x = _mm256_loadu_si256(pr.add(i).cast());
                let pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(x, q));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
                i += 32;
            }
        }
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` holds eight i32.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
        let tail: i32 = query.signed[i..n]
            .iter()
            .zip(&row[i..n])
            .map(|(a, b)| i32::from(*a) * i32::from(*b))
            .sum();
        lanes.iter().sum::<i32>() + tail
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scan(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
            // SAFETY: same features as this function.
            *o = unsafe { dot(query, row) };
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn scan_f16(query: &[f32], rows: &[u16], dim: usize, out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
            // SAFETY: same features as this function.
            *o = unsafe { dot_f16(query, row) };
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn scan_i8(query: &QueryI8, rows: &[i8], dim: usize, out: &mut [i32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
            // SAFETY: same features as this function.
            *o = unsafe { dot_i8(query, row) };
        }
    }

    /// Two passes of four rows against two queries: sixteen ymm registers hold eight
    /// accumulators and the six loaded values, where a 4×4 tile would spill.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_4x4(queries: &[&[f32]; 4], rows: &[&[f32]; 4]) -> [[f32; 4]; 4] {
        let n = queries
            .iter()
            .chain(rows.iter())
            .map(|v| v.len())
            .min()
            .unwrap_or(0);
        let r = rows.map(<[f32]>::as_ptr);
        let mut out = [[0.0f32; 4]; 4];
        for half in 0..2 {
            let q = [queries[2 * half].as_ptr(), queries[2 * half + 1].as_ptr()];
            let mut acc = [[_mm256_setzero_ps(); 4]; 2];
            let mut i = 0;
            // SAFETY: `i + 8 <= n` keeps every load within the shortest slice.
            unsafe {
                while i + 8 <= n {
                    let rv = r.map(|p| _mm256_loadu_ps(p.add(i)));
                    for (a, p) in acc.iter_mut().zip(q) {
                        let x = _mm256_loadu_ps(p.add(i));
                        for (c, y) in a.iter_mut().zip(rv) {
                            *c = _mm256_fmadd_ps(x, y, *c);
                        }
                    }
                    i += 8;
                }
            }
            for (j, a) in acc.iter().enumerate() {
                let query = &queries[2 * half + j][i..n];
                for (k, c) in a.iter().enumerate() {
                    let tail: f32 = query.iter().zip(&rows[k][i..n]).map(|(x, y)| x * y).sum();
                    out[2 * half + j][k] = hsum(*c) + tail;
                }
            }
        }
        out
    }
}
