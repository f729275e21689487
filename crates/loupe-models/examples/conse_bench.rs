//! Times ConSE image embedding over a folder of images (recursively), split into decoding
//! and preprocessing, the classifier's forward pass, and the ConSE mix. Used by
//! `tests/bench/local_model.sh`.
//!
//! `cargo run --release -p loupe-models --example conse_bench -- FOLDER [BATCH] [OUT.tsv]`
//! prepares the model under `$LOUPE_DATA_DIR` (default `./loupe-data`) first. With OUT it
//! writes each image's path and top class, to compare with another implementation.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use loupe_models::{conse::top_k, labels::imagenet_classes, ConseModel};

/// The allocator of the `loupe` binary, so the figures are the ones it gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let folder = PathBuf::from(
        args.get(1)
            .expect("usage: conse_bench FOLDER [BATCH] [OUT.tsv]"),
    );
    let batch: usize = args
        .get(2)
        .map_or(16, |b| b.parse().expect("BATCH is a number"));
    let data_dir = std::env::var_os("LOUPE_DATA_DIR")
        .map_or_else(|| PathBuf::from("loupe-data"), PathBuf::from);
    let paths = loupe_models::prepare(&data_dir)
        .await
        .expect("model prepared");
    let model = ConseModel::load(&paths).expect("model loads");

    let files = loupe_models::testing::image_files(&folder);
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("readable image"))
        .collect();

    // Warm-up: the first pass allocates and spins up the thread pool.
    let warm = loupe_models::image_input::decode(&bytes[0]).expect("decodes");
    model.embed_images(&[warm]).expect("embeds");

    let (mut prep, mut forward, mut mix) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut top = Vec::new();
    let started = Instant::now();
    for chunk in bytes.chunks(batch) {
        let t = Instant::now();
        let decoded: Vec<_> = chunk
            .iter()
            .map(|b| loupe_models::image_input::decode(b).expect("decodes"))
            .collect();
        prep += t.elapsed();
        let t = Instant::now();
        let probs = model.classify(&decoded).expect("classifies");
        forward += t.elapsed();
        let t = Instant::now();
        model.embed_probabilities(&probs).expect("mixes");
        mix += t.elapsed();
        for row in probs.to_vec2::<f32>().expect("probabilities") {
            top.push(top_k(&row, 1)[0]);
        }
    }
    let total = started.elapsed().as_secs_f64();
    let n = files.len() as f64;
    println!(
        "loupe conse: {} images, batch {batch}: {:.1} images/s (decode {:.2} s, classify incl. resize {:.2} s, mix {:.2} s, total {total:.2} s)",
        files.len(),
        n / total,
        prep.as_secs_f64(),
        forward.as_secs_f64(),
        mix.as_secs_f64()
    );
    if let Some(out) = args.get(3) {
        let mut out = std::io::BufWriter::new(std::fs::File::create(out).expect("writable output"));
        for (path, (class, p)) in files.iter().zip(top) {
            writeln!(
                out,
                "{}\t{}\t{p:.4}",
                path.display(),
                imagenet_classes()[class]
            )
            .expect("written");
        }
    }
}
