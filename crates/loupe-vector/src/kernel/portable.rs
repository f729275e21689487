//! Portable kernels: plain loops with independent lane accumulators, shaped so the
//! compiler turns them into vector code for whatever the target's base SIMD is (SSE2 on
//! x86-64, NEON on aarch64).

use super::QueryI8;
use crate::quant::f16_to_f32;

const LANES: usize = 8;

/// `a · b` with eight partial sums.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for lane in 0..LANES {
            acc[lane] += x[lane] * y[lane];
        }
    }
    let tail: f32 = ta.iter().zip(tb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `query · row` with the row in half floats.
pub fn dot_f16(query: &[f32], row: &[u16]) -> f32 {
    let n = query.len().min(row.len());
    let mut acc = [0.0f32; LANES];
    let (cq, cr) = (query[..n].chunks_exact(LANES), row[..n].chunks_exact(LANES));
    let (tq, tr) = (cq.remainder(), cr.remainder());
    for (x, y) in cq.zip(cr) {
        for lane in 0..LANES {
            acc[lane] += x[lane] * f16_to_f32(y[lane]);
        }
    }
    let tail: f32 = tq.iter().zip(tr).map(|(x, y)| x * f16_to_f32(*y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// The integer dot product of a quantised query and an int8 row.
pub fn dot_i8(query: &QueryI8, row: &[i8], _row_sum: i32) -> i32 {
    let mut acc = [0i32; 16];
    let (cq, cr) = (query.signed.chunks_exact(16), row.chunks_exact(16));
    let (tq, tr) = (cq.remainder(), cr.remainder());
    for (x, y) in cq.zip(cr) {
        for lane in 0..16 {
            acc[lane] += i32::from(x[lane]) * i32::from(y[lane]);
        }
    }
    let tail: i32 = tq
        .iter()
        .zip(tr)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    acc.iter().sum::<i32>() + tail
}

/// `dot` of the query with each row of `rows` (`dim` values each).
pub fn scan(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        *o = dot(query, row);
    }
}

/// `dot_f16` with each row.
pub fn scan_f16(query: &[f32], rows: &[u16], dim: usize, out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        *o = dot_f16(query, row);
    }
}

/// `dot_i8` with each row.
pub fn scan_i8(query: &QueryI8, rows: &[i8], sums: &[i32], dim: usize, out: &mut [i32]) {
    for ((o, row), &sum) in out.iter_mut().zip(rows.chunks_exact(dim)).zip(sums) {
        *o = dot_i8(query, row, sum);
    }
}

/// Sixteen dot products, `[query][row]`.
pub fn dots_4x4(queries: &[&[f32]; 4], rows: &[&[f32]; 4]) -> [[f32; 4]; 4] {
    let mut out = [[0.0f32; 4]; 4];
    for (q, query) in queries.iter().enumerate() {
        for (r, row) in rows.iter().enumerate() {
            out[q][r] = dot(query, row);
        }
    }
    out
}
