//! The protocol test servers backed by the local ConSE model, so what crosses the wire
//! carries meaning: through the DashScope, PAI-EAS GME and OpenAI protocols, the text
//! "a photo of a tiger" lands nearest the tiger stamp, and the chat tagger tags it as an
//! animal. Needs the tuxpaint stamps and the local model files (tests/run.sh provides
//! both; see crates/loupe-models/tests/quality.rs).

mod common;

use std::sync::Arc;

use common::settings;
use loupe_connectors::testing::{Backend, ModelServer};
use loupe_connectors::{open_embedder, open_tagger};
use loupe_core::model::{EmbedInput, TagSpec};
use loupe_core::modelconn::ModelKind;
use loupe_models::testing::{model_data_dir, stamps_dir};
use loupe_models::LocalConse;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_carries_the_local_models_meaning() {
    let stamps = stamps_dir();
    let model = Arc::new(
        LocalConse::open(&model_data_dir())
            .await
            .expect("the local model is available"),
    );
    let server = ModelServer::start(Backend {
        embedder: Some(model.clone()),
        tagger: Some(model.clone()),
        api_key: Some("sk-local".into()),
        ..Backend::default()
    })
    .await;
    let tiger = Arc::new(std::fs::read(stamps.join("animals/mammals/cats/tiger.png")).unwrap());
    let truck = Arc::new(std::fs::read(stamps.join("vehicles/garbagetruck.png")).unwrap());

    for (provider, url) in [
        ("dashscope", server.dashscope_url()),
        ("pai-eas", server.gme_url()),
        ("openai", server.openai_base()),
    ] {
        let embedder = open_embedder(&settings(
            ModelKind::Embedding,
            &[
                ("Provider", provider),
                ("BaseUrl", &url),
                ("Model", "conse"),
                ("Dimension", "384"),
            ],
            Some("sk-local"),
        ))
        .unwrap();
        let vectors = embedder
            .embed(&[
                EmbedInput::Text("a photo of a tiger".into()),
                EmbedInput::Image(tiger.clone()),
                EmbedInput::Image(truck.clone()),
            ])
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let (text, tiger_v, other_v) = (&vectors[0], &vectors[1], &vectors[2]);
        assert!(
            dot(text, tiger_v) > dot(text, other_v),
            "{provider}: the tiger text must be nearer the tiger stamp ({} vs {})",
            dot(text, tiger_v),
            dot(text, other_v)
        );
    }

    let tagger = open_tagger(&settings(
        ModelKind::Tagging,
        &[
            ("Provider", "openai"),
            ("BaseUrl", &server.openai_base()),
            ("Model", "conse"),
        ],
        Some("sk-local"),
    ))
    .unwrap();
    let spec = TagSpec {
        prompt: "Tag the image.".into(),
        tags: [
            ("animal", "a wild animal such as a tiger, bear or lion"),
            ("vehicle", "a car, truck, bus or train"),
            ("building", "a house, tower or monument"),
        ]
        .into_iter()
        .map(|(n, d)| (n.to_owned(), d.to_owned()))
        .collect(),
    };
    let tagging = tagger.tag(tiger, &spec).await.expect("tagged");
    assert_eq!(
        tagging.tags.first().map(|t| t.name.as_str()),
        Some("animal"),
        "{tagging:?}"
    );
}
