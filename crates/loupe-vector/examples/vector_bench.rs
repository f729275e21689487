//! Vector search benchmark (not a test), run by `tests/bench/vectors.sh`.
//!
//! `vector_bench gen DIR N DIM SEED` writes `DIR/data.f32` (N random unit vectors) and
//! `DIR/queries.f32` (64 of them), little-endian f32, so every peer reads the same bytes.
//! `vector_bench run DIR DIM` loads them into a `FlatIndex` and prints one line per
//! measurement: `name value unit`, plus the top-10 rows of the first query for the
//! script to compare with the peers.

use std::io::{Read, Write};
use std::time::Instant;

use loupe_vector::{kernel, FlatIndex};

const QUERIES: usize = 64;

/// A small, fast, seeded generator so the data is reproducible.
struct XorShift(u64);

impl XorShift {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn unit(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| self.next_f32()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }
}

fn write_vectors(path: &std::path::Path, rng: &mut XorShift, n: usize, dim: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create data file"));
    for _ in 0..n {
        for x in rng.unit(dim) {
            out.write_all(&x.to_le_bytes()).expect("write data");
        }
    }
}

fn read_vectors(path: &std::path::Path) -> Vec<f32> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .expect("read data file");
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::Path::new(&args[2]);
    match args[1].as_str() {
        "gen" => {
            let (n, dim, seed): (usize, usize, u64) = (
                args[3].parse().unwrap(),
                args[4].parse().unwrap(),
                args[5].parse().unwrap(),
            );
            let mut rng = XorShift(seed.max(1));
            write_vectors(&dir.join("data.f32"), &mut rng, n, dim);
            write_vectors(&dir.join("queries.f32"), &mut rng, QUERIES, dim);
        }
        "run" => run(dir, args[3].parse().unwrap()),
        other => panic!("unknown command {other}: use gen or run"),
    }
}

fn run(dir: &std::path::Path, dim: usize) {
    let data = read_vectors(&dir.join("data.f32"));
    let queries = read_vectors(&dir.join("queries.f32"));
    let mut index = FlatIndex::new(dim);
    for row in data.chunks_exact(dim) {
        index.push(row);
    }
    let queries: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    println!("kernel {} -", kernel::kernel_name());

    // Memory bandwidth: one SIMD read of the same bytes (a dot with a cached vector of
    // ones), the floor for an exact scan.
    let ones = vec![1.0f32; dim];
    let dot = kernel::dot_fn();
    let started = Instant::now();
    let sum: f32 = data.chunks_exact(dim).map(|row| dot(row, &ones)).sum();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "read_bandwidth {:.2} GB/s",
        (data.len() * 4) as f64 / seconds / 1e9
    );
    std::hint::black_box(sum);

    let mut latencies: Vec<f64> = queries
        .iter()
        .map(|q| {
            let started = Instant::now();
            std::hint::black_box(index.search(q, 10, None));
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let total: f64 = latencies.iter().sum();
    println!("single_p50 {:.2} ms", percentile(&latencies, 0.5));
    println!(
        "single_qps_1t {:.1} qps",
        queries.len() as f64 / (total / 1000.0)
    );

    let mut split: Vec<f64> = queries
        .iter()
        .map(|q| {
            let started = Instant::now();
            std::hint::black_box(index.search_parallel(q, 10, 2));
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    split.sort_by(f64::total_cmp);
    println!("single_split_p50_2t {:.2} ms", percentile(&split, 0.5));

    let started = Instant::now();
    std::thread::scope(|s| {
        for half in queries.chunks(queries.len() / 2) {
            let index = &index;
            s.spawn(move || {
                for q in half {
                    std::hint::black_box(index.search(q, 10, None));
                }
            });
        }
    });
    println!(
        "single_qps_2t {:.1} qps",
        queries.len() as f64 / started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    std::hint::black_box(index.search_batch(&queries, 10));
    println!(
        "batch64_qps_1t {:.1} qps",
        queries.len() as f64 / started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    std::thread::scope(|s| {
        for half in queries.chunks(queries.len() / 2) {
            let index = &index;
            s.spawn(move || std::hint::black_box(index.search_batch(half, 10)));
        }
    });
    println!(
        "batch64_qps_2t {:.1} qps",
        queries.len() as f64 / started.elapsed().as_secs_f64()
    );

    let top: Vec<String> = index
        .search(queries[0], 10, None)
        .iter()
        .map(|h| h.row.to_string())
        .collect();
    println!("top10 {} -", top.join(","));
}
