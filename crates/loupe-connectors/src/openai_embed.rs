//! OpenAI-compatible `POST <base>/embeddings` (OpenAI, vLLM, Ollama, LM Studio). Texts
//! go together as `{"model", "input": [..], "encoding_format": "float"}`; an image goes
//! alone as vLLM's multimodal form, `{"model", "messages": [{"role": "user", "content":
//! [{"type": "image_url", "image_url": {"url"}}]}], "encoding_format": "float"}`, since
//! `input` has no image type. The reply is `{"data": [{index, embedding}], "usage"}`.

use async_trait::async_trait;
use futures::future::join_all;
use loupe_core::Result;
use serde_json::{json, Value};

use crate::dashscope::{by_index, malformed};
use crate::embedding::{BatchResult, Prepared, Protocol};
use crate::http::ModelClient;

/// The OpenAI-compatible embeddings protocol.
pub(crate) struct OpenAiEmbeddings {
    pub(crate) url: String,
    pub(crate) model: String,
}

impl OpenAiEmbeddings {
    async fn request(&self, client: &ModelClient, body: Value, n: usize) -> BatchResult {
        let reply = client.post_json(&self.url, &body).await?;
        let data = reply
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(client, "no data list"))?;
        by_index(client, data, n, None)
    }

    async fn image(&self, client: &ModelClient, uri: &str) -> Result<Vec<f32>> {
        let body = json!({
            "model": self.model,
            "messages": [{
                "role": "user",
                "content": [{ "type": "image_url", "image_url": { "url": uri } }],
            }],
            "encoding_format": "float",
        });
        let mut one = self.request(client, body, 1).await?;
        one.pop()
            .unwrap_or_else(|| Err(malformed(client, "no vector")))
    }
}

#[async_trait]
impl Protocol for OpenAiEmbeddings {
    async fn call(&self, client: &ModelClient, batch: &[Prepared]) -> BatchResult {
        let texts: Vec<(usize, &str)> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Prepared::Text(t) => Some((i, t.as_str())),
                Prepared::Image(_) => None,
            })
            .collect();
        let images = batch.iter().enumerate().filter_map(|(i, p)| match p {
            Prepared::Image(uri) => Some((i, uri.as_str())),
            Prepared::Text(_) => None,
        });
        let image_replies =
            join_all(images.map(|(i, uri)| async move { (i, self.image(client, uri).await) }));
        let text_reply = async {
            if texts.is_empty() {
                return Ok(Vec::new());
            }
            let input: Vec<&str> = texts.iter().map(|(_, t)| *t).collect();
            let body = json!({ "model": self.model, "input": input, "encoding_format": "float" });
            self.request(client, body, texts.len()).await
        };
        let (image_replies, text_reply) = futures::join!(image_replies, text_reply);
        let mut out: Vec<Option<Result<Vec<f32>>>> = (0..batch.len()).map(|_| None).collect();
        for ((i, _), v) in texts.iter().zip(text_reply?) {
            out[*i] = Some(v);
        }
        for (i, v) in image_replies {
            // An unreachable service fails the whole call, as for a batch.
            let v = match v {
                Err(e) if e.code() == loupe_core::ErrorCode::ModelUnavailable => return Err(e),
                other => other,
            };
            out[i] = Some(v);
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(malformed(client, "an input was not answered"))))
            .collect())
    }
}
