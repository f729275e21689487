//! Exact search over a flat, row-major f32 matrix.

use crate::kernel::dot_fn;
use crate::topk::{Hit, TopK};

/// Vectors of one dimension, stored row after row.
#[derive(Debug, Clone, Default)]
pub struct FlatIndex {
    dim: usize,
    data: Vec<f32>,
}

impl FlatIndex {
    /// An empty index of vectors of `dim` values.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            data: Vec::new(),
        }
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// How many vectors it holds.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Appends a vector and returns its row; `None` when its length is not the dimension.
    pub fn push(&mut self, vector: &[f32]) -> Option<usize> {
        if vector.len() != self.dim {
            return None;
        }
        self.data.extend_from_slice(vector);
        Some(self.len() - 1)
    }

    fn row(&self, row: usize) -> &[f32] {
        &self.data[row * self.dim..(row + 1) * self.dim]
    }

    /// The `k` rows with the highest dot product with `query`; with `candidates`, only
    /// those rows are scored (rows out of range are ignored).
    pub fn search(&self, query: &[f32], k: usize, candidates: Option<&[usize]>) -> Vec<Hit> {
        let dot = dot_fn();
        let mut top = TopK::new(k);
        match candidates {
            Some(rows) => {
                for &row in rows.iter().filter(|&&r| r < self.len()) {
                    top.push(row, dot(query, self.row(row)));
                }
            }
            None => {
                for (row, vector) in self.data.chunks_exact(self.dim).enumerate() {
                    top.push(row, dot(query, vector));
                }
            }
        }
        top.into_sorted()
    }

    /// Like [`FlatIndex::search`] over every row, with the rows split across `threads`
    /// threads whose top-k lists are merged: one query's latency then falls with the
    /// memory bandwidth the extra cores bring.
    pub fn search_parallel(&self, query: &[f32], k: usize, threads: usize) -> Vec<Hit> {
        let rows = self.len();
        let threads = threads.clamp(1, rows.max(1));
        if threads == 1 {
            return self.search(query, k, None);
        }
        let per_thread = rows.div_ceil(threads);
        let dot = dot_fn();
        let parts: Vec<TopK> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut top = TopK::new(k);
                        let end = ((t + 1) * per_thread).min(rows);
                        for row in t * per_thread..end {
                            top.push(row, dot(query, self.row(row)));
                        }
                        top
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let mut merged = TopK::new(k);
        for hit in parts.into_iter().flat_map(TopK::into_sorted) {
            merged.push(hit.row, hit.score);
        }
        merged.into_sorted()
    }

    /// Several queries in one pass over the matrix: each row is read from memory once
    /// and scored against every query while it is in cache.
    pub fn search_batch(&self, queries: &[&[f32]], k: usize) -> Vec<Vec<Hit>> {
        let dot = dot_fn();
        let mut tops: Vec<TopK> = queries.iter().map(|_| TopK::new(k)).collect();
        for (row, vector) in self.data.chunks_exact(self.dim.max(1)).enumerate() {
            for (query, top) in queries.iter().zip(tops.iter_mut()) {
                top.push(row, dot(query, vector));
            }
        }
        tops.into_iter().map(TopK::into_sorted).collect()
    }
}
