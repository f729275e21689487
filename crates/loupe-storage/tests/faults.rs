//! `S3Store` against a fake S3 endpoint that fails on purpose: each test picks how it answers and checks the
//! error category, the retries the server saw, and that the message names the object.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loupe_storage::{ObjectStore, S3Settings, S3Store, StorageError, Timeouts};

const OBJECT_URI: &str = "s3://fault-bucket/pre/k.jpg";

/// How the fake endpoint answers the n-th request (counting from 0).
#[derive(Clone, Copy)]
enum Answer {
    Always(StatusCode),
    FailThenHead {
        failures: usize,
        status: StatusCode,
    },
    Slow(Duration),
    /// ListObjectsV2 pages that always say "more, continue with `same`".
    RepeatingListing,
}

struct Fake {
    answer: Answer,
    hits: AtomicUsize,
}

/// A fake S3 endpoint on a free port; returns its URL and the request counter.
async fn serve(answer: Answer) -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake {
        answer,
        hits: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(respond)
        .with_state(Arc::clone(&fake));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (endpoint, fake)
}

async fn respond(State(fake): State<Arc<Fake>>) -> Response {
    let n = fake.hits.fetch_add(1, Ordering::SeqCst);
    match fake.answer {
        Answer::Always(status) => error_response(status),
        Answer::FailThenHead { failures, status } if n < failures => error_response(status),
        Answer::FailThenHead { .. } => head_ok(),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            head_ok()
        }
        Answer::RepeatingListing => repeating_listing(),
    }
}

/// One object and a truncated listing whose next token is always `same`.
fn repeating_listing() -> Response {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>fault-bucket</Name>\
        <Prefix>pre/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>\
        <ContinuationToken>same</ContinuationToken><NextContinuationToken>same</NextContinuationToken>\
        <Contents><Key>pre/a.png</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>\
        <ETag>&quot;x&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>\
        </ListBucketResult>";
    (StatusCode::OK, [("content-type", "application/xml")], body).into_response()
}

fn error_response(status: StatusCode) -> Response {
    let code = match status {
        StatusCode::FORBIDDEN => "AccessDenied",
        StatusCode::NOT_FOUND => "NoSuchKey",
        StatusCode::SERVICE_UNAVAILABLE => "SlowDown",
        _ => "InternalError",
    };
    let body =
        format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>fake</Message></Error>");
    (status, [("content-type", "application/xml")], body).into_response()
}

/// A minimal valid HeadObject answer.
fn head_ok() -> Response {
    let headers = [
        ("content-length", "1234"),
        ("etag", "\"abc123\""),
        ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ];
    (StatusCode::OK, headers).into_response()
}

fn store(endpoint: String, operation: Duration) -> S3Store {
    S3Store::new(S3Settings {
        endpoint: Some(endpoint),
        region: "us-east-1".to_owned(),
        path_style: true,
        access_key_id: "AKIDFAULTS".to_owned(),
        secret_access_key: "fault-secret".to_owned(),
        session_token: None,
        scheme: "s3".to_owned(),
        bucket: "fault-bucket".to_owned(),
        prefix: "pre".to_owned(),
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            operation,
            max_attempts: 3,
        },
    })
}

fn assert_names_object(err: &StorageError) {
    assert!(err.to_string().contains(OBJECT_URI), "{err}");
    assert!(!err.to_string().contains("fault-secret"), "{err}");
}

#[tokio::test]
async fn forbidden_is_permission_denied_without_retry() {
    let (endpoint, fake) = serve(Answer::Always(StatusCode::FORBIDDEN)).await;
    let err = store(endpoint, Duration::from_secs(10))
        .get("k.jpg", 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::PermissionDenied { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    assert_names_object(&err);
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn not_found_is_not_found_without_retry() {
    let (endpoint, fake) = serve(Answer::Always(StatusCode::NOT_FOUND)).await;
    let err = store(endpoint, Duration::from_secs(10))
        .head("k.jpg")
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    assert_names_object(&err);
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_error_is_retried_max_attempts_times_then_retryable() {
    let (endpoint, fake) = serve(Answer::Always(StatusCode::INTERNAL_SERVER_ERROR)).await;
    let err = store(endpoint, Duration::from_secs(20))
        .get_range("k.jpg", 0, 10)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_names_object(&err);
    assert_eq!(fake.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn unavailable_then_ok_succeeds_on_retry() {
    let answer = Answer::FailThenHead {
        failures: 1,
        status: StatusCode::SERVICE_UNAVAILABLE,
    };
    let (endpoint, fake) = serve(answer).await;
    let meta = store(endpoint, Duration::from_secs(20))
        .head("k.jpg")
        .await
        .unwrap();
    assert_eq!(meta.size, 1234);
    assert_eq!(meta.etag.as_deref(), Some("abc123"));
    assert_eq!(meta.last_modified_ms, 1_445_412_480_000);
    assert_eq!(fake.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn slow_response_times_out_as_retryable() {
    let (endpoint, _fake) = serve(Answer::Slow(Duration::from_secs(30))).await;
    let started = Instant::now();
    let err = store(endpoint, Duration::from_secs(1))
        .head("k.jpg")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_names_object(&err);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dropped_connection_is_retried_then_retryable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket); // close without a byte of answer
        }
    });

    let started = Instant::now();
    let err = store(endpoint, Duration::from_secs(20))
        .head("k.jpg")
        .await
        .unwrap_err();

    assert!(err.is_retryable(), "{err}");
    assert_names_object(&err);
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_repeated_continuation_token_ends_the_listing_with_an_error() {
    use futures::StreamExt;
    let (endpoint, fake) = serve(Answer::RepeatingListing).await;
    let store = store(endpoint, Duration::from_secs(10));
    let pages: Vec<_> = tokio::time::timeout(Duration::from_secs(10), store.list(1000).collect())
        .await
        .expect("the listing ends");
    assert_eq!(pages.len(), 2, "the first page, then the error");
    assert!(pages[0].is_ok());
    let err = pages[1].as_ref().unwrap_err();
    assert!(err.to_string().contains("s3://fault-bucket/pre"), "{err}");
    assert!(err.to_string().contains("continuation token"), "{err}");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 2);
}
