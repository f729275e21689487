//! loupe-models' CLIP against transformers' `CLIPModel`: the clip-tiny fixture (a small
//! randomly initialised model, made with its reference outputs by
//! `tests/fixtures/make_clip_tiny.py`) must give the same token ids, the same pixel
//! values and the same embeddings, within 1e-4.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use loupe_models::ClipModel;

const TOLERANCE: f32 = 1e-4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip-tiny")
}

#[derive(serde::Deserialize)]
struct Reference {
    texts: Vec<String>,
    input_ids: Vec<Vec<u32>>,
    images: Vec<String>,
}

fn reference() -> (Reference, std::collections::HashMap<String, Tensor>) {
    let json = std::fs::read(fixture().join("reference.json")).expect("reference.json");
    let tensors =
        candle_core::safetensors::load(fixture().join("reference.safetensors"), &Device::Cpu)
            .expect("reference.safetensors");
    (
        serde_json::from_slice(&json).expect("reference.json parses"),
        tensors,
    )
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let diff = (a - b).unwrap().abs().unwrap().flatten_all().unwrap();
    diff.max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn images(names: &[String]) -> Vec<Vec<u8>> {
    names
        .iter()
        .map(|n| std::fs::read(fixture().join("images").join(n)).expect("fixture image"))
        .collect()
}

fn decoded(names: &[String]) -> Vec<image::DynamicImage> {
    images(names)
        .iter()
        .map(|b| loupe_models::image_input::decode(b).expect("decodes"))
        .collect()
}

#[test]
fn clip_tiny_matches_transformers_on_images_and_texts() {
    let model = ClipModel::load(&fixture()).expect("the fixture loads");
    let (reference, tensors) = reference();
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();

    assert_eq!(model.text.token_ids(&texts).unwrap(), reference.input_ids);

    let images = decoded(&reference.images);
    let pixels = model.image.pixel_values(&images).unwrap();
    let pixel_diff = max_abs_diff(&pixels, &tensors["pixel_values"]);
    assert!(pixel_diff <= 1e-6, "pixel values differ by {pixel_diff}");

    let image_diff = max_abs_diff(
        &model.embed_images(&images).unwrap(),
        &tensors["image_embeds"],
    );
    let text_diff = max_abs_diff(&model.embed_texts(&texts).unwrap(), &tensors["text_embeds"]);
    println!("max abs difference: images {image_diff:e}, texts {text_diff:e}");
    assert!(
        image_diff <= TOLERANCE,
        "image embeddings differ by {image_diff}"
    );
    assert!(
        text_diff <= TOLERANCE,
        "text embeddings differ by {text_diff}"
    );
}

#[test]
fn texts_embed_alike_alone_and_in_a_padded_batch() {
    let model = ClipModel::load(&fixture()).unwrap();
    let (reference, tensors) = reference();
    for (i, text) in reference.texts.iter().enumerate() {
        let alone = model.embed_texts(&[text.as_str()]).unwrap();
        let expected = tensors["text_embeds"].narrow(0, i, 1).unwrap();
        assert!(max_abs_diff(&alone, &expected) <= TOLERANCE, "text {i}");
    }
}

#[test]
fn vocab_and_merges_tokenize_like_tokenizer_json() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().unwrap() != "tokenizer.json" {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let model = ClipModel::load(dir.path()).expect("loads with the slow tokenizer's files");
    let (reference, _) = reference();
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();
    assert_eq!(model.text.token_ids(&texts).unwrap(), reference.input_ids);
}
