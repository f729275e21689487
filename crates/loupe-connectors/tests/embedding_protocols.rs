//! Each embedding protocol against its test server: the exact requests sent, batching,
//! results mapped back by index, per-input failures, and the declared dimension.

mod common;

use std::sync::Arc;

use common::{assert_close, from_data_uri, hash_vector, png, settings, HashEmbedder};
use loupe_connectors::open_embedder;
use loupe_connectors::testing::{Backend, Fault, ModelServer};
use loupe_core::model::EmbedInput;
use loupe_core::modelconn::ModelKind;
use loupe_core::ErrorCode;
use serde_json::json;

const DIM: usize = 16;

async fn server() -> ModelServer {
    ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder(DIM))),
        api_key: Some("sk-test-key".into()),
        ..Backend::default()
    })
    .await
}

fn text(t: &str) -> EmbedInput {
    EmbedInput::Text(t.to_string())
}

#[tokio::test]
async fn dashscope_sends_the_native_body_with_a_bearer_key_and_batches_by_eight() {
    let server = server().await;
    let embedder = open_embedder(&settings(
        ModelKind::Embedding,
        &[
            ("Provider", "dashscope"),
            ("BaseUrl", &server.dashscope_url()),
            ("Model", "tongyi-embedding-vision-plus"),
            ("Dimension", "16"),
        ],
        Some("sk-test-key"),
    ))
    .unwrap();
    let image = png(8, 8, [200, 10, 10]);
    let mut inputs = vec![
        text("a fallen traffic cone"),
        EmbedInput::Image(Arc::clone(&image)),
    ];
    inputs.extend((0..8).map(|i| text(&format!("query {i}"))));

    let vectors = embedder.embed(&inputs).await.expect("embedded");

    assert_eq!(vectors.len(), 10);
    assert_close(&vectors[0], &hash_vector(&inputs[0], DIM));
    assert_close(&vectors[9], &hash_vector(&inputs[9], DIM));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "10 inputs in batches of 8");
    let first = &requests[0];
    assert_eq!(
        first.path,
        "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
    );
    assert_eq!(first.headers["authorization"], "Bearer sk-test-key");
    assert_eq!(first.headers["content-type"], "application/json");
    let contents = first.body["input"]["contents"].as_array().unwrap();
    assert_eq!(first.body["model"], "tongyi-embedding-vision-plus");
    assert_eq!(
        first.body.as_object().unwrap().len(),
        2,
        "model and input only"
    );
    assert_eq!(contents[0], json!({ "text": "a fallen traffic cone" }));
    let sent = from_data_uri(contents[1]["image"].as_str().unwrap());
    let decoded = image::load_from_memory(&sent).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (8, 8));
    assert_eq!(
        contents.len()
            + requests[1].body["input"]["contents"]
                .as_array()
                .unwrap()
                .len(),
        10
    );
    // The server's vector for the image is of the JPEG it received, which the client
    // normalised again: equal to the hash of the bytes sent.
    assert_close(
        &vectors[1],
        &hash_vector(&EmbedInput::Image(Arc::new(sent)), DIM),
    );
}

#[tokio::test]
async fn dashscope_refusing_a_batch_fails_its_inputs_with_the_reason_and_keeps_the_rest() {
    let server = server().await;
    let embedder = open_embedder(&settings(
        ModelKind::Embedding,
        &[
            ("Provider", "dashscope"),
            ("BaseUrl", &server.dashscope_url()),
            ("Model", "m"),
            ("Dimension", "16"),
            ("MaxBatchSize", "2"),
            ("MaxConcurrency", "1"),
        ],
        Some("sk-test-key"),
    ))
    .unwrap();
    server.push_fault(Fault::FailInputs(vec![1]));
    let inputs: Vec<_> = ["a", "b", "c"].iter().map(|t| text(t)).collect();

    let results = embedder
        .embed_each(&inputs)
        .await
        .expect("the call as a whole works");

    assert_eq!(server.requests().len(), 2, "a refusal is not retried");
    for failed in &results[..2] {
        let err = failed.as_ref().expect_err("the refused batch");
        assert_eq!(err.code(), ErrorCode::ModelError);
        assert!(
            err.message().contains("contents[1] cannot be processed"),
            "{}",
            err.message()
        );
    }
    assert_close(results[2].as_ref().unwrap(), &hash_vector(&inputs[2], DIM));
}

