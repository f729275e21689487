//! loupe-models' CLIP against transformers' `CLIPModel`: the clip-tiny fixture (a small
//! randomly initialised model, made with its reference outputs by
//! `tests/fixtures/make_clip_tiny.py`) must give the same token ids, the same pixel
//! values and the same embeddings, within 1e-4. Also the ways a connection reaches a
//! CLIP model: a folder, the hub (a real HTTP server serving the fixture), and the
//! errors that name the setting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use loupe_core::model::{EmbedInput, ModelOpener, TagSpec};
use loupe_core::modelconn::{ModelKind, ModelSettings};
use loupe_models::{ClipModel, LocalClip, ModelHub, ZeroShot};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

fn local(model: &str) -> ModelSettings {
    let configs = BTreeMap::from([
        ("Provider".to_string(), "local".to_string()),
        ("Model".to_string(), model.to_string()),
    ]);
    ModelSettings::parse(ModelKind::Embedding, &configs, &BTreeMap::new()).expect("valid settings")
}

/// Embeds a text, an image and another text through the opener, in that order, and
/// checks each row against the reference.
async fn assert_embeds_like_reference(hub: &ModelHub, model: &str) {
    let embedder = hub.open_embedder(&local(model)).await.expect("opens");
    let (reference, tensors) = reference();
    assert_eq!(embedder.model(), model);
    assert_eq!(embedder.dim(), tensors["image_embeds"].dim(1).unwrap());
    let image = images(&reference.images[..1]).remove(0);
    let inputs = [
        EmbedInput::Text(reference.texts[1].clone()),
        EmbedInput::Image(Arc::new(image)),
        EmbedInput::Text(reference.texts[0].clone()),
    ];
    let rows = embedder.embed(&inputs).await.expect("embeds");
    let expected = [
        tensors["text_embeds"].get(1).unwrap(),
        tensors["image_embeds"].get(0).unwrap(),
        tensors["text_embeds"].get(0).unwrap(),
    ];
    for (row, want) in rows.iter().zip(expected) {
        let got = Tensor::new(row.as_slice(), &Device::Cpu).unwrap();
        assert!(max_abs_diff(&got, &want) <= TOLERANCE);
    }
}

#[tokio::test]
async fn a_folder_model_embeds_texts_and_images_in_input_order() {
    let data = tempfile::tempdir().unwrap();
    let hub = ModelHub::new(data.path());
    assert_embeds_like_reference(&hub, fixture().to_str().unwrap()).await;
}

#[tokio::test]
async fn a_clip_model_tags_zero_shot_with_defined_names() {
    let everything = ZeroShot {
        min_similarity: -1.0,
        max_tags: 2,
    };
    let tagger = LocalClip::load(fixture(), "clip-tiny".into())
        .await
        .expect("loads")
        .with_zero_shot(everything);
    let spec = TagSpec {
        prompt: String::new(),
        tags: [("cat", "a small animal"), ("car", ""), ("sea", "water")]
            .map(|(n, d)| (n.to_string(), d.to_string()))
            .into(),
    };
    let (reference, _) = reference();
    let image = Arc::new(images(&reference.images[..1]).remove(0));
    let tagging = loupe_core::model::Tagger::tag(&tagger, image, &spec)
        .await
        .unwrap();
    assert_eq!(tagging.tags.len(), 2);
    assert!(tagging.tags.iter().all(|t| spec.tags.contains_key(&t.name)));
}

#[tokio::test]
async fn a_folder_without_config_json_is_refused_naming_the_setting() {
    let empty = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let hub = ModelHub::new(data.path());
    let model = empty.path().to_str().unwrap();
    let err = hub
        .open_embedder(&local(model))
        .await
        .err()
        .expect("refused");
    assert_eq!(err.code(), loupe_core::ErrorCode::InvalidParameter);
    assert!(err.message().contains("Configs.Model"), "{}", err.message());
    assert!(err.message().contains("config.json"), "{}", err.message());

    std::fs::copy(
        fixture().join("config.json"),
        empty.path().join("config.json"),
    )
    .unwrap();
    let err = hub
        .open_embedder(&local(model))
        .await
        .err()
        .expect("refused");
    assert!(
        err.message().contains("model.safetensors"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_dimension_unlike_the_model_is_refused() {
    let configs = BTreeMap::from([
        ("Provider".to_string(), "local".to_string()),
        ("Model".to_string(), fixture().to_str().unwrap().to_string()),
        ("Dimension".to_string(), "512".to_string()),
    ]);
    let settings = ModelSettings::parse(ModelKind::Embedding, &configs, &BTreeMap::new()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let err = ModelHub::new(data.path())
        .open_embedder(&settings)
        .await
        .err()
        .expect("refused");
    assert!(
        err.message().contains("Configs.Dimension is 512"),
        "{}",
        err.message()
    );
}

/// A hub stand-in: serves the fixture's files at `/{owner}/{name}/resolve/main/{file}`
/// for the repositories `test/clip-tiny` and `test/clip-tiny-slow` (the latter without
/// `tokenizer.json`, like older repositories), 404 for anything else.
struct FixtureHub {
    endpoint: String,
    requests: Arc<AtomicUsize>,
}

impl FixtureHub {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream));
            }
        });
        Self { endpoint, requests }
    }
}

