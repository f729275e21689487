//! What every remote embedder shares: images prepared once, inputs split into batches
//! that run concurrently under the connection's limit, every vector checked against the
//! declared dimension and L2-normalised, and failures kept per input.

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::join_all;
use loupe_core::model::{EmbedInput, Embedder};
use loupe_core::modelconn::ImageMode;
use loupe_core::{Error, ErrorCode, Result};

use crate::http::ModelClient;
use crate::image::data_uri;

/// One input as a provider receives it.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    /// A text.
    Text(String),
    /// A `data:image/jpeg;base64,…` URI, or in `url` mode an http(s) URL the provider
    /// fetches: every protocol takes either in the same field.
    Image(String),
}

/// One result per input of a batch.
pub(crate) type BatchResult = Result<Vec<Result<Vec<f32>>>>;

/// A wire protocol: one request (or a few) for one batch.
#[async_trait]
pub(crate) trait Protocol: Send + Sync + 'static {
    /// Embeds one batch; the result has one entry per input, in order.
    async fn call(&self, client: &ModelClient, batch: &[Prepared]) -> BatchResult;
}

/// An [`Embedder`] over a remote protocol.
pub(crate) struct RemoteEmbedder<P> {
    pub(crate) client: ModelClient,
    pub(crate) protocol: P,
    pub(crate) model: String,
    pub(crate) dim: usize,
    pub(crate) max_batch: usize,
    pub(crate) max_image_bytes: usize,
    pub(crate) image_mode: ImageMode,
}

#[async_trait]
impl<P: Protocol> Embedder for RemoteEmbedder<P> {
    fn model(&self) -> &str {
        &self.model
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn batch_hint(&self) -> usize {
        self.max_batch
    }

    fn wants_urls(&self) -> bool {
        self.image_mode == ImageMode::Url
    }

    async fn embed(&self, inputs: &[EmbedInput]) -> Result<Vec<Vec<f32>>> {
        let results = self.embed_each(inputs).await?;
        let failed: Vec<usize> = results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.is_err().then_some(i))
            .collect();
        let Some(first) = failed.first() else {
            return Ok(results.into_iter().flatten().collect());
        };
        let reason = results[*first]
            .as_ref()
            .err()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        Err(Error::new(
            ErrorCode::ModelError,
            format!(
                "the {} failed {} of {} inputs (indexes {failed:?}); the first: {reason}",
                self.client.what,
                failed.len(),
                inputs.len()
            ),
        ))
    }

    async fn embed_each(&self, inputs: &[EmbedInput]) -> Result<Vec<Result<Vec<f32>>>> {
        let prepared = join_all(inputs.iter().map(|input| self.prepare(input))).await;
        let mut results: Vec<Result<Vec<f32>>> = Vec::with_capacity(inputs.len());
        let mut sendable: Vec<(usize, Prepared)> = Vec::new();
        for (i, p) in prepared.into_iter().enumerate() {
            match p {
                Ok(p) => {
                    sendable.push((i, p));
                    results.push(Ok(Vec::new()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let batches: Vec<&[(usize, Prepared)]> = sendable.chunks(self.max_batch).collect();
        let replies = join_all(batches.iter().map(|batch| {
            let items: Vec<Prepared> = batch.iter().map(|(_, p)| p.clone()).collect();
            async move { self.protocol.call(&self.client, &items).await }
        }))
        .await;
        for (batch, reply) in batches.iter().zip(replies) {
            match reply {
                Ok(vectors) => {
                    debug_assert_eq!(vectors.len(), batch.len());
                    for ((i, _), v) in batch.iter().zip(vectors) {
                        results[*i] = match v {
                            Ok(v) => self.check(v)?,
                            Err(e) => Err(e),
                        };
                    }
                }
                // Unreachable or throttled beyond the retries: the whole call fails,
                // so that a job retries its task instead of failing every file.
                Err(e) if e.code() == ErrorCode::ModelUnavailable => return Err(e),
                // A refused batch: its inputs fail with the reason; the others stand.
                Err(e) => {
                    for (i, _) in batch.iter() {
                        results[*i] = Err(Error::new(e.code(), e.message()));
                    }
                }
            }
        }
        Ok(results)
    }
}

/// An image URL as sent in `url` mode: as it is, since the provider fetches it (and
/// applies its own size limit). In `base64` mode the connection promised the provider
/// no URLs, and a job never gives one then.
pub(crate) fn image_url(url: &str, mode: ImageMode, what: &str) -> Result<String> {
    if mode != ImageMode::Url {
        return Err(Error::invalid(format!(
            "the {what} takes images as base64 (Configs.ImageMode 'base64'), not as URLs: \
             send the image's bytes, or set Configs.ImageMode to 'url'"
        )));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::invalid(format!(
            "an image URL for the {what} must start with http:// or https://"
        )));
    }
    Ok(url.to_string())
}

impl<P> RemoteEmbedder<P> {
    async fn prepare(&self, input: &EmbedInput) -> Result<Prepared> {
        match input {
            EmbedInput::Text(text) => Ok(Prepared::Text(text.clone())),
            EmbedInput::Image(bytes) => Ok(Prepared::Image(
                data_uri(Arc::clone(bytes), self.max_image_bytes).await?,
            )),
            EmbedInput::ImageUrl(url) => {
                image_url(url, self.image_mode, &self.client.what).map(Prepared::Image)
            }
        }
    }

    /// The declared dimension, then finite values with a length to normalise by. A
    /// wrong dimension fails the whole call: it is the connection's setting that is
    /// wrong, not the input.
    fn check(&self, mut v: Vec<f32>) -> Result<Result<Vec<f32>>> {
        if v.len() != self.dim {
            return Err(Error::new(
                ErrorCode::VectorDimensionMismatch,
                format!(
                    "the {} returned a vector of {} values but Configs.Dimension is {}: set \
                     Configs.Dimension to the model's output size",
                    self.client.what,
                    v.len(),
                    self.dim
                ),
            ));
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return Ok(Err(Error::new(
                ErrorCode::ModelError,
                format!(
                    "the {} returned a vector that is zero or not finite",
                    self.client.what
                ),
            )));
        }
        v.iter_mut().for_each(|x| *x /= norm);
        Ok(Ok(v))
    }
}
