//! Bounded top-k selection: a min-heap of the k best scores seen so far, so a pass
//! over a million vectors keeps k entries, not a million.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One result: the row's position and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Row index in the matrix.
    pub row: usize,
    /// Dot product with the query.
    pub score: f32,
}

/// Heap entry ordered so the *worst* kept hit is on top: lower score first, and on
/// equal scores the higher row, so ties resolve to the lower row deterministically.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Worst(Hit);

impl Eq for Worst {}

impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .score
            .total_cmp(&self.0.score)
            .then(self.0.row.cmp(&other.0.row))
    }
}

impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The k best hits seen so far.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
    /// The worst kept score once `k` are kept: most offers lose to it, and comparing one
    /// float is far cheaper than touching the heap.
    floor: f32,
}

impl TopK {
    /// An empty selection of at most `k` hits.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            floor: f32::NEG_INFINITY,
        }
    }

    /// Offers a hit; kept only if it beats the worst of the k kept.
    #[inline]
    pub fn push(&mut self, row: usize, score: f32) {
        if score < self.floor || self.k == 0 || score.is_nan() {
            return;
        }
        let hit = Worst(Hit { row, score });
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if hit < *worst {
                *worst = hit;
            }
        }
        if self.heap.len() == self.k {
            self.floor = self.heap.peek().map_or(f32::NEG_INFINITY, |w| w.0.score);
        }
    }

    /// Offers every hit of another selection.
    pub fn merge(&mut self, other: TopK) {
        for w in other.heap {
            self.push(w.0.row, w.0.score);
        }
    }

    /// The hits, best first (ties: lower row first).
    pub fn into_sorted(self) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self.heap.into_iter().map(|w| w.0).collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_k_best_in_order() {
        let mut top = TopK::new(3);
        for (row, score) in [(0, 0.1), (1, 0.9), (2, 0.5), (3, 0.9), (4, -1.0), (5, 0.7)] {
            top.push(row, score);
        }
        let rows: Vec<usize> = top.into_sorted().iter().map(|h| h.row).collect();
        assert_eq!(rows, [1, 3, 5]);
        assert!(TopK::new(0).into_sorted().is_empty());
    }
}
