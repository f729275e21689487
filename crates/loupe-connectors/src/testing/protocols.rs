//! The bodies of each protocol: reading its inputs, asking the backend, and writing its
//! replies and error envelopes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use loupe_core::model::{EmbedInput, TagSpec, Tagging};
use serde_json::{json, Value};

use super::{Backend, Fault, Protocol};
use crate::DEFINITIONS_HEADING;

/// The protocol's error envelope with `status`.
pub(super) fn error(protocol: Protocol, status: StatusCode, code: &str, message: &str) -> Response {
    let body = match protocol {
        Protocol::DashScope => {
            json!({ "code": code, "message": message, "request_id": "req-test" })
        }
        Protocol::Gme => json!({ "status_code": status.as_u16(), "message": [message] }),
        Protocol::OpenAi => json!({
            "error": { "message": message, "type": "invalid_request_error", "code": code }
        }),
    };
    (status, Json(body)).into_response()
}

/// An image reference → bytes: a `data:image/…;base64,…` URI, or an http(s) URL
/// fetched here as a provider in URL mode does (the recorded body keeps the URL).
async fn image(uri: &str) -> Result<EmbedInput, String> {
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return fetch(uri)
            .await
            .map(|bytes| EmbedInput::Image(Arc::new(bytes)));
    }
    let (head, data) = uri
        .split_once(',')
        .ok_or_else(|| "the image is not a data URI".to_string())?;
    if !head.starts_with("data:image/") || !head.ends_with(";base64") {
        return Err(format!("unsupported image reference '{head}'"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("the image's base64 is invalid: {e}"))?;
    Ok(EmbedInput::Image(Arc::new(bytes)))
}

/// Downloads an image URL; a failure is the provider's "cannot download" refusal.
async fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let reply = reqwest::get(url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("cannot download the image: {e}"))?;
    let bytes = reply
        .bytes()
        .await
        .map_err(|e| format!("cannot download the image: {e}"))?;
    Ok(bytes.to_vec())
}

/// `input.contents` of DashScope and GME → inputs.
async fn contents(body: &Value) -> Result<Vec<EmbedInput>, String> {
    let items = body
        .pointer("/input/contents")
        .and_then(Value::as_array)
        .ok_or_else(|| "input.contents must be a list".to_string())?;
    let mut inputs = Vec::with_capacity(items.len());
    for item in items {
        if let Some(text) = item.get("text").and_then(Value::as_str) {
            inputs.push(EmbedInput::Text(text.to_string()));
        } else if let Some(uri) = item.get("image").and_then(Value::as_str) {
            inputs.push(image(uri).await?);
        } else {
            return Err("each content must hold text or image".to_string());
        }
    }
    Ok(inputs)
}

fn kind(input: &EmbedInput) -> &'static str {
    match input {
        EmbedInput::Text(_) => "text",
        EmbedInput::Image(_) | EmbedInput::ImageUrl(_) => "image",
    }
}

/// The backend's vectors, resized when a wrong dimension is injected.
async fn vectors(
    backend: &Backend,
    inputs: &[EmbedInput],
    fault: Option<&Fault>,
) -> Result<Vec<Vec<f32>>, String> {
    let embedder = backend
        .embedder
        .as_ref()
        .ok_or("no embedder behind this server")?;
    let mut vectors = embedder.embed(inputs).await.map_err(|e| e.to_string())?;
    if let Some(Fault::WrongDimension(n)) = fault {
        for v in &mut vectors {
            v.resize(*n, 0.01);
        }
    }
    Ok(vectors)
}

fn failing(fault: Option<&Fault>) -> &[usize] {
    match fault {
        Some(Fault::FailInputs(positions)) => positions,
        _ => &[],
    }
}

pub(super) async fn dashscope(backend: &Backend, body: &Value, fault: Option<Fault>) -> Response {
    let bad = |m: &str| {
        error(
            Protocol::DashScope,
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            m,
        )
    };
    if body.get("model").and_then(Value::as_str).is_none() {
        return bad("Model not exist.");
    }
    let inputs = match contents(body).await {
        Ok(i) => i,
        Err(m) => return bad(&m),
    };
    // DashScope has no partial success: one bad item refuses the whole request.
    if let Some(position) = failing(fault.as_ref()).first() {
        return bad(&format!(
            "The image at contents[{position}] cannot be processed."
        ));
    }
    match vectors(backend, &inputs, fault.as_ref()).await {
        Ok(vectors) => Json(json!({
            "output": { "embeddings": vectors.iter().zip(&inputs).enumerate().map(|(i, (v, input))| {
                json!({ "index": i, "embedding": v, "type": kind(input) })
            }).collect::<Vec<_>>() },
            "usage": { "input_tokens": 0, "image_count": inputs.iter().filter(|i| kind(i) == "image").count() },
            "request_id": "req-test",
        }))
        .into_response(),
        Err(m) => error(Protocol::DashScope, StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &m),
    }
}

