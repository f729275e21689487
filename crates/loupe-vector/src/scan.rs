//! Exact and quantised search over blocks of rows (a block is one segment's vectors,
//! memory-mapped or in memory): one query split over threads, a candidate list, or a
//! batch of queries that shares each pass over memory.
//!
//! Rows are named by a global number, `block.base + row`, so hits from several
//! segments merge into one ranking.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::kernel::{kernels, Kernels, QueryI8};
use crate::quant;
use crate::topk::{Hit, TopK};

/// Rows scored per unit of work: big enough that a thread streams memory for a while,
/// small enough that two threads finish together.
const UNIT_ROWS: usize = 16_384;
/// Rows of a batch kept hot in cache while every query passes over them.
const BATCH_ROWS: usize = 64;

/// A segment's int8 copy: values, one scale per row, and each row's sum (for VNNI).
#[derive(Debug, Clone, Copy)]
pub struct I8Rows<'a> {
    /// `rows × dim` values.
    pub values: &'a [i8],
    /// Per-row scale.
    pub scales: &'a [f32],
    /// Per-row sum of the values.
    pub sums: &'a [i32],
}

/// One block of rows, with whatever encodings its segment stored.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// Values per row.
    pub dim: usize,
    /// The exact vectors, `rows × dim`.
    pub f32: &'a [f32],
    /// Half-float copy, if stored.
    pub f16: Option<&'a [u16]>,
    /// Int8 copy, if stored.
    pub i8: Option<I8Rows<'a>>,
    /// Which rows are live; `None` when all are.
    pub live: Option<&'a [bool]>,
    /// Global number of the first row.
    pub base: usize,
}

impl Block<'_> {
    /// Rows in the block.
    pub fn rows(&self) -> usize {
        self.f32.len().checked_div(self.dim).unwrap_or(0)
    }

    fn row(&self, row: usize) -> &[f32] {
        &self.f32[row * self.dim..(row + 1) * self.dim]
    }

    fn is_live(&self, row: usize) -> bool {
        self.live.is_none_or(|l| l[row])
    }
}

/// Which encoding the first pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// f32: exact in one pass.
    Exact,
    /// Half floats, then an exact rerank.
    F16,
    /// Int8, then an exact rerank.
    Int8,
}

/// How to run a search.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The first pass.
    pub pass: Pass,
    /// For quantised passes: candidates kept per wanted hit before the exact rerank.
    pub oversample: usize,
    /// Threads one search may use.
    pub threads: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            pass: Pass::Exact,
            oversample: 10,
            threads: 1,
        }
    }
}

/// A query in every form a pass might need.
struct Prepared<'a> {
    f32: &'a [f32],
    i8: Option<QueryI8>,
}

/// Rows scored per kernel call: the scores of one chunk stay in L1.
const CHUNK_ROWS: usize = 256;

fn score_range(
    k: &Kernels,
    block: &Block,
    range: Range<usize>,
    q: &Prepared,
    pass: Pass,
    top: &mut TopK,
) {
    let dim = block.dim;
    let mut scores = [0.0f32; CHUNK_ROWS];
    let mut ints = [0i32; CHUNK_ROWS];
    let mut start = range.start;
    while start < range.end {
        let end = (start + CHUNK_ROWS).min(range.end);
        let n = end - start;
        let rows = start * dim..end * dim;
        match (pass, block.f16, block.i8, &q.i8) {
            (Pass::F16, Some(f16), _, _) => (k.scan_f16)(q.f32, &f16[rows], dim, &mut scores[..n]),
            (Pass::Int8, _, Some(i8), Some(qi)) => {
                (k.scan_i8)(
                    qi,
                    &i8.values[rows],
                    &i8.sums[start..end],
                    dim,
                    &mut ints[..n],
                );
                for ((s, &int), &scale) in scores
                    .iter_mut()
                    .zip(&ints[..n])
                    .zip(&i8.scales[start..end])
                {
                    *s = int as f32 * qi.scale * scale;
                }
            }
            // Exact, or a segment written before quantisation was turned on.
            _ => (k.scan)(q.f32, &block.f32[rows], dim, &mut scores[..n]),
        }
        for (i, &score) in scores[..n].iter().enumerate() {
            if block.is_live(start + i) {
                top.push(block.base + start + i, score);
            }
        }
        start = end;
    }
}

/// The units of work: each block cut into ranges of [`UNIT_ROWS`].
fn units(blocks: &[Block]) -> Vec<(usize, Range<usize>)> {
    blocks
        .iter()
        .enumerate()
        .flat_map(|(b, block)| {
            (0..block.rows())
                .step_by(UNIT_ROWS)
                .map(move |start| (b, start..(start + UNIT_ROWS).min(block.rows())))
        })
        .collect()
}

