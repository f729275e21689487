//! Model connections in use: the embedder or tagger behind a connection, and the
//! connection test that proves the model answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::connection::{ConnectionTestResult, ConnectionType, OpenedConnection};
use crate::ids::{ConnectionId, WorkspaceId};
use crate::model::{EmbedInput, Embedder, TagSpec, Tagger};
use crate::modelconn::{ModelKind, ModelSettings, Provider};
use crate::{Category, Error, ErrorCode, Result};

use super::Loupe;

/// What the embedding test sends: short, so it costs the provider next to nothing.
const TEST_TEXT: &str = "a photo of a cat";

/// The settings a connection gives a model of `kind`. A local embedding connection
/// (such as the built-in `local-model`) also tags: the local tagger is zero-shot on the
/// local embedder.
fn settings_for(opened: &OpenedConnection, kind: ModelKind) -> Result<ModelSettings> {
    let c = &opened.connection;
    match (c.connection_type, kind) {
        (ConnectionType::EmbeddingModel, ModelKind::Embedding) => {
            ModelSettings::parse(kind, &c.configs, &opened.secrets)
        }
        (ConnectionType::TaggingModel, ModelKind::Tagging) => {
            ModelSettings::parse(kind, &c.configs, &opened.secrets)
        }
        (ConnectionType::EmbeddingModel, ModelKind::Tagging) => {
            let mut settings =
                ModelSettings::parse(ModelKind::Embedding, &c.configs, &opened.secrets)?;
            if settings.provider != Provider::Local {
                return Err(not_a_model(c.connection_name.as_str(), "a TaggingModel"));
            }
            settings.kind = ModelKind::Tagging;
            settings.dimension = None;
            Ok(settings)
        }
        (_, ModelKind::Embedding) => Err(not_a_model(&c.connection_name, "an EmbeddingModel")),
        (_, ModelKind::Tagging) => Err(not_a_model(
            &c.connection_name,
            "a TaggingModel or a local EmbeddingModel",
        )),
    }
}

fn not_a_model(name: &str, wanted: &str) -> Error {
    Error::invalid(format!(
        "connection '{name}' is not {wanted} connection: pick one that is"
    ))
}

/// A tiny opaque image for the tagging test.
fn test_image() -> Result<Arc<Vec<u8>>> {
    let image = image::RgbImage::from_pixel(16, 16, image::Rgb([200, 200, 200]));
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| Error::internal("encoding the test image", e))?;
    Ok(Arc::new(png.into_inner()))
}

impl Loupe {
    /// The embedder behind an `EmbeddingModel` connection of the workspace, for jobs
    /// and searches.
    pub async fn embedder(&self, ws: &WorkspaceId, id: &ConnectionId) -> Result<Arc<dyn Embedder>> {
        let opened = self.open_connection(ws, id).await?;
        let settings = settings_for(&opened, ModelKind::Embedding)?;
        self.model_opener.open_embedder(&settings).await
    }

    /// The tagger behind a `TaggingModel` connection, or the zero-shot tagger of a local
    /// `EmbeddingModel` connection such as `local-model`, for jobs; `model` replaces the
    /// connection's `Model` (a job's `ModelName`).
    pub async fn tagger(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        model: Option<&str>,
    ) -> Result<Arc<dyn Tagger>> {
        let opened = self.open_connection(ws, id).await?;
        let mut settings = settings_for(&opened, ModelKind::Tagging)?;
        if let Some(model) = model {
            settings.model = Some(model.to_string());
        }
        self.model_opener.open_tagger(&settings).await
    }

    /// Prepares and loads the local model (at server start).
    pub async fn prepare_local_model(&self) -> Result<()> {
        self.model_opener.prepare_local().await
    }

    /// Fails unless the connection can tag (a `TaggingModel`, or a local `EmbeddingModel`);
    /// nothing is loaded or called.
    pub(super) async fn check_tagging_connection(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<()> {
        let opened = self.open_connection(ws, id).await?;
        settings_for(&opened, ModelKind::Tagging).map(drop)
    }

    pub(super) async fn test_model(
        &self,
        opened: &OpenedConnection,
    ) -> Result<ConnectionTestResult> {
        let kind = match opened.connection.connection_type {
            ConnectionType::TaggingModel => ModelKind::Tagging,
            _ => ModelKind::Embedding,
        };
        let settings = settings_for(opened, kind)?;
        let who = format!(
            "{} model '{}'",
            settings.provider.as_str(),
            settings.model_name()
        );
        let tried = match kind {
            ModelKind::Embedding => self.try_embedder(&settings).await,
            ModelKind::Tagging => self.try_tagger(&settings).await,
        };
        match tried {
            Ok(what) => Ok(ConnectionTestResult {
                reachable: true,
                can_list: false,
                message: format!("{who} answered: {what}"),
            }),
            // A fault of ours is a 500, with its detail in the log only.
            Err(err) if err.category() == Category::Internal => Err(err),
            // The connectors' messages name the setting to fix and never the key.
            Err(err) => Ok(ConnectionTestResult {
                reachable: err.code() == ErrorCode::ModelError,
                can_list: false,
                message: format!("{who}: {}", err.message()),
            }),
        }
    }

    async fn try_embedder(&self, settings: &ModelSettings) -> Result<String> {
        let embedder = self.model_opener.open_embedder(settings).await?;
        let vectors = embedder
            .embed(&[EmbedInput::Text(TEST_TEXT.to_string())])
            .await?;
        let values = vectors.first().map_or(0, Vec::len);
        Ok(format!(
            "embedded a test text into {values} values (the connection declares {})",
            embedder.dim()
        ))
    }

    async fn try_tagger(&self, settings: &ModelSettings) -> Result<String> {
        let tagger = self.model_opener.open_tagger(settings).await?;
        let spec = TagSpec {
            prompt: "Tag the image.".to_string(),
            tags: BTreeMap::from([("gray".to_string(), "a plain gray image".to_string())]),
        };
        let tagging = tagger.tag(test_image()?, &spec).await?;
        Ok(format!("tagged a test image ({} tags)", tagging.tags.len()))
    }
}
