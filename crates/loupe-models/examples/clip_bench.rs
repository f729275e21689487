//! Times CLIP image embedding over a folder of images (recursively), split into decoding
//! with preprocessing and the image tower's forward pass. Used by
//! `tests/bench/local_model.sh`, with the random ViT-B/32 weights that
//! `tests/bench/clip_torch.py make` writes (only the image tower is loaded).
//!
//! `cargo run --release -p loupe-models --example clip_bench -- FOLDER MODEL_DIR [BATCH] [OUT.tsv]`
//! With OUT it writes each image's path and embedding, to compare with PyTorch's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use loupe_models::clip::{ClipConfig, ClipImageEncoder, ImageProcessor};

/// The allocator of the `loupe` binary, so the figures are the ones it gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn encoder(dir: &Path) -> ClipImageEncoder {
    let read = |name: &str| std::fs::read(dir.join(name)).expect("model file");
    let config = ClipConfig::from_json(&read("config.json")).expect("config.json");
    let processor = ImageProcessor::from_json(
        &read("preprocessor_config.json"),
        config.vision.image_size as u32,
    )
    .expect("preprocessor_config.json");
    let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
        .expect("model.safetensors");
    let weights = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    ClipImageEncoder::new(&weights, &config, processor).expect("image tower")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: clip_bench FOLDER MODEL_DIR [BATCH] [OUT.tsv]";
    let folder = PathBuf::from(args.get(1).expect(usage));
    let model = encoder(Path::new(args.get(2).expect(usage)));
    let batch: usize = args
        .get(3)
        .map_or(16, |b| b.parse().expect("BATCH is a number"));

    let files = loupe_models::testing::image_files(&folder);
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("readable image"))
        .collect();

    // Warm-up: the first pass allocates and spins up the thread pool.
    let warm = loupe_models::image_input::decode(&bytes[0]).expect("decodes");
    model.embed(&[warm]).expect("embeds");

    let (mut prep, mut forward) = (Duration::ZERO, Duration::ZERO);
    let mut rows = Vec::new();
    let started = Instant::now();
    for chunk in bytes.chunks(batch) {
        let t = Instant::now();
        let decoded: Vec<_> = chunk
            .iter()
            .map(|b| loupe_models::image_input::decode(b).expect("decodes"))
            .collect();
        let pixels = model.pixel_values(&decoded).expect("preprocesses");
        prep += t.elapsed();
        let t = Instant::now();
        let embeddings = model.embed_pixels(&pixels).expect("embeds");
        forward += t.elapsed();
        rows.extend(embeddings.to_vec2::<f32>().expect("embeddings"));
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "loupe clip vit-b/32 ({} threads): {} images, batch {batch}: {:.1} images/s (decode+preprocess {:.2} s, forward {:.2} s, total {total:.2} s)",
        candle_core::utils::get_num_threads(),
        files.len(),
        files.len() as f64 / total,
        prep.as_secs_f64(),
        forward.as_secs_f64(),
    );
    if let Some(out) = args.get(4) {
        let mut out = std::io::BufWriter::new(std::fs::File::create(out).expect("writable output"));
        for (path, row) in files.iter().zip(rows) {
            let values: Vec<String> = row.iter().map(|v| format!("{v:e}")).collect();
            writeln!(out, "{}\t{}", path.display(), values.join(" ")).expect("written");
        }
    }
}
