//! Tagging through OpenAI-compatible chat completions with an `image_url` part
//! (DashScope compatible mode for `qwen-vl-max` / `qwen-vl-plus`, vLLM, Ollama):
//! `POST <base>/chat/completions`, one user message holding the prompt and the image,
//! `temperature` 0. The reply's `choices[0].message.content` is parsed strictly.

use std::sync::Arc;

use async_trait::async_trait;
use loupe_core::model::{TagSpec, Tagger, Tagging};
use loupe_core::modelconn::ImageMode;
use loupe_core::{Error, ErrorCode, Result};
use serde_json::{json, Value};

use crate::dashscope::malformed;
use crate::embedding::image_url;
use crate::http::ModelClient;
use crate::image::data_uri;
use crate::tag_reply::parse_tags;

/// The line before the tag definitions in the prompt; the test server finds them by it.
pub const DEFINITIONS_HEADING: &str = "Tag definitions (JSON object, tag name → description):";

/// The prompt: the guide prompt, the definitions as JSON, and the answer's form.
pub fn prompt(spec: &TagSpec) -> String {
    let definitions = serde_json::to_string_pretty(&spec.tags).unwrap_or_default();
    format!(
        "{}\n\n{DEFINITIONS_HEADING}\n{definitions}\n\nAnswer with JSON only, no other text, in \
         this form: {{\"tags\": [{{\"name\": \"<a tag name from the definitions>\", \
         \"confidence\": <a number from 0 to 1>}}]}}. Use only names from the definitions, \
         spelled as they are there; answer {{\"tags\": []}} when none applies.",
        spec.prompt.trim()
    )
}

/// A [`Tagger`] over chat completions.
pub(crate) struct ChatTagger {
    pub(crate) client: ModelClient,
    pub(crate) url: String,
    pub(crate) model: String,
    pub(crate) max_image_bytes: usize,
    pub(crate) image_mode: ImageMode,
}

#[async_trait]
impl Tagger for ChatTagger {
    fn model(&self) -> &str {
        &self.model
    }

    async fn tag(&self, image: Arc<Vec<u8>>, spec: &TagSpec) -> Result<Tagging> {
        let uri = data_uri(image, self.max_image_bytes).await?;
        self.ask(&uri, spec).await
    }

    fn wants_urls(&self) -> bool {
        self.image_mode == ImageMode::Url
    }

    async fn tag_url(&self, url: &str, spec: &TagSpec) -> Result<Tagging> {
        let url = image_url(url, self.image_mode, &self.client.what)?;
        self.ask(&url, spec).await
    }
}

impl ChatTagger {
    /// One chat completion over the image at `uri` (a data URI or a URL).
    async fn ask(&self, uri: &str, spec: &TagSpec) -> Result<Tagging> {
        let body = json!({
            "model": self.model,
            "messages": [{
                "role": "user",
                "content": [
                    { "type": "text", "text": prompt(spec) },
                    { "type": "image_url", "image_url": { "url": uri } },
                ],
            }],
            "temperature": 0,
        });
        let reply = self.client.post_json(&self.url, &body).await?;
        let message = reply
            .pointer("/choices/0/message")
            .ok_or_else(|| malformed(&self.client, "no choices[0].message"))?;
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            return Err(Error::new(
                ErrorCode::ModelError,
                format!(
                    "the {} refused to tag the image: {refusal}",
                    self.client.what
                ),
            ));
        }
        let content = content_text(message)
            .ok_or_else(|| malformed(&self.client, "choices[0].message has no text content"))?;
        parse_tags(&content, spec).map_err(|reason| {
            Error::new(
                ErrorCode::ModelError,
                format!("{reason} (from the {})", self.client.what),
            )
        })
    }
}

/// `content` as a string, or the text parts of a list (some servers answer in parts).
fn content_text(message: &Value) -> Option<String> {
    match message.get("content")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
        ),
        _ => None,
    }
}