#[tokio::test]
async fn gme_sends_the_raw_token_and_reports_which_inputs_a_partial_success_failed() {
    let server = server().await;
    let embedder = open_embedder(&settings(
        ModelKind::Embedding,
        &[
            ("Provider", "pai-eas"),
            ("BaseUrl", &server.gme_url()),
            ("Dimension", "16"),
        ],
        Some("sk-test-key"),
    ))
    .unwrap();
    let inputs: Vec<_> = ["a", "b", "c", "d"].iter().map(|t| text(t)).collect();

    server.push_fault(Fault::FailInputs(vec![1, 3]));
    let results = embedder.embed_each(&inputs).await.expect("partial success");

    let request = &server.requests()[0];
    assert_eq!(request.path, "/api/predict/gme");
    assert_eq!(
        request.headers["authorization"], "sk-test-key",
        "EAS takes the token as is"
    );
    assert_eq!(
        request.body,
        json!({ "input": { "contents": [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}] } })
    );
    assert_close(results[0].as_ref().unwrap(), &hash_vector(&inputs[0], DIM));
    assert_close(results[2].as_ref().unwrap(), &hash_vector(&inputs[2], DIM));
    for i in [1, 3] {
        let err = results[i].as_ref().expect_err("failed input");
        assert_eq!(err.code(), ErrorCode::ModelError);
        assert!(
            err.message().contains("Internal execute error."),
            "{}",
            err.message()
        );
    }

    server.push_fault(Fault::FailInputs(vec![2]));
    let err = embedder
        .embed(&inputs)
        .await
        .expect_err("embed fails as a whole");
    assert!(
        err.message().contains("failed 1 of 4 inputs (indexes [2])"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn openai_embeddings_batch_texts_and_send_each_image_as_a_multimodal_message() {
    let server = server().await;
    let embedder = open_embedder(&settings(
        ModelKind::Embedding,
        &[
            ("Provider", "openai"),
            ("BaseUrl", &server.openai_base()),
            ("Model", "clip-vit"),
            ("Dimension", "16"),
        ],
        Some("sk-test-key"),
    ))
    .unwrap();
    let inputs = vec![
        text("a cat"),
        EmbedInput::Image(png(4, 4, [0, 0, 255])),
        text("a dog"),
        EmbedInput::Image(png(4, 4, [0, 255, 0])),
    ];

    let vectors = embedder.embed(&inputs).await.expect("embedded");

    assert_close(&vectors[0], &hash_vector(&inputs[0], DIM));
    assert_close(&vectors[2], &hash_vector(&inputs[2], DIM));
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        3,
        "one request for the texts, one per image"
    );
    assert!(requests.iter().all(|r| r.path == "/v1/embeddings"));
    assert!(requests
        .iter()
        .all(|r| r.headers["authorization"] == "Bearer sk-test-key"));
    let texts = requests
        .iter()
        .find(|r| r.body.get("input").is_some())
        .unwrap();
    assert_eq!(
        texts.body,
        json!({ "model": "clip-vit", "input": ["a cat", "a dog"], "encoding_format": "float" })
    );
    let image = requests
        .iter()
        .find(|r| r.body.get("messages").is_some())
        .unwrap();
    assert_eq!(image.body["model"], "clip-vit");
    assert_eq!(image.body["encoding_format"], "float");
    assert_eq!(image.body["messages"][0]["role"], "user");
    assert_eq!(image.body["messages"][0]["content"][0]["type"], "image_url");
    assert!(image.body["messages"][0]["content"][0]["image_url"]["url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/jpeg;base64,"));
}

#[tokio::test]
async fn a_wrong_dimension_names_both_numbers_in_every_protocol() {
    let server = server().await;
    for (provider, url, model) in [
        ("dashscope", server.dashscope_url(), "m"),
        ("pai-eas", server.gme_url(), "m"),
        ("openai", server.openai_base(), "m"),
    ] {
        let embedder = open_embedder(&settings(
            ModelKind::Embedding,
            &[
                ("Provider", provider),
                ("BaseUrl", &url),
                ("Model", model),
                ("Dimension", "16"),
            ],
            Some("sk-test-key"),
        ))
        .unwrap();
        server.push_fault(Fault::WrongDimension(12));
        let err = embedder.embed_each(&[text("x")]).await.expect_err(provider);
        assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{provider}");
        assert!(
            err.message().contains("12 values")
                && err.message().contains("Configs.Dimension is 16"),
            "{provider}: {}",
            err.message()
        );
    }
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_with_a_hint_and_never_echoed() {
    let server = server().await;
    let embedder = open_embedder(&settings(
        ModelKind::Embedding,
        &[
            ("Provider", "pai-eas"),
            ("BaseUrl", &server.gme_url()),
            ("Dimension", "16"),
        ],
        Some("wrong-token-123"),
    ))
    .unwrap();
    let err = embedder.embed(&[text("x")]).await.expect_err("401");
    assert_eq!(err.code(), ErrorCode::ModelError);
    assert!(
        err.message().contains("401") && err.message().contains("Secrets.ApiKey"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("wrong-token-123"));
    assert_eq!(server.requests().len(), 1, "a refused key is not retried");
}
