//! Vector search benchmark (not a test), run by `tests/bench/vectors.sh`.
//!
//! `vector_bench gen DIR N DIM SEED` writes `DIR/data.f32` (N random unit vectors) and
//! `DIR/queries.f32` (64 of them), little-endian f32, so every peer reads the same bytes.
//! `vector_bench run DIR DIM` loads them as one block with its f16 and int8 copies (what
//! a segment maps) and prints one line per measurement, `name value unit`: read
//! bandwidth, exact single queries split over 1 and 2 threads, 64-query batches, and the
//! quantised passes with their exact rerank and recall, plus the top-10 rows of the
//! first query for the script to compare with the peers.

use std::io::{Read, Write};
use std::time::Instant;

use loupe_vector::scan::{self, Block, I8Rows, Pass, Plan};
use loupe_vector::{kernel, quant};

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

/// Every encoding of the data, as one in-memory block, the shape a segment maps.
struct Encoded {
    f16: Vec<u16>,
    i8: Vec<i8>,
    scales: Vec<f32>,
    sums: Vec<i32>,
}

fn encode(data: &[f32], dim: usize) -> Encoded {
    let mut e = Encoded {
        f16: quant::to_f16(data),
        i8: Vec::with_capacity(data.len()),
        scales: Vec::new(),
        sums: Vec::new(),
    };
    for row in data.chunks_exact(dim) {
        let (q, scale) = quant::to_i8(row);
        e.sums.push(q.iter().map(|&x| i32::from(x)).sum());
        e.i8.extend(q);
        e.scales.push(scale);
    }
    e
}

/// Per-query latencies in ms, sorted.
fn latencies(queries: &[&[f32]], mut search: impl FnMut(&[f32])) -> Vec<f64> {
    let mut lat: Vec<f64> = queries
        .iter()
        .map(|q| {
            let started = Instant::now();
            search(q);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    lat
}

fn report(name: &str, lat: &[f64]) {
    let total: f64 = lat.iter().sum();
    println!("{name}_p50 {:.2} ms", percentile(lat, 0.5));
    println!("{name}_qps {:.1} qps", lat.len() as f64 / (total / 1000.0));
}

/// Reads every byte of `data` once on `threads` threads (a dot with a cached vector of
/// ones): the floor for any exact scan of these bytes. The best of three passes, as
/// STREAM reports, so a moment of interference does not understate it.
fn bandwidth(data: &[f32], dim: usize, threads: usize) -> f64 {
    (0..3)
        .map(|_| bandwidth_once(data, dim, threads))
        .fold(0.0, f64::max)
}

fn bandwidth_once(data: &[f32], dim: usize, threads: usize) -> f64 {
    let ones = vec![1.0f32; dim];
    let dot = kernel::dot_fn();
    let rows = data.len() / dim;
    let per = rows.div_ceil(threads) * dim;
    let started = Instant::now();
    std::thread::scope(|s| {
        for part in data.chunks(per) {
            let ones = &ones;
            s.spawn(move || {
                std::hint::black_box(part.chunks_exact(dim).map(|r| dot(r, ones)).sum::<f32>())
            });
        }
    });
    (data.len() * 4) as f64 / started.elapsed().as_secs_f64() / 1e9
}

fn run(dir: &std::path::Path, dim: usize) {
    let data = read_vectors(&dir.join("data.f32"));
    let queries = read_vectors(&dir.join("queries.f32"));
    let queries: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    let enc = encode(&data, dim);
    let block = Block {
        dim,
        f32: &data,
        f16: Some(&enc.f16),
        i8: Some(I8Rows {
            values: &enc.i8,
            scales: &enc.scales,
            sums: &enc.sums,
        }),
        live: None,
        base: 0,
    };
    let blocks = [block];
    println!("kernel {} -", kernel::kernel_name());
    // Warm the page cache and the CPU's frequency before measuring anything.
    bandwidth(&data, dim, 2);
    for threads in [1, 2] {
        println!(
            "read_bandwidth_{threads}t {:.2} GB/s",
            bandwidth(&data, dim, threads)
        );
    }

    let exact: Vec<Vec<usize>> = queries
        .iter()
        .map(|q| {
            scan::search(&blocks, q, 10, &Plan::default())
                .iter()
                .map(|h| h.row)
                .collect()
        })
        .collect();
    for threads in [1, 2] {
        let plan = Plan {
            threads,
            ..Plan::default()
        };
        let lat = latencies(&queries, |q| {
            std::hint::black_box(scan::search(&blocks, q, 10, &plan));
        });
        report(&format!("single_{threads}t"), &lat);
    }
    // Two queries at once, one thread each: throughput when requests run side by side.
    let started = Instant::now();
    std::thread::scope(|s| {
        for half in queries.chunks(queries.len() / 2) {
            let blocks = &blocks;
            s.spawn(move || {
                for q in half {
                    std::hint::black_box(scan::search(blocks, q, 10, &Plan::default()));
                }
            });
        }
    });
    println!(
        "single_concurrent_qps_2t {:.1} qps",
        queries.len() as f64 / started.elapsed().as_secs_f64()
    );

    for threads in [1, 2] {
        let started = Instant::now();
        std::hint::black_box(scan::search_batch(&blocks, &queries, 10, threads));
        println!(
            "batch64_qps_{threads}t {:.1} qps",
            queries.len() as f64 / started.elapsed().as_secs_f64()
        );
    }

    for (name, pass) in [("f16", Pass::F16), ("int8", Pass::Int8)] {
        for threads in [1, 2] {
            let plan = Plan {
                pass,
                oversample: 10,
                threads,
            };
            let mut found = 0;
            let mut got = Vec::new();
            let lat = latencies(&queries, |q| got.push(scan::search(&blocks, q, 10, &plan)));
            for (hits, truth) in got.iter().zip(&exact) {
                found += hits.iter().filter(|h| truth.contains(&h.row)).count();
            }
            report(&format!("{name}_rerank_{threads}t"), &lat);
            if threads == 2 {
                println!(
                    "{name}_recall10 {:.4} -",
                    found as f64 / (10 * queries.len()) as f64
                );
            }
        }
    }

    let top: Vec<String> = exact[0].iter().map(|r| r.to_string()).collect();
    println!("top10 {} -", top.join(","));
}
