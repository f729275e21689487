//! The service's port to every model: the local provider opens the one in-process
//! ConSE model (prepared under the data folder on first use, then shared by every
//! connection and workspace), the remote providers open `loupe-connectors`.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use loupe_core::model::{Embedder, ModelOpener, Tagger};
use loupe_core::modelconn::{ModelSettings, Provider};
use loupe_core::Result;
use tokio::sync::OnceCell;

use crate::LocalConse;

/// Opens model connections; clones share the local model.
#[derive(Clone)]
pub struct ModelHub {
    data_dir: PathBuf,
    local: Arc<OnceCell<Arc<LocalConse>>>,
}

impl std::fmt::Debug for ModelHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHub")
            .field("data_dir", &self.data_dir)
            .field("local_prepared", &self.local.initialized())
            .finish()
    }
}

impl ModelHub {
    /// A hub whose local model is cached under `data_dir/models` (see [`crate::prepare`];
    /// `LOUPE_CONSE_MODEL_DIR` points elsewhere). Nothing is prepared or loaded until a
    /// local connection is first used, so a server that only uses remote models never
    /// downloads it.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            local: Arc::new(OnceCell::new()),
        }
    }

    /// The local model, prepared the first time.
    pub async fn local(&self) -> Result<Arc<LocalConse>> {
        self.local
            .get_or_try_init(|| async { LocalConse::open(&self.data_dir).await.map(Arc::new) })
            .await
            .cloned()
    }
}

#[async_trait]
impl ModelOpener for ModelHub {
    async fn open_embedder(&self, settings: &ModelSettings) -> Result<Arc<dyn Embedder>> {
        match settings.provider {
            Provider::Local => Ok(self.local().await? as Arc<dyn Embedder>),
            _ => loupe_connectors::open_embedder(settings),
        }
    }

    async fn open_tagger(&self, settings: &ModelSettings) -> Result<Arc<dyn Tagger>> {
        match settings.provider {
            Provider::Local => Ok(self.local().await? as Arc<dyn Tagger>),
            _ => loupe_connectors::open_tagger(settings),
        }
    }
}
