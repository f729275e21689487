//! Retries, Retry-After, timeouts, malformed replies and the concurrency limit, against
//! the real test server.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{settings, HashEmbedder};
use loupe_connectors::open_embedder;
use loupe_connectors::testing::{Backend, Fault, ModelServer};
use loupe_core::model::{EmbedInput, Embedder};
use loupe_core::modelconn::ModelKind;
use loupe_core::ErrorCode;

async fn server(latency: Duration) -> ModelServer {
    ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder(8))),
        latency,
        ..Backend::default()
    })
    .await
}

fn dashscope(server: &ModelServer, extra: &[(&str, &str)]) -> Arc<dyn Embedder> {
    let url = server.dashscope_url();
    let mut configs = vec![
        ("Provider", "dashscope"),
        ("BaseUrl", url.as_str()),
        ("Model", "m"),
        ("Dimension", "8"),
    ];
    configs.extend_from_slice(extra);
    open_embedder(&settings(ModelKind::Embedding, &configs, Some("sk-1"))).unwrap()
}

fn texts(n: usize) -> Vec<EmbedInput> {
    (0..n).map(|i| EmbedInput::Text(format!("t{i}"))).collect()
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_until_they_pass() {
    let server = server(Duration::ZERO).await;
    let embedder = dashscope(&server, &[("MaxRetries", "3")]);
    server.push_fault(Fault::RateLimited {
        retry_after_secs: 0,
    });
    server.push_fault(Fault::ServerError);

    let vectors = embedder.embed(&texts(1)).await.expect("third try passes");

    assert_eq!(vectors.len(), 1);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn retry_after_is_waited_out_before_the_retry() {
    let server = server(Duration::ZERO).await;
    let embedder = dashscope(&server, &[]);
    server.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });

    embedder.embed(&texts(1)).await.expect("the retry passes");

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // Without the header the first backoff is at most 150 ms.
    let gap = requests[1].received - requests[0].received;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_model_unavailable() {
    let server = server(Duration::ZERO).await;
    let embedder = dashscope(&server, &[("MaxRetries", "2")]);
    server.set_standing_fault(Some(Fault::ServerError));

    let err = embedder
        .embed_each(&texts(1))
        .await
        .expect_err("always 500");

    assert_eq!(err.code(), ErrorCode::ModelUnavailable);
    assert!(
        err.message().contains("500") && err.message().contains("after 2 retries"),
        "{}",
        err.message()
    );
    assert_eq!(server.requests().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_retried_then_unavailable() {
    let server = server(Duration::ZERO).await;
    let url = server.dashscope_url();
    let mut s = settings(
        ModelKind::Embedding,
        &[
            ("Provider", "dashscope"),
            ("BaseUrl", &url),
            ("Model", "m"),
            ("Dimension", "8"),
            ("MaxRetries", "1"),
        ],
        Some("sk-1"),
    );
    // TimeoutSecs counts whole seconds; a shorter timeout keeps the test quick.
    s.timeout = Duration::from_millis(300);
    let embedder = open_embedder(&s).unwrap();
    server.set_standing_fault(Some(Fault::Delay(Duration::from_secs(3))));

    let err = embedder.embed(&texts(1)).await.expect_err("timed out");

    assert_eq!(err.code(), ErrorCode::ModelUnavailable);
    assert!(
        err.message().contains("did not answer within"),
        "{}",
        err.message()
    );
    assert_eq!(server.requests().len(), 2, "one try and one retry");

    // One slow reply, then a prompt one: the retry succeeds.
    server.set_standing_fault(None);
    server.push_fault(Fault::Delay(Duration::from_secs(3)));
    embedder
        .embed(&texts(1))
        .await
        .expect("the retry is answered in time");
}

#[tokio::test]
async fn malformed_json_is_a_model_error_and_not_retried() {
    let server = server(Duration::ZERO).await;
    let embedder = dashscope(&server, &[]);
    server.push_fault(Fault::MalformedJson);

    let results = embedder
        .embed_each(&texts(1))
        .await
        .expect("the call stands");

    let err = results[0].as_ref().expect_err("malformed");
    assert_eq!(err.code(), ErrorCode::ModelError);
    assert!(
        err.message().contains("malformed JSON"),
        "{}",
        err.message()
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn requests_in_flight_never_exceed_max_concurrency() {
    let server = server(Duration::from_millis(40)).await;
    let embedder = dashscope(&server, &[("MaxConcurrency", "3"), ("MaxBatchSize", "1")]);

    // Two callers share the connection's limit, as two tasks of one job would.
    let (first, second) = (texts(12), texts(12));
    let (a, b) = tokio::join!(embedder.embed(&first), embedder.embed(&second));
    a.unwrap();
    b.unwrap();

    assert_eq!(server.requests().len(), 24);
    assert_eq!(
        server.max_in_flight(),
        3,
        "the limit is reached and never passed"
    );
}
