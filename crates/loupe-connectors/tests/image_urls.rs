//! `ImageMode=url`: an image URL goes into each protocol's image field as it is, for the
//! provider to fetch, while image bytes still go as base64; a `base64` connection
//! refuses URLs before sending anything.

mod common;

use std::sync::Arc;

use common::{assert_close, hash_vector, png, settings, FirstTwoTagger, HashEmbedder};
use loupe_connectors::testing::{Backend, ModelServer};
use loupe_connectors::{open_embedder, open_tagger};
use loupe_core::model::{EmbedInput, TagSpec};
use loupe_core::modelconn::ModelKind;
use loupe_core::ErrorCode;
use serde_json::Value;

const DIM: usize = 16;

async fn server() -> ModelServer {
    ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder(DIM))),
        tagger: Some(Arc::new(FirstTwoTagger)),
        ..Backend::default()
    })
    .await
}

/// (provider, endpoint, where the image reference sits in a request body).
fn protocols(server: &ModelServer) -> [(&'static str, String, &'static str); 3] {
    [
        (
            "dashscope",
            server.dashscope_url(),
            "/input/contents/0/image",
        ),
        ("pai-eas", server.gme_url(), "/input/contents/0/image"),
        (
            "openai",
            server.openai_base(),
            "/messages/0/content/0/image_url/url",
        ),
    ]
}

fn embedding(provider: &str, url: &str, mode: &str) -> loupe_core::modelconn::ModelSettings {
    settings(
        ModelKind::Embedding,
        &[
            ("Provider", provider),
            ("BaseUrl", url),
            ("Model", "m"),
            ("Dimension", "16"),
            ("ImageMode", mode),
        ],
        Some("sk-test"),
    )
}

fn image_reference<'a>(body: &'a Value, pointer: &str) -> &'a str {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no image at {pointer} in {body}"))
}

#[tokio::test]
async fn url_mode_sends_the_url_itself_in_every_embedding_protocol() {
    let server = server().await;
    let original = png(5, 3, [10, 200, 30]);
    let url = server.host_image("frame.png", &original);
    for (provider, endpoint, pointer) in protocols(&server) {
        let embedder = open_embedder(&embedding(provider, &endpoint, "url")).expect(provider);
        assert!(embedder.wants_urls(), "{provider}");
        let before = server.requests().len();

        let vectors = embedder
            .embed(&[EmbedInput::ImageUrl(url.clone())])
            .await
            .expect(provider);

        let requests = server.requests();
        assert_eq!(requests.len(), before + 1, "{provider}");
        let body = &requests[before].body;
        assert_eq!(image_reference(body, pointer), url, "{provider}: {body}");
        // The provider fetched the original file: its vector is of those very bytes,
        // not of a re-encoded JPEG.
        assert_close(
            &vectors[0],
            &hash_vector(&EmbedInput::Image(Arc::clone(&original)), DIM),
        );
    }
}

#[tokio::test]
async fn url_mode_still_sends_image_bytes_as_base64() {
    // Query images and the files of local folders have no URL.
    let server = server().await;
    for (provider, endpoint, pointer) in protocols(&server) {
        let embedder = open_embedder(&embedding(provider, &endpoint, "url")).expect(provider);
        let before = server.requests().len();
        embedder
            .embed(&[EmbedInput::Image(png(4, 4, [1, 2, 3]))])
            .await
            .expect(provider);
        let body = &server.requests()[before].body;
        assert!(
            image_reference(body, pointer).starts_with("data:image/jpeg;base64,"),
            "{provider}: {body}"
        );
    }
}

#[tokio::test]
async fn base64_mode_refuses_a_url_without_sending_it() {
    let server = server().await;
    let url = server.host_image("frame.png", &png(4, 4, [1, 2, 3]));
    for (provider, endpoint, _) in protocols(&server) {
        let embedder = open_embedder(&embedding(provider, &endpoint, "base64")).expect(provider);
        assert!(!embedder.wants_urls(), "{provider}");

        let results = embedder
            .embed_each(&[EmbedInput::ImageUrl(url.clone())])
            .await
            .expect("the call as a whole works");

        let err = results[0].as_ref().expect_err(provider);
        assert_eq!(err.code(), ErrorCode::InvalidParameter, "{provider}");
        assert!(
            err.message().contains("Configs.ImageMode"),
            "{provider}: {}",
            err.message()
        );
    }
    assert!(server.requests().is_empty(), "nothing was sent");
}

fn spec() -> TagSpec {
    TagSpec {
        prompt: "Label road scenes.".into(),
        tags: [("car", "a car"), ("truck", "a truck")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn tagging(server: &ModelServer, mode: &str) -> loupe_core::modelconn::ModelSettings {
    settings(
        ModelKind::Tagging,
        &[
            ("Provider", "openai"),
            ("BaseUrl", &server.openai_base()),
            ("Model", "qwen-vl-max"),
            ("ImageMode", mode),
        ],
        None,
    )
}

#[tokio::test]
async fn the_chat_tagger_sends_the_url_in_url_mode_and_refuses_it_in_base64_mode() {
    let server = server().await;
    let url = server.host_image("frame.jpg", &png(6, 4, [9, 9, 9]));

    let tagger = open_tagger(&tagging(&server, "url")).unwrap();
    assert!(tagger.wants_urls());
    let tagged = tagger.tag_url(&url, &spec()).await.expect("tagged");
    assert_eq!(tagged.tags.len(), 2, "{tagged:?}");
    let body = &server.requests()[0].body;
    assert_eq!(
        image_reference(body, "/messages/0/content/1/image_url/url"),
        url,
        "{body}"
    );

    let tagger = open_tagger(&tagging(&server, "base64")).unwrap();
    assert!(!tagger.wants_urls());
    let err = tagger.tag_url(&url, &spec()).await.expect_err("refused");
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(
        err.message().contains("Configs.ImageMode"),
        "{}",
        err.message()
    );
    tagger
        .tag(png(4, 4, [1, 1, 1]), &spec())
        .await
        .expect("bytes still work");
    let body = &server.requests()[1].body;
    assert!(image_reference(body, "/messages/0/content/1/image_url/url")
        .starts_with("data:image/jpeg;base64,"));
    assert_eq!(server.requests().len(), 2, "the refused URL was not sent");
}

#[tokio::test]
async fn a_url_the_provider_cannot_fetch_fails_that_input_only() {
    let server = server().await;
    let original = png(4, 4, [1, 2, 3]);
    let good = server.host_image("good.png", &original);
    let missing = good.replace("good.png", "missing.png");
    let mut one_per_request = embedding("pai-eas", &server.gme_url(), "url");
    one_per_request.max_batch = 1;
    let embedder = open_embedder(&one_per_request).unwrap();

    let results = embedder
        .embed_each(&[EmbedInput::ImageUrl(missing), EmbedInput::ImageUrl(good)])
        .await
        .expect("the call as a whole works");

    let err = results[0].as_ref().expect_err("cannot download");
    assert_eq!(err.code(), ErrorCode::ModelError);
    assert!(
        err.message().contains("cannot download the image"),
        "{}",
        err.message()
    );
    assert_close(
        results[1].as_ref().expect("the other input"),
        &hash_vector(&EmbedInput::Image(original), DIM),
    );
    assert_eq!(server.requests().len(), 2, "a refusal is not retried");
}
