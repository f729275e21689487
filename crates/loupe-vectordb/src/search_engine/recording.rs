//! A local HTTP server for unit tests: it records every request and answers with canned
//! replies in order, so tests can check the exact bodies and headers an adapter sends
//! and how it reads answers, retries and fails.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// The body's lines, each parsed (NDJSON).
    pub fn lines(&self) -> Vec<Value> {
        self.body
            .lines()
            .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
            .collect()
    }
}

/// A canned answer.
#[derive(Debug, Clone)]
pub(crate) enum Canned {
    Json(u16, Value),
    /// With a `Retry-After` header of this many seconds.
    RetryAfter(u16, u64),
    /// Never answers.
    Hang,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    replies: VecDeque<Canned>,
}

/// The running server; stopped when dropped.
pub(crate) struct RecordingServer {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingServer {
    /// Listens on a free port (bound before the adapter is pointed at it).
    pub async fn start(replies: Vec<Canned>) -> Self {
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            replies: replies.into(),
        }));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { answer(&state, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { url, state, task }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("lock").requests.clone()
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    state: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let canned = {
        let mut state = state.lock().expect("lock");
        state.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or_default().to_string(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        state.replies.pop_front()
    };
    let status = |code: u16| StatusCode::from_u16(code).expect("status");
    match canned {
        Some(Canned::Json(code, body)) => (status(code), axum::Json(body)).into_response(),
        Some(Canned::RetryAfter(code, secs)) => {
            (status(code), [("retry-after", secs.to_string())], "{}").into_response()
        }
        Some(Canned::Hang) => std::future::pending().await,
        None => (
            StatusCode::IM_A_TEAPOT,
            "the test gave no reply for this request",
        )
            .into_response(),
    }
}

/// Settings that point an adapter at `url`: basic auth, a 2 s timeout, two retries.
pub(crate) fn settings(
    engine: loupe_core::vectordb::Engine,
    url: &str,
) -> loupe_core::vectordb::VectorDbSettings {
    loupe_core::vectordb::VectorDbSettings {
        engine,
        endpoint: url.to_string(),
        database: None,
        username: Some("elastic".into()),
        password: Some("s3cret-pw".into()),
        api_key: None,
        timeout: std::time::Duration::from_secs(2),
        max_retries: 2,
    }
}

/// A `GET <index>/_mapping` answer whose `file_vector` is `vector` and whose
/// `file_meta_id` is `file_meta`.
pub(crate) fn mapping(index: &str, vector: Value, file_meta: Value) -> Canned {
    let mut properties = serde_json::Map::new();
    properties.insert(
        "index_set_id".into(),
        serde_json::json!({ "type": "keyword" }),
    );
    properties.insert("file_meta_id".into(), file_meta);
    properties.insert("file_vector".into(), vector);
    Canned::Json(
        200,
        serde_json::json!({ index: { "mappings": { "properties": properties } } }),
    )
}

/// A search answer with `(id, file, score)` hits.
pub(crate) fn hits(hits: &[(&str, &str, f64)]) -> Canned {
    let hits: Vec<Value> = hits
        .iter()
        .map(|(id, file, score)| serde_json::json!({ "_id": id, "_score": score, "_source": { "file_meta_id": file } }))
        .collect();
    Canned::Json(
        200,
        serde_json::json!({ "hits": { "total": { "value": hits.len(), "relation": "eq" }, "hits": hits } }),
    )
}