pub(super) async fn gme(backend: &Backend, body: &Value, fault: Option<Fault>) -> Response {
    let inputs = match contents(body).await {
        Ok(i) => i,
        Err(m) => {
            return Json(
                json!({ "status_code": 400, "message": [format!("Invalid input data: {m}")] }),
            )
            .into_response()
        }
    };
    let failing = failing(fault.as_ref()).to_vec();
    let vectors = match vectors(backend, &inputs, fault.as_ref()).await {
        Ok(v) => v,
        Err(m) => return error(Protocol::Gme, StatusCode::INTERNAL_SERVER_ERROR, "", &m),
    };
    let embeddings: Vec<Value> = vectors
        .iter()
        .zip(&inputs)
        .enumerate()
        .map(|(i, (v, input))| match failing.contains(&i) {
            true => {
                json!({ "index": i, "type": kind(input), "message": "Internal execute error." })
            }
            false => json!({ "index": i, "embedding": v, "type": kind(input) }),
        })
        .collect();
    let messages: Vec<String> = failing
        .iter()
        .map(|i| format!("input {i}: Internal execute error."))
        .collect();
    let status = if failing.is_empty() { 200 } else { 204 };
    Json(json!({ "status_code": status, "message": messages, "output": { "embeddings": embeddings } }))
        .into_response()
}

pub(super) async fn openai_embeddings(
    backend: &Backend,
    body: &Value,
    fault: Option<Fault>,
) -> Response {
    let bad = |m: &str| {
        error(
            Protocol::OpenAi,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            m,
        )
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return bad("you must provide a model parameter");
    };
    let inputs: Vec<EmbedInput> = match (body.get("input"), body.get("messages")) {
        (Some(Value::String(t)), None) => vec![EmbedInput::Text(t.clone())],
        (Some(Value::Array(items)), None) => {
            match items
                .iter()
                .map(|t| t.as_str().map(|t| EmbedInput::Text(t.to_string())))
                .collect()
            {
                Some(texts) => texts,
                None => return bad("input must be a string or a list of strings"),
            }
        }
        (None, Some(messages)) => {
            let uri = messages
                .pointer("/0/content")
                .and_then(Value::as_array)
                .and_then(|parts| parts.iter().find_map(|p| p.pointer("/image_url/url")))
                .and_then(Value::as_str);
            let Some(uri) = uri else {
                return bad("messages must hold an image_url part");
            };
            match image(uri).await {
                Ok(input) => vec![input],
                Err(m) => return bad(&m),
            }
        }
        _ => return bad("give either input or messages"),
    };
    if let Some(position) = failing(fault.as_ref()).first() {
        return bad(&format!("input {position} cannot be processed"));
    }
    match vectors(backend, &inputs, fault.as_ref()).await {
        Ok(vectors) => Json(json!({
            "object": "list",
            "data": vectors.iter().enumerate().map(|(i, v)| {
                json!({ "object": "embedding", "index": i, "embedding": v })
            }).collect::<Vec<_>>(),
            "model": model,
            "usage": { "prompt_tokens": 0, "total_tokens": 0 },
        }))
        .into_response(),
        Err(m) => error(
            Protocol::OpenAi,
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &m,
        ),
    }
}

/// The guide prompt and definitions back out of the prompt the chat tagger writes.
fn spec_from_prompt(text: &str) -> Option<TagSpec> {
    let (guide, rest) = text.split_once(DEFINITIONS_HEADING)?;
    let start = rest.find('{')?;
    let tags = serde_json::Deserializer::from_str(&rest[start..])
        .into_iter::<BTreeMap<String, String>>()
        .next()?
        .ok()?;
    Some(TagSpec {
        prompt: guide.trim().to_string(),
        tags,
    })
}

fn reply_text(tagging: &Tagging, fault: Option<&Fault>) -> String {
    let mut tags: Vec<Value> = tagging
        .tags
        .iter()
        .map(|t| json!({ "name": t.name, "confidence": t.confidence }))
        .collect();
    match fault {
        Some(Fault::ProseReply) => {
            return "The image shows a red car parked by the side of a wet road.".to_string()
        }
        Some(Fault::UndefinedTags(names)) => tags.extend(
            names
                .iter()
                .map(|n| json!({ "name": n, "confidence": 0.5 })),
        ),
        _ => {}
    }
    let answer = json!({ "tags": tags }).to_string();
    match fault {
        Some(Fault::FencedReply) => format!("```json\n{answer}\n```"),
        _ => answer,
    }
}

pub(super) async fn openai_chat(backend: &Backend, body: &Value, fault: Option<Fault>) -> Response {
    let bad = |m: &str| {
        error(
            Protocol::OpenAi,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            m,
        )
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return bad("you must provide a model parameter");
    };
    let parts = body
        .pointer("/messages/0/content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = parts
        .iter()
        .find_map(|p| p.get("text").and_then(Value::as_str));
    let uri = parts
        .iter()
        .find_map(|p| p.pointer("/image_url/url").and_then(Value::as_str));
    let (Some(text), Some(uri)) = (text, uri) else {
        return bad("the user message must hold a text part and an image_url part");
    };
    let Some(spec) = spec_from_prompt(text) else {
        return bad("the prompt holds no tag definitions");
    };
    let EmbedInput::Image(bytes) = (match image(uri).await {
        Ok(i) => i,
        Err(m) => return bad(&m),
    }) else {
        return bad("not an image");
    };
    let Some(tagger) = &backend.tagger else {
        return error(
            Protocol::OpenAi,
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no tagger",
        );
    };
    let tagging = match tagger.tag(bytes, &spec).await {
        Ok(t) => t,
        Err(e) => {
            return error(
                Protocol::OpenAi,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.message(),
            )
        }
    };
    Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": reply_text(&tagging, fault.as_ref()) },
            "finish_reason": "stop",
        }],
        "usage": { "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0 },
    }))
    .into_response()
}
