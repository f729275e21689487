//! The chat tagger against the OpenAI-compatible test server: the request it sends and
//! the strict reading of the reply.

mod common;

use std::sync::Arc;

use common::{from_data_uri, png, settings, FirstTwoTagger};
use loupe_connectors::testing::{Backend, Fault, ModelServer};
use loupe_connectors::{open_tagger, tag_prompt};
use loupe_core::model::{Tag, TagSpec, Tagger};
use loupe_core::modelconn::ModelKind;
use loupe_core::ErrorCode;

fn spec() -> TagSpec {
    TagSpec {
        prompt: "You label road scenes for an autonomous-driving dataset.".into(),
        tags: [
            ("car", "a passenger car"),
            ("pedestrian", "a person on foot"),
            ("traffic cone", "a cone"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    }
}

async fn setup() -> (ModelServer, Arc<dyn Tagger>) {
    let server = ModelServer::start(Backend {
        tagger: Some(Arc::new(FirstTwoTagger)),
        api_key: Some("sk-chat".into()),
        ..Backend::default()
    })
    .await;
    let tagger = open_tagger(&settings(
        ModelKind::Tagging,
        &[
            ("Provider", "openai"),
            ("BaseUrl", &server.openai_base()),
            ("Model", "qwen-vl-max"),
        ],
        Some("sk-chat"),
    ))
    .unwrap();
    (server, tagger)
}

#[tokio::test]
async fn sends_the_prompt_and_image_as_one_user_message_and_reads_the_tags() {
    let (server, tagger) = setup().await;

    let tagging = tagger
        .tag(png(6, 4, [9, 9, 9]), &spec())
        .await
        .expect("tagged");

    assert_eq!(
        tagging.tags,
        vec![
            Tag {
                name: "car".into(),
                confidence: Some(0.9)
            },
            Tag {
                name: "pedestrian".into(),
                confidence: Some(0.4)
            },
        ]
    );
    assert_eq!(tagging.undefined_dropped, 0);
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.headers["authorization"], "Bearer sk-chat");
    assert_eq!(request.body["model"], "qwen-vl-max");
    assert_eq!(request.body["temperature"], 0);
    let parts = request.body["messages"][0]["content"].as_array().unwrap();
    assert_eq!(request.body["messages"][0]["role"], "user");
    assert_eq!(parts[0]["type"], "text");
    let text = parts[0]["text"].as_str().unwrap();
    assert_eq!(text, tag_prompt(&spec()));
    assert!(
        text.starts_with("You label road scenes"),
        "the guide prompt comes first"
    );
    assert!(
        text.contains("\"traffic cone\": \"a cone\""),
        "the definitions are in it"
    );
    assert!(text.contains("Answer with JSON only"));
    assert_eq!(parts[1]["type"], "image_url");
    let image = from_data_uri(parts[1]["image_url"]["url"].as_str().unwrap());
    assert_eq!(image::load_from_memory(&image).unwrap().width(), 6);
}

#[tokio::test]
async fn undefined_tags_are_dropped_and_counted() {
    let (server, tagger) = setup().await;
    server.push_fault(Fault::UndefinedTags(vec!["dog".into(), "Sky".into()]));

    let tagging = tagger
        .tag(png(4, 4, [1, 2, 3]), &spec())
        .await
        .expect("tagged");

    let names: Vec<_> = tagging.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["car", "pedestrian"]);
    assert_eq!(tagging.undefined_dropped, 2);
}

#[tokio::test]
async fn a_fenced_reply_is_accepted_and_prose_is_refused_without_retry() {
    let (server, tagger) = setup().await;
    server.push_fault(Fault::FencedReply);
    let tagging = tagger
        .tag(png(4, 4, [1, 2, 3]), &spec())
        .await
        .expect("fence tolerated");
    assert_eq!(tagging.tags.len(), 2);

    server.push_fault(Fault::ProseReply);
    let err = tagger
        .tag(png(4, 4, [1, 2, 3]), &spec())
        .await
        .expect_err("prose");
    assert_eq!(err.code(), ErrorCode::ModelError);
    assert!(
        err.message().contains("prose instead of JSON"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("red car"),
        "the reply is quoted: {}",
        err.message()
    );
    assert_eq!(server.requests().len(), 2, "a bad answer is not retried");
}

#[tokio::test]
async fn chat_retries_throttling_and_reports_a_server_that_stays_down() {
    let (server, tagger) = setup().await;
    server.push_fault(Fault::RateLimited {
        retry_after_secs: 0,
    });
    tagger
        .tag(png(4, 4, [1, 2, 3]), &spec())
        .await
        .expect("the retry passes");
    assert_eq!(server.requests().len(), 2);

    server.set_standing_fault(Some(Fault::ServerError));
    let err = tagger
        .tag(png(4, 4, [1, 2, 3]), &spec())
        .await
        .expect_err("down");
    assert_eq!(err.code(), ErrorCode::ModelUnavailable);
    assert_eq!(
        server.requests().len(),
        2 + 4,
        "one try and the default 3 retries"
    );
}
