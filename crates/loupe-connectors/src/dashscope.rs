//! DashScope (Model Studio) multimodal embedding on its native endpoint:
//! `POST …/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding` with
//! `Authorization: Bearer <key>` and `{"model", "input": {"contents": [{"text"} |
//! {"image"}]}}`; the reply is `{"output": {"embeddings": [{index, embedding, type}]},
//! "usage", "request_id"}`, an error `{code, message, request_id}` with a 4xx or 5xx.
//! Each item of `contents` gets its own vector (fusion is off by default).

use async_trait::async_trait;
use loupe_core::{Error, ErrorCode, Result};
use serde_json::{json, Value};

use crate::embedding::{BatchResult, Prepared, Protocol};
use crate::http::ModelClient;

/// The DashScope protocol.
pub(crate) struct DashScope {
    pub(crate) url: String,
    pub(crate) model: String,
}

/// The `contents` list both DashScope and GME take.
pub(crate) fn contents(batch: &[Prepared]) -> Value {
    Value::Array(
        batch
            .iter()
            .map(|p| match p {
                Prepared::Text(t) => json!({ "text": t }),
                Prepared::Image(uri) => json!({ "image": uri }),
            })
            .collect(),
    )
}

#[async_trait]
impl Protocol for DashScope {
    async fn call(&self, client: &ModelClient, batch: &[Prepared]) -> BatchResult {
        let body = json!({ "model": self.model, "input": { "contents": contents(batch) } });
        let reply = client.post_json(&self.url, &body).await?;
        let embeddings = reply
            .pointer("/output/embeddings")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(client, "no output.embeddings list"))?;
        by_index(client, embeddings, batch.len(), None)
    }
}

pub(crate) fn malformed(client: &ModelClient, what: &str) -> Error {
    Error::new(
        ErrorCode::ModelError,
        format!(
            "the {} answered with a reply that does not follow its protocol: {what}",
            client.what
        ),
    )
}

/// `[{index, embedding, type, message?}]` → one result per input, in order. An input
/// with no element, an element with a `message`, or one with no vector failed, and
/// says why (its own `message`, else `fallback`, the reply's reasons).
pub(crate) fn by_index(
    client: &ModelClient,
    embeddings: &[Value],
    n: usize,
    fallback: Option<&str>,
) -> BatchResult {
    let missing = fallback.unwrap_or("no vector returned");
    let mut out: Vec<Option<Result<Vec<f32>>>> = (0..n).map(|_| None).collect();
    for item in embeddings {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < n)
            .ok_or_else(|| malformed(client, "an embedding has no index within the request"))?;
        if out[index].is_some() {
            return Err(malformed(client, &format!("index {index} appears twice")));
        }
        let vector = item
            .get("embedding")
            .and_then(Value::as_array)
            .filter(|v| !v.is_empty());
        let reason = item
            .get("message")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty());
        out[index] = Some(match (vector, reason) {
            (Some(values), None) => values
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| {
                    malformed(client, "an embedding holds a value that is not a number")
                }),
            (_, reason) => Err(Error::new(
                ErrorCode::ModelError,
                format!(
                    "the {} failed this input: {}",
                    client.what,
                    reason.unwrap_or(missing)
                ),
            )),
        });
    }
    Ok(out
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(Error::new(
                    ErrorCode::ModelError,
                    format!(
                        "the {} returned no vector for this input: {missing}",
                        client.what
                    ),
                ))
            })
        })
        .collect())
}