/// Runs `work` on every unit over up to `threads` threads (units are taken from a shared
/// counter, so a slow thread takes fewer) and merges the per-thread top-k lists.
fn parallel(
    units: &[(usize, Range<usize>)],
    threads: usize,
    k: usize,
    work: &(dyn Fn(usize, Range<usize>, &mut TopK) + Sync),
) -> TopK {
    let threads = threads.clamp(1, units.len().max(1));
    let run = |next: &AtomicUsize| {
        let mut top = TopK::new(k);
        while let Some((b, range)) = units.get(next.fetch_add(1, Ordering::Relaxed)) {
            work(*b, range.clone(), &mut top);
        }
        top
    };
    let next = AtomicUsize::new(0);
    if threads == 1 {
        return run(&next);
    }
    let parts: Vec<TopK> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(|| run(&next))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut merged = TopK::new(k);
    for part in parts {
        merged.merge(part);
    }
    merged
}

/// Finds the block of a global row.
fn locate<'b, 'a>(blocks: &'b [Block<'a>], global: usize) -> Option<(&'b Block<'a>, usize)> {
    let i = blocks
        .partition_point(|b| b.base <= global)
        .checked_sub(1)?;
    let block = &blocks[i];
    (global - block.base < block.rows()).then(|| (block, global - block.base))
}

/// The `k` live rows with the highest dot product with `query`. Blocks must be ordered
/// by `base`.
pub fn search(blocks: &[Block], query: &[f32], k: usize, plan: &Plan) -> Vec<Hit> {
    let kernels = kernels();
    let pass = plan.pass;
    let prepared = Prepared {
        f32: query,
        i8: (pass == Pass::Int8).then(|| quant::query_i8(query)),
    };
    let fetch = if pass == Pass::Exact {
        k
    } else {
        k.saturating_mul(plan.oversample.max(1)).max(k + 32)
    };
    let units = units(blocks);
    let first = parallel(&units, plan.threads, fetch, &|b, range, top| {
        score_range(kernels, &blocks[b], range, &prepared, pass, top);
    });
    if pass == Pass::Exact {
        return first.into_sorted();
    }
    let rows: Vec<usize> = first.into_sorted().into_iter().map(|h| h.row).collect();
    search_rows(blocks, query, k, &rows)
}

/// Exact scores for the given global rows only (dead or unknown rows are skipped): the
/// reranker for quantised passes and for the candidates SQL filters leave.
pub fn search_rows(blocks: &[Block], query: &[f32], k: usize, rows: &[usize]) -> Vec<Hit> {
    let dot = kernels().dot;
    let mut top = TopK::new(k);
    for &global in rows {
        if let Some((block, row)) = locate(blocks, global) {
            if block.is_live(row) {
                top.push(global, dot(query, block.row(row)));
            }
        }
    }
    top.into_sorted()
}

/// Several queries in one pass over memory: rows are taken [`BATCH_ROWS`] at a time and
/// every query is scored against them, four rows by four queries per kernel call.
pub fn search_batch(
    blocks: &[Block],
    queries: &[&[f32]],
    k: usize,
    threads: usize,
) -> Vec<Vec<Hit>> {
    let kernels = kernels();
    let units = units(blocks);
    let next = AtomicUsize::new(0);
    let run = || {
        let mut tops: Vec<TopK> = queries.iter().map(|_| TopK::new(k)).collect();
        while let Some((b, range)) = units.get(next.fetch_add(1, Ordering::Relaxed)) {
            batch_range(kernels, &blocks[*b], range.clone(), queries, &mut tops);
        }
        tops
    };
    let threads = threads.clamp(1, units.len().max(1));
    let parts: Vec<Vec<TopK>> = if threads == 1 {
        vec![run()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(run)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    let mut merged: Vec<TopK> = queries.iter().map(|_| TopK::new(k)).collect();
    for part in parts {
        for (m, t) in merged.iter_mut().zip(part) {
            m.merge(t);
        }
    }
    merged.into_iter().map(TopK::into_sorted).collect()
}

fn batch_range(
    k: &Kernels,
    block: &Block,
    range: Range<usize>,
    queries: &[&[f32]],
    tops: &mut [TopK],
) {
    let live: Vec<usize> = range.filter(|&r| block.is_live(r)).collect();
    for rows in live.chunks(BATCH_ROWS) {
        let mut q = 0;
        while q < queries.len() {
            // A short last tile repeats its final query; those scores are dropped.
            let tile: [&[f32]; 4] =
                std::array::from_fn(|i| queries[(q + i).min(queries.len() - 1)]);
            let used = (queries.len() - q).min(4);
            let mut quad = rows.chunks_exact(4);
            for four in &mut quad {
                let r: [&[f32]; 4] = std::array::from_fn(|i| block.row(four[i]));
                let scores = (k.dots_4x4)(&tile, &r);
                for (i, row_scores) in scores.iter().enumerate().take(used) {
                    for (j, &score) in row_scores.iter().enumerate() {
                        tops[q + i].push(block.base + four[j], score);
                    }
                }
            }
            for &row in quad.remainder() {
                for (i, query) in tile.iter().enumerate().take(used) {
                    tops[q + i].push(block.base + row, (k.dot)(query, block.row(row)));
                }
            }
            q += 4;
        }
    }
}
