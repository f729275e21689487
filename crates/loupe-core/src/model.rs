//! The model ports: embedders turn texts and images into vectors of one declared
//! dimension, taggers turn an image and a tag definition into tags. Adapters: the local
//! models in process (`loupe-models`) and the remote protocols (DashScope, PAI-EAS GME,
//! OpenAI-compatible).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;

/// One thing to embed.
#[derive(Debug, Clone)]
pub enum EmbedInput {
    /// A text query, e.g. "a fallen traffic cone at night".
    Text(String),
    /// An encoded image (JPEG, PNG, …) as stored; the embedder decodes it.
    Image(Arc<Vec<u8>>),
    /// An http(s) URL of an image that the provider fetches itself (an object store's
    /// presigned GET), so that the image never passes through Loupe. Only for embedders
    /// whose [`Embedder::wants_urls`] is true.
    ImageUrl(String),
}

/// A model that maps texts and images into one vector space.
#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// The model's name, recorded with every vector it made.
    fn model(&self) -> &str;
    /// Values per vector.
    fn dim(&self) -> usize;
    /// One vector per input, in order, L2-normalised, each of [`Embedder::dim`] values.
    /// Fails as a whole when any input fails.
    async fn embed(&self, inputs: &[EmbedInput]) -> Result<Vec<Vec<f32>>>;

    /// Inputs worth sending in one call: a job groups files by this many and holds one
    /// of its `MaxConcurrency` permits per call.
    fn batch_hint(&self) -> usize {
        1
    }

    /// Whether [`EmbedInput::ImageUrl`] is welcome: a remote model that fetches images
    /// itself. A job then sends presigned URLs when the dataset's storage can make them,
    /// instead of reading the files.
    fn wants_urls(&self) -> bool {
        false
    }

    /// One result per input, in order: a vector, or why that input failed. Remote
    /// services fail single inputs of a batch (a PAI-EAS GME reply with `status_code`
    /// 204, an image that cannot be decoded) while the rest succeed; a job records those
    /// files as failed and keeps the others, instead of losing or retrying the batch.
    /// The outer error is for failures of the whole call (unreachable, refused). The
    /// default suits embedders that fail as a whole.
    async fn embed_each(&self, inputs: &[EmbedInput]) -> Result<Vec<Result<Vec<f32>>>> {
        Ok(self.embed(inputs).await?.into_iter().map(Ok).collect())
    }
}

/// A tag definition: a guide prompt and the allowed tags with their descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSpec {
    /// Instructions for the model.
    pub prompt: String,
    /// Tag name → description.
    pub tags: BTreeMap<String, String>,
}

/// One tag a model gave an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// A name from the definition.
    pub name: String,
    /// How sure the model is, when it says.
    pub confidence: Option<f32>,
}

/// What a tagger returned for one image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tagging {
    /// Defined tags only.
    pub tags: Vec<Tag>,
    /// Names the model gave that the definition does not have: dropped, only counted.
    pub undefined_dropped: usize,
}

/// A model that tags images with the tags of a definition.
#[async_trait]
pub trait Tagger: Send + Sync + 'static {
    /// The model's name.
    fn model(&self) -> &str;
    /// Tags one encoded image.
    async fn tag(&self, image: Arc<Vec<u8>>, spec: &TagSpec) -> Result<Tagging>;

    /// Whether [`Tagger::tag_url`] works: see [`Embedder::wants_urls`].
    fn wants_urls(&self) -> bool {
        false
    }

    /// Tags the image at an http(s) URL that the model fetches itself.
    async fn tag_url(&self, _url: &str, _spec: &TagSpec) -> Result<Tagging> {
        Err(urls_not_accepted(self.model()))
    }
}

/// The error of a model given an image URL it cannot fetch: a fault of the caller,
/// which should have read the bytes since [`Embedder::wants_urls`] said no.
pub fn urls_not_accepted(model: &str) -> crate::Error {
    crate::Error::invalid(format!(
        "the model '{model}' does not fetch image URLs: send the image's bytes"
    ))
}

/// Opens the model behind an `EmbeddingModel` or `TaggingModel` connection; the service
/// holds one, so the domain depends on neither the local models nor the remote
/// connectors.
#[async_trait]
pub trait ModelOpener: Send + Sync + 'static {
    /// The embedder for these settings (`settings.kind` is `Embedding`). Opening does not
    /// call the model: embed something to prove it answers.
    async fn open_embedder(
        &self,
        settings: &crate::modelconn::ModelSettings,
    ) -> Result<Arc<dyn Embedder>>;
    /// The tagger for these settings (`settings.kind` is `Tagging`).
    async fn open_tagger(
        &self,
        settings: &crate::modelconn::ModelSettings,
    ) -> Result<Arc<dyn Tagger>>;

    /// Prepares and loads the in-process local model now, so that its first use does
    /// not wait for it; nothing for openers without one.
    async fn prepare_local(&self) -> Result<()> {
        Ok(())
    }
}
