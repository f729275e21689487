//! aarch64 kernels with NEON, which every aarch64 CPU has (it is part of the base
//! instruction set, so no detection is needed). f32 rows use fused multiply-adds over
//! four accumulators; int8 rows widen to i16 products and accumulate pairwise into i32
//! (`vdot` needs the optional dot-product extension); half floats are converted by the
//! portable code, since Rust's NEON f16 types are not stable yet.
#![expect(
    unsafe_code,
    reason = "NEON intrinsics; loads stay within the slices they read"
)]

use std::arch::aarch64::*;

use super::{portable, Kernels, QueryI8};

/// The NEON kernel set.
pub const NEON: Kernels = Kernels {
    name: "neon",
    dot,
    scan,
    scan_f16: portable::scan_f16,
    scan_i8,
    dots_4x4,
};

/// `a · b`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY: every load reads four values starting below `n - 3`.
    let sum = unsafe {
        let mut s = [vdupq_n_f32(0.0); 4];
        while i + 16 <= n {
            for (j, acc) in s.iter_mut().enumerate() {
                *acc = vfmaq_f32(
                    *acc,
                    vld1q_f32(pa.add(i + 4 * j)),
                    vld1q_f32(pb.add(i + 4 * j)),
                );
            }
            i += 16;
        }
        while i + 4 <= n {
            s[0] = vfmaq_f32(s[0], vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            i += 4;
        }
        vaddvq_f32(vaddq_f32(vaddq_f32(s[0], s[1]), vaddq_f32(s[2], s[3])))
    };
    sum + a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(x, y)| x * y)
        .sum::<f32>()
}

/// `dot` with each row.
pub fn scan(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        *o = dot(query, row);
    }
}

/// The integer dot product of a quantised query and an int8 row.
fn dot_i8(query: &QueryI8, row: &[i8]) -> i32 {
    let n = query.signed.len().min(row.len());
    let (pq, pr) = (query.signed.as_ptr(), row.as_ptr());
    let mut i = 0;
    // SAFETY: every load reads sixteen bytes starting below `n - 15`. Products of two
    // values in -127..=127 fit i16, and pairs of them fit the i32 lanes.
    let sum = unsafe {
        let mut acc = vdupq_n_s32(0);
        while i + 16 <= n {
            let q = vld1q_s8(pq.add(i));
            let x = vld1q_s8(pr.add(i));
            acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(q), vget_low_s8(x)));
            acc = vpadalq_s16(acc, vmull_high_s8(q, x));
            i += 16;
        }
        vaddvq_s32(acc)
    };
    sum + query.signed[i..n]
        .iter()
        .zip(&row[i..n])
        .map(|(a, b)| i32::from(*a) * i32::from(*b))
        .sum::<i32>()
}

/// `dot_i8` with each row (the row sums are for VNNI's unsigned offset; NEON multiplies signed).
pub fn scan_i8(query: &QueryI8, rows: &[i8], _sums: &[i32], dim: usize, out: &mut [i32]) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        *o = dot_i8(query, row);
    }
}

/// Sixteen dot products, `[query][row]`: sixteen accumulators and eight loaded vectors
/// fit NEON's 32 registers.
pub fn dots_4x4(queries: &[&[f32]; 4], rows: &[&[f32]; 4]) -> [[f32; 4]; 4] {
    let n = queries
        .iter()
        .chain(rows.iter())
        .map(|v| v.len())
        .min()
        .unwrap_or(0);
    let q = queries.map(<[f32]>::as_ptr);
    let r = rows.map(<[f32]>::as_ptr);
    let mut i = 0;
    let mut out = [[0.0f32; 4]; 4];
    // SAFETY: `i + 4 <= n` keeps every load within the shortest slice.
    unsafe {
        let mut acc = [[vdupq_n_f32(0.0); 4]; 4];
        while i + 4 <= n {
            let qv = q.map(|p| vld1q_f32(p.add(i)));
            let rv = r.map(|p| vld1q_f32(p.add(i)));
            for (a, x) in acc.iter_mut().zip(qv) {
                for (c, y) in a.iter_mut().zip(rv) {
                    *c = vfmaq_f32(*c, x, y);
                }
            }
            i += 4;
        }
        for (o, a) in out.iter_mut().zip(acc) {
            for (v, c) in o.iter_mut().zip(a) {
                *v = vaddvq_f32(c);
            }
        }
    }
    for (qi, o) in out.iter_mut().enumerate() {
        for (ri, v) in o.iter_mut().enumerate() {
            *v += queries[qi][i..n]
                .iter()
                .zip(&rows[ri][i..n])
                .map(|(x, y)| x * y)
                .sum::<f32>();
        }
    }
    out
}
