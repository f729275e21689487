//! The one way connectors talk HTTP: JSON posts with a per-request timeout, a
//! concurrency limit shared by every call through one connection, retries of 429, 5xx,
//! timeouts and transport failures (honouring `Retry-After`), and errors that say what
//! to fix without ever carrying the API key.

use std::sync::Arc;
use std::time::Duration;

use loupe_core::modelconn::ModelSettings;
use loupe_core::retry::{retry_after, retryable_status, with_retries, Attempt};
use loupe_core::{Error, ErrorCode, Result};
use reqwest::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER};
use serde_json::Value;
use tokio::sync::Semaphore;

/// How the API key goes into the `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthStyle {
    /// `Authorization: Bearer <key>` (DashScope, OpenAI-compatible).
    Bearer,
    /// `Authorization: <token>`, the EAS service token as is (PAI-EAS).
    Raw,
}

/// A JSON-over-HTTP client for one model connection.
pub(crate) struct ModelClient {
    http: reqwest::Client,
    auth: Option<HeaderValue>,
    secret: Option<String>,
    limiter: Arc<Semaphore>,
    max_retries: u32,
    timeout: Duration,
    /// `dashscope model 'tongyi-embedding-vision-plus'`, for messages.
    pub(crate) what: String,
}

impl ModelClient {
    /// A client for the connection's settings.
    pub(crate) fn new(settings: &ModelSettings, style: AuthStyle) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| Error::internal("building the model HTTP client", e))?;
        let auth = match &settings.api_key {
            None => None,
            Some(key) => {
                let text = match style {
                    AuthStyle::Bearer => format!("Bearer {key}"),
                    AuthStyle::Raw => key.clone(),
                };
                let mut value = HeaderValue::from_str(&text).map_err(|_| {
                    Error::invalid("Secrets.ApiKey is not a valid HTTP header value")
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(Self {
            http,
            auth,
            secret: settings.api_key.clone(),
            limiter: Arc::new(Semaphore::new(settings.max_concurrency)),
            max_retries: settings.max_retries,
            timeout: settings.timeout,
            what: format!(
                "{} model '{}'",
                settings.provider.as_str(),
                settings.model_name()
            ),
        })
    }

    /// Posts `body` to `url` and returns the parsed JSON of a 2xx reply.
    pub(crate) async fn post_json(&self, url: &str, body: &Value) -> Result<Value> {
        with_retries(self.max_retries, || self.attempt(url, body)).await
    }

    async fn attempt(&self, url: &str, body: &Value) -> Attempt<Value, Error> {
        // The permit is held for one attempt only: a request waiting out a backoff
        // leaves its slot to others.
        let Ok(_permit) = self.limiter.acquire().await else {
            return Attempt::Fail(Error::internal(
                "model request limiter",
                std::io::Error::other("semaphore closed"),
            ));
        };
        let mut request = self.http.post(url).json(body);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(self.transport_error(&e), None),
        };
        let status = response.status().as_u16();
        let wait = retry_after(
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        );
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Attempt::Retry(self.transport_error(&e), None),
        };
        if retryable_status(status) {
            let detail = self.detail(&bytes);
            return Attempt::Retry(
                Error::new(
                    ErrorCode::ModelUnavailable,
                    format!(
                        "the {} kept failing ({status}: {detail}) after {} retries; retry later",
                        self.what, self.max_retries
                    ),
                ),
                wait,
            );
        }
        // GME services answer a refused batch with their JSON envelope and a 400; the
        // caller reads its `message`.
        let parsed = serde_json::from_slice::<Value>(&bytes);
        if !(200..300).contains(&status) {
            return Attempt::Fail(self.refusal(status, &bytes));
        }
        match parsed {
            Ok(value) => Attempt::Ok(value),
            Err(e) => Attempt::Fail(Error::new(
                ErrorCode::ModelError,
                format!("the {} answered with malformed JSON: {e}", self.what),
            )),
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> Error {
        let message = if e.is_timeout() {
            format!(
                "the {} did not answer within {} s, {} retries included; retry later or raise Configs.TimeoutSecs",
                self.what,
                self.timeout.as_secs_f32(),
                self.max_retries
            )
        } else {
            format!(
                "the {} cannot be reached ({}) after {} retries; check Configs.BaseUrl",
                self.what,
                self.scrub(&without_url(e)),
                self.max_retries
            )
        };
        Error::new(ErrorCode::ModelUnavailable, message)
    }

    fn refusal(&self, status: u16, bytes: &[u8]) -> Error {
        let detail = self.detail(bytes);
        let hint = match status {
            401 | 403 => ": check Secrets.ApiKey",
            404 => ": check Configs.BaseUrl and Configs.Model",
            413 => ": lower Configs.MaxImageBytes or Configs.MaxBatchSize",
            _ => "",
        };
        Error::new(
            ErrorCode::ModelError,
            format!(
                "the {} refused the request ({status}: {detail}){hint}",
                self.what
            ),
        )
    }

    /// The provider's reason from an error body: DashScope `{code, message}`, OpenAI
    /// `{error: {message}}`, GME `{message: [..]}`, or the start of a text body.
    fn detail(&self, bytes: &[u8]) -> String {
        let text = match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => provider_reason(&v),
            Err(_) => String::from_utf8_lossy(bytes).trim().to_string(),
        };
        let text = if text.is_empty() {
            "no reason given".to_string()
        } else {
            text
        };
        self.scrub(&truncate(&text, 300))
    }

    /// Removes the key from text that came from the outside, in case a server echoes it.
    fn scrub(&self, text: &str) -> String {
        match &self.secret {
            Some(key) if key.len() >= 4 => text.replace(key.as_str(), "[redacted]"),
            _ => text.to_string(),
        }
    }
}

/// The reason inside a provider's JSON error body.
pub(crate) fn provider_reason(v: &Value) -> String {
    let code = v.get("code").and_then(Value::as_str);
    let message = v
        .get("message")
        .or_else(|| v.pointer("/error/message"))
        .map(|m| match m {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        })
        .unwrap_or_else(|| truncate(&v.to_string(), 200));
    match code {
        Some(code) => format!("{code}: {message}"),
        None => message,
    }
}

/// reqwest's error text without the URL, which may carry query tokens.
fn without_url(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    last.unwrap_or_else(|| "transport error".to_string())
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}
