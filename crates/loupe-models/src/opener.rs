//! The service's port to every model. The local provider opens the in-process model
//! its `Configs.Model` names: the built-in ConSE model when empty (prepared under the
//! data folder on first use), else a CLIP-family model from a folder or from the
//! Hugging Face hub. Each local model is loaded once and shared by every connection and
//! workspace that names it. The remote providers open `loupe-connectors`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use loupe_core::model::{Embedder, ModelOpener, Tagger};
use loupe_core::modelconn::{LocalModel, ModelSettings, Provider};
use loupe_core::{Error, ErrorCode, Result};
use tokio::sync::OnceCell;

use crate::hf_hub::{self, HubError};
use crate::local_clip::LocalClip;
use crate::LocalConse;

type Shared<T> = Arc<OnceCell<Arc<T>>>;

/// Opens model connections; clones share the loaded local models.
#[derive(Clone)]
pub struct ModelHub {
    data_dir: PathBuf,
    hub_endpoint: String,
    local: Shared<LocalConse>,
    /// By `Configs.Model`; a failed load leaves its cell empty, so the next use retries.
    clips: Arc<Mutex<HashMap<String, Shared<LocalClip>>>>,
}

impl std::fmt::Debug for ModelHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHub")
            .field("data_dir", &self.data_dir)
            .field("hub_endpoint", &self.hub_endpoint)
            .field("local_prepared", &self.local.initialized())
            .finish()
    }
}

impl ModelHub {
    /// A hub whose local models are cached under `data_dir/models` (see
    /// [`crate::prepare`]; `LOUPE_CONSE_MODEL_DIR` points elsewhere), with hub models
    /// fetched from `HF_ENDPOINT` or huggingface.co. Nothing is prepared, downloaded or
    /// loaded until a local connection is first used, so a server that only uses remote
    /// models never downloads one.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let endpoint = std::env::var(hf_hub::ENDPOINT_ENV)
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| hf_hub::DEFAULT_ENDPOINT.into());
        Self {
            data_dir: data_dir.into(),
            hub_endpoint: endpoint,
            local: Arc::new(OnceCell::new()),
            clips: Arc::default(),
        }
    }

    /// Fetches hub models from `endpoint` (a mirror, or a test server) instead.
    pub fn with_hub_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.hub_endpoint = endpoint.into();
        self
    }

    /// The built-in model, prepared the first time.
    pub async fn local(&self) -> Result<Arc<LocalConse>> {
        self.local
            .get_or_try_init(|| async { LocalConse::open(&self.data_dir).await.map(Arc::new) })
            .await
            .cloned()
    }

    /// The CLIP model a local connection's `Configs.Model` names, loaded the first time.
    pub async fn clip(&self, model: &LocalModel) -> Result<Option<Arc<LocalClip>>> {
        let (key, folder) = match model {
            LocalModel::Builtin => return Ok(None),
            LocalModel::ClipFolder(dir) => (dir.display().to_string(), Some(dir)),
            LocalModel::ClipHub(repo) => (repo.clone(), None),
        };
        let cell = self
            .clips
            .lock()
            .expect("model cache lock")
            .entry(key.clone())
            .or_default()
            .clone();
        let clip = cell
            .get_or_try_init(|| async {
                let dir = match folder {
                    Some(dir) => dir.clone(),
                    None => self.download(&key).await?,
                };
                let loaded = LocalClip::load(dir, key.clone()).await;
                loaded
                    .map(Arc::new)
                    .map_err(|e| not_a_clip_model(&key, folder.is_some(), &e))
            })
            .await?;
        Ok(Some(clip.clone()))
    }

    async fn download(&self, repo: &str) -> Result<PathBuf> {
        let models = self.data_dir.join("models");
        hf_hub::fetch_model(&self.hub_endpoint, repo, &models)
            .await
            .map_err(|e| hub_error(repo, &models, e))
    }
}

fn not_a_clip_model(model: &str, is_folder: bool, cause: &candle_core::Error) -> Error {
    let fix = match is_folder {
        true => "point it at a CLIP model folder in the Hugging Face layout (config.json, model.safetensors, preprocessor_config.json, and tokenizer.json or vocab.json and merges.txt)",
        false => "name a CLIP model on the hub (model_type clip, with model.safetensors), or set it to a folder with such a model",
    };
    Error::with_cause(
        ErrorCode::InvalidParameter,
        format!("Configs.Model '{model}': {cause}; {fix}"),
        cause.to_string(),
    )
}

fn hub_error(repo: &str, models: &Path, e: HubError) -> Error {
    let message = match &e {
        HubError::Missing { .. } => format!("Configs.Model '{repo}': {e}"),
        HubError::Network { .. } => format!(
            "Configs.Model '{repo}': {e}; allow HTTPS to the hub or set {} to a mirror, or download the model folder by hand and set Model to its absolute path",
            hf_hub::ENDPOINT_ENV
        ),
        HubError::Io { .. } => {
            return Error::internal(format!("caching hub model {repo} under {}", models.display()), e)
        }
    };
    let code = match e {
        HubError::Network { .. } => ErrorCode::ModelUnavailable,
        _ => ErrorCode::InvalidParameter,
    };
    Error::with_cause(code, message.clone(), message)
}

impl ModelHub {
    async fn open_local(&self, settings: &ModelSettings) -> Result<Local> {
        let model = settings.local_model()?;
        let Some(clip) = self.clip(&model).await? else {
            return Ok(Local::Conse(self.local().await?));
        };
        if let Some(declared) = settings.dimension.filter(|d| *d != clip.model().dim) {
            return Err(Error::invalid(format!(
                "Configs.Dimension is {declared} but model '{}' makes vectors of {}: fix or remove Dimension",
                settings.model_name(),
                clip.model().dim
            )));
        }
        Ok(Local::Clip(clip))
    }
}

enum Local {
    Conse(Arc<LocalConse>),
    Clip(Arc<LocalClip>),
}

#[async_trait]
impl ModelOpener for ModelHub {
    async fn open_embedder(&self, settings: &ModelSettings) -> Result<Arc<dyn Embedder>> {
        if settings.provider != Provider::Local {
            return loupe_connectors::open_embedder(settings);
        }
        Ok(match self.open_local(settings).await? {
            Local::Conse(m) => m as Arc<dyn Embedder>,
            Local::Clip(m) => m as Arc<dyn Embedder>,
        })
    }

    async fn open_tagger(&self, settings: &ModelSettings) -> Result<Arc<dyn Tagger>> {
        if settings.provider != Provider::Local {
            return loupe_connectors::open_tagger(settings);
        }
        Ok(match self.open_local(settings).await? {
            Local::Conse(m) => m as Arc<dyn Tagger>,
            Local::Clip(m) => m as Arc<dyn Tagger>,
        })
    }

    async fn prepare_local(&self) -> Result<()> {
        self.local().await?.model().await.map(drop)
    }
}
