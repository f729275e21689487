//! Loupe's remote model connectors: embeddings from DashScope's native multimodal
//! endpoint, a PAI-EAS GME service or an OpenAI-compatible `/embeddings`, and tags from
//! OpenAI-compatible chat completions with images. Each one implements a port of
//! `loupe_core::model` and is picked once from a connection's [`ModelSettings`].
//!
//! Every connector has the connection's timeout, retries of 429, 5xx and timeouts
//! (honouring `Retry-After`, with backoff and jitter), a limit on requests in flight,
//! images re-encoded upright under the provider's size limit (or, with `ImageMode`
//! `url`, presigned URLs the provider fetches itself), and every vector checked against
//! the declared dimension.

mod dashscope;
mod embedding;
mod gme;
mod http;
pub mod image;
mod openai_chat;
mod openai_embed;
pub mod tag_reply;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use loupe_core::model::{Embedder, Tagger};
use loupe_core::modelconn::{ModelKind, ModelSettings, Provider};
use loupe_core::{Error, Result};

pub use openai_chat::{prompt as tag_prompt, DEFINITIONS_HEADING};

use crate::embedding::RemoteEmbedder;
use crate::http::{AuthStyle, ModelClient};

/// Opens a remote embedding connection. The local provider is opened by `loupe-models`.
pub fn open_embedder(settings: &ModelSettings) -> Result<Arc<dyn Embedder>> {
    let (url, dim) = remote(settings, ModelKind::Embedding)?;
    let dim = dim.ok_or_else(|| Error::invalid("Configs.Dimension is required"))?;
    let model = settings.model_name().to_string();
    let style = match settings.provider {
        Provider::PaiEas => AuthStyle::Raw,
        _ => AuthStyle::Bearer,
    };
    let client = ModelClient::new(settings, style)?;
    let (max_batch, max_image_bytes, image_mode) = (
        settings.max_batch,
        settings.max_image_bytes,
        settings.image_mode,
    );
    Ok(match settings.provider {
        Provider::DashScope => Arc::new(RemoteEmbedder {
            client,
            protocol: dashscope::DashScope {
                url,
                model: model.clone(),
            },
            model,
            dim,
            max_batch,
            max_image_bytes,
            image_mode,
        }),
        Provider::PaiEas => Arc::new(RemoteEmbedder {
            client,
            protocol: gme::Gme {
                url,
                model: settings.model.clone(),
            },
            model,
            dim,
            max_batch,
            max_image_bytes,
            image_mode,
        }),
        Provider::OpenAi => Arc::new(RemoteEmbedder {
            client,
            protocol: openai_embed::OpenAiEmbeddings {
                url: format!("{url}/embeddings"),
                model: model.clone(),
            },
            model,
            dim,
            max_batch,
            max_image_bytes,
            image_mode,
        }),
        Provider::Local => return Err(local()),
    })
}

/// Opens a remote tagging connection. The local provider is opened by `loupe-models`.
pub fn open_tagger(settings: &ModelSettings) -> Result<Arc<dyn Tagger>> {
    let (url, _) = remote(settings, ModelKind::Tagging)?;
    if settings.provider != Provider::OpenAi {
        return Err(Error::invalid(format!(
            "Configs.Provider '{}' cannot tag: use openai",
            settings.provider.as_str()
        )));
    }
    Ok(Arc::new(openai_chat::ChatTagger {
        client: ModelClient::new(settings, AuthStyle::Bearer)?,
        url: format!("{url}/chat/completions"),
        model: settings.model_name().to_string(),
        max_image_bytes: settings.max_image_bytes,
        image_mode: settings.image_mode,
    }))
}

fn remote(settings: &ModelSettings, kind: ModelKind) -> Result<(String, Option<usize>)> {
    if settings.kind != kind {
        return Err(Error::invalid(format!(
            "this connection is for {:?} models, not {kind:?}",
            settings.kind
        )));
    }
    let url = settings.base_url.clone().ok_or_else(local)?;
    Ok((url, settings.dimension))
}

fn local() -> Error {
    Error::invalid("the local provider runs in process: open it with loupe-models")
}
