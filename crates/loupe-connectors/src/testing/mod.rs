//! Real HTTP servers that speak the remote model protocols exactly (DashScope native
//! embedding, PAI-EAS GME, OpenAI-compatible embeddings and chat completions), for
//! tests here and in the job pipelines. They are backed by any [`Embedder`] and
//! [`Tagger`] (the local model, or a small deterministic one), record every request,
//! count requests in flight, and inject faults on demand. Image URLs in a request are
//! fetched, as a provider in URL mode does; the server can host images to fetch.

mod precise_wait;
mod protocols;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use loupe_core::model::{Embedder, Tagger};
use serde_json::Value;

/// What answers behind the protocols.
#[derive(Clone, Default)]
pub struct Backend {
    /// Answers the embedding protocols; without one they answer 500.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Answers chat completions; without one they answer 500.
    pub tagger: Option<Arc<dyn Tagger>>,
    /// When set, requests must carry it (`Bearer <key>` for DashScope and OpenAI, the
    /// key alone for PAI-EAS) or get a 401.
    pub api_key: Option<String>,
    /// Time every request takes before it is answered, so that overlapping requests
    /// can be seen.
    pub latency: Duration,
}

/// A fault to inject into a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with `Retry-After: <secs>` and the protocol's throttling body.
    RateLimited {
        /// The `Retry-After` seconds.
        retry_after_secs: u64,
    },
    /// 500 with the protocol's error body.
    ServerError,
    /// Waits this long before answering normally (longer than the client's timeout).
    Delay(Duration),
    /// A 200 whose body is cut-off JSON.
    MalformedJson,
    /// These positions of the request fail: GME answers `status_code` 204 with a
    /// `message` on their elements; DashScope and OpenAI refuse the request with 400.
    FailInputs(Vec<usize>),
    /// Vectors of this many values instead of the embedder's.
    WrongDimension(usize),
    /// A chat reply in prose instead of JSON.
    ProseReply,
    /// A chat reply that also names these tags, which the definition lacks.
    UndefinedTags(Vec<String>),
    /// A chat reply wrapped in a ```json fence.
    FencedReply,
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The path, e.g. `/v1/embeddings`.
    pub path: String,
    /// Header names (lowercase) → values.
    pub headers: BTreeMap<String, String>,
    /// The JSON body (`Null` when it was not JSON).
    pub body: Value,
    /// When it arrived.
    pub received: Instant,
}

struct Shared {
    backend: Backend,
    queued: Mutex<VecDeque<Fault>>,
    standing: Mutex<Option<Fault>>,
    requests: Mutex<Vec<Recorded>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    hosted: Mutex<BTreeMap<String, Bytes>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running test server on 127.0.0.1; stopped on drop.
pub struct ModelServer {
    base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ModelServer {
    /// Binds a free port and serves every protocol on it.
    pub async fn start(backend: Backend) -> Self {
        let shared = Arc::new(Shared {
            backend,
            queued: Mutex::new(VecDeque::new()),
            standing: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            hosted: Mutex::new(BTreeMap::new()),
        });
        let router = Router::new()
            .route(DASHSCOPE_PATH, post(dashscope))
            .route("/api/predict/{service}", post(gme))
            .route("/v1/embeddings", post(openai_embeddings))
            .route("/v1/chat/completions", post(openai_chat))
            .route("/hosted/{name}", get(hosted))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a test model server on 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        Self {
            base: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// DashScope's native multimodal embedding endpoint.
    pub fn dashscope_url(&self) -> String {
        format!("{}{DASHSCOPE_PATH}", self.base)
    }

    /// A PAI-EAS service endpoint speaking GME.
    pub fn gme_url(&self) -> String {
        format!("{}/api/predict/gme", self.base)
    }

    /// The OpenAI-compatible API base (`…/v1`).
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// Injects `fault` into the next request that has no queued fault yet.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.shared.queued).push_back(fault);
    }

    /// Injects `fault` into every request after the queued ones; `None` stops it.
    pub fn set_standing_fault(&self, fault: Option<Fault>) {
        *lock(&self.shared.standing) = fault;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Serves `bytes` at the returned `http://` URL, an image URL to send in URL mode.
    pub fn host_image(&self, name: &str, bytes: &[u8]) -> String {
        lock(&self.shared.hosted).insert(name.to_string(), Bytes::copy_from_slice(bytes));
        format!("{}/hosted/{name}", self.base)
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn hosted(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match lock(&shared.hosted).get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

const DASHSCOPE_PATH: &str =
    "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding";

/// Which protocol a request speaks; decides the auth form and the error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    DashScope,
    Gme,
    OpenAi,
}

/// Counts a request as in flight until dropped.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What every handler does first: record, count, wait, check the key, and apply the
/// faults that look the same in every protocol. `Ok` carries the body and the fault
/// left for the protocol to apply.
async fn admit(
    shared: &Shared,
    protocol: Protocol,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Value, Option<Fault>), Response> {
    // The latency counts from arrival, as a client sees it.
    let answer_at = Instant::now() + shared.backend.latency;
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    lock(&shared.requests).push(Recorded {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: json.clone(),
        received: Instant::now(),
    });
    precise_wait::wait_until(answer_at).await;
    if let Some(key) = &shared.backend.api_key {
        let expected = match protocol {
            Protocol::Gme => key.clone(),
            _ => format!("Bearer {key}"),
        };
        let given = headers.get("authorization").and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return Err(protocols::error(
                protocol,
                StatusCode::UNAUTHORIZED,
                "InvalidApiKey",
                "Invalid API-key provided.",
            ));
        }
    }
    if json.is_null() {
        return Err(protocols::error(
            protocol,
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "the body is not JSON",
        ));
    }
    let fault = lock(&shared.queued)
        .pop_front()
        .or_else(|| lock(&shared.standing).clone());
    match fault {
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut response = protocols::error(
                protocol,
                StatusCode::TOO_MANY_REQUESTS,
                "Throttling.RateQuota",
                "Requests rate limit exceeded, please try again later.",
            );
            response.headers_mut().insert(
                "retry-after",
                retry_after_secs.to_string().parse().expect("digits"),
            );
            Err(response)
        }
        Some(Fault::ServerError) => Err(protocols::error(
            protocol,
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "An internal error has occured, please try again later.",
        )),
        Some(Fault::MalformedJson) => Err((
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"output\": {\"embeddings\": [{\"index\": 0, \"embedding\": [0.1,",
        )
            .into_response()),
        Some(Fault::Delay(wait)) => {
            tokio::time::sleep(wait).await;
            Ok((json, None))
        }
        other => Ok((json, other)),
    }
}

async fn dashscope(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::enter(&shared);
    match admit(&shared, Protocol::DashScope, &uri, &headers, &body).await {
        Ok((json, fault)) => protocols::dashscope(&shared.backend, &json, fault).await,
        Err(response) => response,
    }
}

async fn gme(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::enter(&shared);
    match admit(&shared, Protocol::Gme, &uri, &headers, &body).await {
        Ok((json, fault)) => protocols::gme(&shared.backend, &json, fault).await,
        Err(response) => response,
    }
}

async fn openai_embeddings(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::enter(&shared);
    match admit(&shared, Protocol::OpenAi, &uri, &headers, &body).await {
        Ok((json, fault)) => protocols::openai_embeddings(&shared.backend, &json, fault).await,
        Err(response) => response,
    }
}

async fn openai_chat(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::enter(&shared);
    match admit(&shared, Protocol::OpenAi, &uri, &headers, &body).await {
        Ok((json, fault)) => protocols::openai_chat(&shared.backend, &json, fault).await,
        Err(response) => response,
    }
}
