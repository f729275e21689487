//! The PAI-EAS GME protocol of the seed guide (section 4.4): `POST <EAS endpoint>` with
//! the service token as the whole `Authorization` value and `{"input": {"contents":
//! [{"text"} | {"image"}]}}` (plus `model` when the connection names one). The reply
//! carries `status_code` (200 success, 204 partial success, 400 failure), `message` (a
//! list of reasons) and `output.embeddings[].{index, embedding, type}`, where a failed
//! input's element has a `message` instead of a vector, or is missing.

use async_trait::async_trait;
use loupe_core::{Error, ErrorCode};
use serde_json::{json, Value};

use crate::dashscope::{by_index, contents, malformed};
use crate::embedding::{BatchResult, Prepared, Protocol};
use crate::http::{provider_reason, ModelClient};

/// The GME protocol.
pub(crate) struct Gme {
    pub(crate) url: String,
    pub(crate) model: Option<String>,
}

#[async_trait]
impl Protocol for Gme {
    async fn call(&self, client: &ModelClient, batch: &[Prepared]) -> BatchResult {
        let mut body = json!({ "input": { "contents": contents(batch) } });
        if let Some(model) = &self.model {
            body["model"] = json!(model);
        }
        let reply = client.post_json(&self.url, &body).await?;
        let status = reply
            .get("status_code")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed(client, "no status_code"))?;
        if status != 200 && status != 204 {
            return Err(Error::new(
                ErrorCode::ModelError,
                format!(
                    "the {} refused the batch (status_code {status}: {})",
                    client.what,
                    provider_reason(&reply)
                ),
            ));
        }
        let embeddings = reply
            .pointer("/output/embeddings")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(client, "no output.embeddings list"))?;
        let reasons = provider_reason(&json!({ "message": reply.get("message") }));
        let reasons = Some(reasons.as_str()).filter(|r| !r.is_empty() && *r != "null");
        let results = by_index(client, embeddings, batch.len(), reasons)?;
        if status == 200 && results.iter().any(Result::is_err) {
            tracing::warn!(model = %client.what, "status_code 200 but some inputs have no vector");
        }
        Ok(results)
    }
}
