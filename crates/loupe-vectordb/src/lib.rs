//! Adapters from Loupe's [`VectorStore`] port to the vector databases users run:
//! pgvector (and the Postgres-compatible Hologres), Milvus ≥ 2.4, Elasticsearch ≥ 8.x
//! and OpenSearch (and Lindorm's vector engine, which speaks its k-NN API).
//!
//! Every adapter keeps the seed guide's record schema (`id`, `index_set_id`,
//! `file_meta_id`, `dataset_id`, `dataset_version`, `uri`, `file_vector`), batches its
//! writes, bounds each request by the connection's timeout, retries 429, 5xx and
//! transport failures with backoff, and answers `VectorStoreUnavailable` when the server
//! stays down and `VectorDimensionMismatch` when a vector does not fit the index.

use std::sync::Arc;

use async_trait::async_trait;
use loupe_core::vector::{VectorStore, VectorStoreOpener};
use loupe_core::vectordb::{Engine, VectorDbSettings};
use loupe_core::{Error, Result};

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

/// Opens the adapter for a parsed connection.
pub async fn open(settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
    match settings.engine {
        Engine::Pgvector => pgvector::open(settings).await,
        #[cfg(feature = "milvus")]
        Engine::Milvus => milvus::open(settings).await,
        #[cfg(feature = "elasticsearch")]
        Engine::Elasticsearch => elastic::open(settings),
        #[cfg(feature = "opensearch")]
        Engine::OpenSearch => opensearch::open(settings),
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

/// The service's port to these adapters: opens the one a connection's engine names.
#[derive(Debug, Clone, Copy, Default)]
pub struct Opener;

#[async_trait]
impl VectorStoreOpener for Opener {
    async fn open(&self, settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
        crate::open(settings).await
    }
}
