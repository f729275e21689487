//! Exact search returns exactly the brute-force top-k, alone, batched and over candidates.

use loupe_vector::FlatIndex;
use rand::{Rng, SeedableRng};

fn unit(rng: &mut rand::rngs::StdRng, dim: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

/// The brute-force answer in f64, best first, ties to the lower row.
fn brute(vectors: &[Vec<f32>], query: &[f32], k: usize, rows: &[usize]) -> Vec<usize> {
    let mut scored: Vec<(f64, usize)> = rows
        .iter()
        .map(|&r| {
            (
                vectors[r]
                    .iter()
                    .zip(query)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum(),
                r,
            )
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, r)| r).collect()
}

#[test]
fn exact_search_is_the_brute_force_top_k() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for dim in [3, 64, 512, 1536] {
        let vectors: Vec<Vec<f32>> = (0..2000).map(|_| unit(&mut rng, dim)).collect();
        let mut index = FlatIndex::new(dim);
        for v in &vectors {
            index.push(v).unwrap();
        }
        assert_eq!(index.len(), 2000);
        assert!(index.push(&[1.0]).is_none(), "a wrong dimension is refused");
        let all: Vec<usize> = (0..vectors.len()).collect();
        let queries: Vec<Vec<f32>> = (0..8).map(|_| unit(&mut rng, dim)).collect();
        let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
        let batched = index.search_batch(&refs, 10);
        for (query, batch) in queries.iter().zip(&batched) {
            let expected = brute(&vectors, query, 10, &all);
            let single: Vec<usize> = index
                .search(query, 10, None)
                .iter()
                .map(|h| h.row)
                .collect();
            assert_eq!(single, expected, "dim {dim}");
            for threads in [2, 3] {
                let split: Vec<usize> = index
                    .search_parallel(query, 10, threads)
                    .iter()
                    .map(|h| h.row)
                    .collect();
                assert_eq!(split, expected, "split over {threads} threads, dim {dim}");
            }
            let batch: Vec<usize> = batch.iter().map(|h| h.row).collect();
            assert_eq!(batch, expected, "batched, dim {dim}");
            let candidates: Vec<usize> = (0..vectors.len()).step_by(7).collect();
            let filtered: Vec<usize> = index
                .search(query, 10, Some(&candidates))
                .iter()
                .map(|h| h.row)
                .collect();
            assert_eq!(
                filtered,
                brute(&vectors, query, 10, &candidates),
                "candidates, dim {dim}"
            );
        }
    }
}