async fn serve(mut stream: tokio::net::TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let file = [
        "/test/clip-tiny/resolve/main/",
        "/test/clip-tiny-slow/resolve/main/",
    ]
    .iter()
    .find_map(|prefix| path.strip_prefix(prefix))
    .filter(|f| !f.contains('/') && !f.starts_with('.'))
    .filter(|f| !(path.contains("-slow/") && *f == "tokenizer.json"))
    .and_then(|f| std::fs::read(fixture().join(f)).ok());
    let (status, body) = match file {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"not found".to_vec()),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

#[tokio::test]
async fn a_hub_model_is_downloaded_once_then_loaded_from_the_cache() {
    let server = FixtureHub::start().await;
    let data = tempfile::tempdir().unwrap();
    let hub = ModelHub::new(data.path()).with_hub_endpoint(&server.endpoint);
    assert_embeds_like_reference(&hub, "test/clip-tiny").await;
    let fetched = server.requests.load(Ordering::SeqCst);
    assert_eq!(
        fetched, 4,
        "config, weights, preprocessor config, tokenizer"
    );
    let cached = data.path().join("models/hub/test--clip-tiny");
    assert_eq!(
        std::fs::read(cached.join("model.safetensors")).unwrap(),
        std::fs::read(fixture().join("model.safetensors")).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(&cached)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // Another server process on the same data folder: nothing is fetched again.
    let restarted = ModelHub::new(data.path()).with_hub_endpoint(&server.endpoint);
    assert_embeds_like_reference(&restarted, "test/clip-tiny").await;
    assert_eq!(server.requests.load(Ordering::SeqCst), fetched);
}

#[tokio::test]
async fn a_hub_model_without_tokenizer_json_uses_vocab_and_merges() {
    let server = FixtureHub::start().await;
    let data = tempfile::tempdir().unwrap();
    let hub = ModelHub::new(data.path()).with_hub_endpoint(&server.endpoint);
    assert_embeds_like_reference(&hub, "test/clip-tiny-slow").await;
    let cached = data.path().join("models/hub/test--clip-tiny-slow");
    assert!(cached.join("merges.txt").is_file());
    assert!(!cached.join("tokenizer.json").exists());

    // Cached without tokenizer.json: no request either (an offline server keeps working).
    let fetched = server.requests.load(Ordering::SeqCst);
    let restarted = ModelHub::new(data.path()).with_hub_endpoint(&server.endpoint);
    assert_embeds_like_reference(&restarted, "test/clip-tiny-slow").await;
    assert_eq!(server.requests.load(Ordering::SeqCst), fetched);
}

#[tokio::test]
async fn an_unknown_hub_model_is_refused_naming_the_setting() {
    let server = FixtureHub::start().await;
    let data = tempfile::tempdir().unwrap();
    let hub = ModelHub::new(data.path()).with_hub_endpoint(&server.endpoint);
    let err = hub
        .open_embedder(&local("test/no-such-model"))
        .await
        .err()
        .expect("refused");
    assert_eq!(err.code(), loupe_core::ErrorCode::InvalidParameter);
    assert!(
        err.message().contains("Configs.Model 'test/no-such-model'"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("404"), "{}", err.message());
}

#[tokio::test]
async fn an_unreachable_hub_is_unavailable_and_says_what_to_do() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let hub = ModelHub::new(data.path()).with_hub_endpoint(format!("http://127.0.0.1:{port}"));
    let err = hub
        .open_embedder(&local("test/clip-tiny"))
        .await
        .err()
        .expect("refused");
    assert_eq!(err.code(), loupe_core::ErrorCode::ModelUnavailable);
    assert!(err.message().contains("HF_ENDPOINT"), "{}", err.message());
}
