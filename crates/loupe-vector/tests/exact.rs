//! Exact search returns exactly the brute-force top-k: alone, split over threads, batched
//! and over candidates, across several blocks with dead rows; quantised passes with an
//! exact rerank find at least 99 % of it.

use loupe_vector::quant;
use loupe_vector::scan::{self, Block, I8Rows, Pass, Plan};
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

/// Rows of one block with every encoding, kept alive for the blocks that borrow them.
struct Stored {
    f32: Vec<f32>,
    f16: Vec<u16>,
    i8: Vec<i8>,
    scales: Vec<f32>,
    sums: Vec<i32>,
    live: Vec<bool>,
}

fn store(vectors: &[Vec<f32>], dead_every: usize) -> Stored {
    let mut s = Stored {
        f32: vectors.concat(),
        f16: Vec::new(),
        i8: Vec::new(),
        scales: Vec::new(),
        sums: Vec::new(),
        live: (0..vectors.len()).map(|r| r % dead_every != 3).collect(),
    };
    s.f16 = quant::to_f16(&s.f32);
    for v in vectors {
        let (q, scale) = quant::to_i8(v);
        s.sums.push(q.iter().map(|&x| i32::from(x)).sum());
        s.i8.extend(q);
        s.scales.push(scale);
    }
    s
}

fn blocks(parts: &[Stored], dim: usize) -> Vec<Block<'_>> {
    let mut base = 0;
    parts
        .iter()
        .map(|p| {
            let block = Block {
                dim,
                f32: &p.f32,
                f16: Some(&p.f16),
                i8: Some(I8Rows {
                    values: &p.i8,
                    scales: &p.scales,
                    sums: &p.sums,
                }),
                live: Some(&p.live),
                base,
            };
            base += p.live.len();
            block
        })
        .collect()
}

fn rows(hits: &[loupe_vector::Hit]) -> Vec<usize> {
    hits.iter().map(|h| h.row).collect()
}

#[test]
fn exact_search_is_the_brute_force_top_k() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for (dim, n) in [(3, 40_000), (64, 10_000), (512, 3_000), (1536, 1_500)] {
        let vectors: Vec<Vec<f32>> = (0..n).map(|_| unit(&mut rng, dim)).collect();
        // Three blocks of uneven size, every eleventh row dead.
        let cut = [0, vectors.len() / 5, vectors.len() / 2, vectors.len()];
        let parts: Vec<Stored> = cut
            .windows(2)
            .map(|w| store(&vectors[w[0]..w[1]], 11))
            .collect();
        let blocks = blocks(&parts, dim);
        let live: Vec<usize> = (0..vectors.len())
            .filter(|&r| {
                let i = cut.partition_point(|&c| c <= r) - 1;
                parts[i].live[r - cut[i]]
            })
            .collect();
        let queries: Vec<Vec<f32>> = (0..6).map(|_| unit(&mut rng, dim)).collect();
        let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
        for threads in [1, 2] {
            let batched = scan::search_batch(&blocks, &refs, 10, threads);
            for (query, batch) in queries.iter().zip(&batched) {
                let expected = brute(&vectors, query, 10, &live);
                let plan = Plan {
                    threads,
                    ..Plan::default()
                };
                assert_eq!(
                    rows(&scan::search(&blocks, query, 10, &plan)),
                    expected,
                    "dim {dim}, {threads} threads"
                );
                assert_eq!(
                    rows(batch),
                    expected,
                    "batched, dim {dim}, {threads} threads"
                );
            }
        }
        for query in &queries {
            let candidates: Vec<usize> = (0..vectors.len())
                .step_by(7)
                .chain([vectors.len() + 5])
                .collect();
            let live_candidates: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|r| live.contains(r))
                .collect();
            assert_eq!(
                rows(&scan::search_rows(&blocks, query, 10, &candidates)),
                brute(&vectors, query, 10, &live_candidates),
                "candidates, dim {dim}"
            );
        }
    }
}

#[test]
fn quantised_passes_with_an_exact_rerank_keep_recall_above_99_percent() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let dim = 512;
    let vectors: Vec<Vec<f32>> = (0..20_000).map(|_| unit(&mut rng, dim)).collect();
    let parts = [
        store(&vectors[..7_000], usize::MAX),
        store(&vectors[7_000..], usize::MAX),
    ];
    let blocks = blocks(&parts, dim);
    let all: Vec<usize> = (0..vectors.len()).collect();
    for pass in [Pass::F16, Pass::Int8] {
        let (mut found, mut wanted) = (0, 0);
        for _ in 0..50 {
            let query = unit(&mut rng, dim);
            let expected = brute(&vectors, &query, 10, &all);
            let plan = Plan {
                pass,
                oversample: 10,
                threads: 2,
            };
            let got = scan::search(&blocks, &query, 10, &plan);
            // Reranked hits carry exact f32 scores.
            for hit in &got {
                let exact: f32 = vectors[hit.row]
                    .iter()
                    .zip(&query)
                    .map(|(a, b)| a * b)
                    .sum();
                assert!(
                    (hit.score - exact).abs() < 1e-4,
                    "{pass:?}: rescored exactly"
                );
            }
            found += rows(&got).iter().filter(|r| expected.contains(r)).count();
            wanted += expected.len();
        }
        let recall = found as f64 / wanted as f64;
        assert!(recall >= 0.99, "{pass:?}: recall@10 {recall}");
    }
}
