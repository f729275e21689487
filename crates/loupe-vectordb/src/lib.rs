//! Adapters from Loupe's [`VectorStore`] port to the vector databases users run:
//! pgvector (and the Postgres-compatible Hologres), Milvus ≥ 2.4, Elasticsearch ≥ 8.x
//! and OpenSearch (and Lindorm's vector engine, which speaks its k-NN API).
//!
//! Every adapter keeps the seed guide's record schema (`id`, `index_set_id`,
//! `file_meta_id`, `dataset_id`, `dataset_version`, `uri`, `file_vector`), batches its
//! writes, bounds each request by the connection's timeout, retries 429, 5xx and
//! transport failures with backoff, and answers `VectorStoreUnavailable` when the server
//! stays down and `VectorDimensionMismatch` when a vector does not fit the index.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use loupe_core::vector::{VectorStore, VectorStoreOpener};
use loupe_core::vectordb::{Engine, VectorDbSettings};
use loupe_core::{Error, Result};
use loupe_vector::EmbeddedVectorStore;
use tokio::sync::OnceCell;

#[cfg(feature = "elasticsearch")]
pub mod elastic;
#[cfg(feature = "milvus")]
pub mod milvus;
#[cfg(feature = "opensearch")]
pub mod opensearch;
pub mod pgvector;
pub mod retry;
#[cfg(any(feature = "elasticsearch", feature = "opensearch"))]
mod search_engine;

/// Opens the adapter for a parsed connection to a server. The embedded engine is one
/// store per process: [`Opener`] holds it.
pub async fn open(settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
    match settings.engine {
        Engine::Pgvector => pgvector::open(settings).await,
        #[cfg(feature = "milvus")]
        Engine::Milvus => milvus::open(settings).await,
        #[cfg(feature = "elasticsearch")]
        Engine::Elasticsearch => elastic::open(settings),
        #[cfg(feature = "opensearch")]
        Engine::OpenSearch => opensearch::open(settings),
        Engine::Embedded => Err(Error::invalid(
            "the embedded engine is the built-in embedded-vectors connection: use its ConnectionId",
        )),
        // Unreachable exactly when every adapter is built, so the expectation holds
        // there and slim builds need none.
        #[cfg_attr(
            all(feature = "milvus", feature = "elasticsearch", feature = "opensearch"),
            expect(
                unreachable_patterns,
                reason = "reached only in builds without some adapters"
            )
        )]
        other => Err(Error::invalid(format!(
            "this Loupe build has no {} adapter: build it with the '{}' feature",
            other.as_str(),
            other.as_str()
        ))),
    }
}

/// The service's port to these adapters: opens the one a connection's engine names, and
/// the embedded store under its folder, opened once on first use and shared by every
/// workspace's `embedded-vectors` connection (clones share it too).
#[derive(Debug, Clone)]
pub struct Opener {
    embedded_dir: PathBuf,
    embedded: Arc<OnceCell<Arc<EmbeddedVectorStore>>>,
}

impl Opener {
    /// An opener whose embedded store lives in `embedded_dir` (`$LOUPE_DATA_DIR/vectors`).
    pub fn new(embedded_dir: impl Into<PathBuf>) -> Self {
        Self {
            embedded_dir: embedded_dir.into(),
            embedded: Arc::new(OnceCell::new()),
        }
    }

    async fn embedded(&self) -> Result<Arc<dyn VectorStore>> {
        let store = self
            .embedded
            .get_or_try_init(|| async {
                let dir = self.embedded_dir.clone();
                // Opening reads every index's manifest from disk.
                tokio::task::spawn_blocking(move || EmbeddedVectorStore::open(&dir))
                    .await
                    .map_err(|e| Error::internal("opening the embedded vector store", e))?
                    .map(Arc::new)
            })
            .await?;
        Ok(Arc::clone(store) as Arc<dyn VectorStore>)
    }
}

#[async_trait]
impl VectorStoreOpener for Opener {
    async fn open(&self, settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
        match settings.engine {
            Engine::Embedded => self.embedded().await,
            _ => crate::open(settings).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use loupe_core::vector::{IndexSpec, Metric};

    use super::*;

    #[tokio::test]
    async fn the_embedded_store_is_opened_once_and_shared() {
        let dir = tempfile::tempdir().unwrap();
        let opener = Opener::new(dir.path().join("vectors"));
        let settings = VectorDbSettings::parse(
            &BTreeMap::from([("Engine".to_string(), "embedded".to_string())]),
            &BTreeMap::new(),
        )
        .unwrap();
        let first = opener.open(&settings).await.unwrap();
        let spec = IndexSpec {
            name: "shared".into(),
            dim: 4,
            metric: Metric::DotProduct,
        };
        first.ensure_index(&spec).await.unwrap();
        // A clone (as each service handle holds) reaches the same store.
        let second = opener.clone().open(&settings).await.unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(second.count("shared", "any").await.unwrap(), 0);
        assert!(dir.path().join("vectors").is_dir());
        // The free function only opens servers.
        assert!(open(&settings).await.is_err());
    }
}
