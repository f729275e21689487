//! The vector store port: where image embeddings live and are ranked by dot product.
//! Records follow the seed guide's index schema (`id`, `index_set_id`, `file_meta_id`,
//! `dataset_id`, `dataset_version`, `uri`, `file_vector`), so an index a user created
//! for PAI works unchanged. Adapters: the embedded store (`loupe-vector`) now; pgvector,
//! Milvus and Elasticsearch/OpenSearch with the rest of the vector-store work.

use async_trait::async_trait;

use crate::{Error, ErrorCode, Result};

/// How scores are computed. Cosine stores are fed normalised vectors and score by dot product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Inner product.
    DotProduct,
    /// Cosine similarity on normalised vectors.
    Cosine,
}

/// An index: a name, a dimension and a metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// The index name (one per embedding model and store).
    pub name: String,
    /// Values per vector.
    pub dim: usize,
    /// The metric.
    pub metric: Metric,
}

/// One vector with the seed schema's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRecord {
    /// Record id (unique within the index).
    pub id: String,
    /// The index set: one dataset version embedded by one model.
    pub index_set_id: String,
    /// The file meta the vector belongs to.
    pub file_meta_id: String,
    /// The dataset.
    pub dataset_id: String,
    /// The version, e.g. `v1`.
    pub dataset_version: String,
    /// The file's URI.
    pub uri: String,
    /// The embedding.
    pub file_vector: Vec<f32>,
}

/// A search.
#[derive(Debug, Clone, Copy)]
pub struct VectorQuery<'a> {
    /// Only vectors of this index set.
    pub index_set_id: &'a str,
    /// The query embedding.
    pub vector: &'a [f32],
    /// How many hits at most.
    pub k: usize,
    /// Only these file metas (the candidates SQL filters left), when given.
    pub candidates: Option<&'a [String]>,
}

/// One hit.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorHit {
    /// The file meta.
    pub file_meta_id: String,
    /// Its score (higher is closer).
    pub score: f32,
}

/// A vector database.
#[async_trait]
pub trait VectorStore: Send + Sync + 'static {
    /// Creates the index if missing; `VectorDimensionMismatch` if it exists with another dimension.
    async fn ensure_index(&self, spec: &IndexSpec) -> Result<()>;
    /// Inserts or replaces records (by `id`).
    async fn upsert(&self, index: &str, records: &[VectorRecord]) -> Result<()>;
    /// Deletes the given file metas of an index set, or the whole set when `file_meta_ids` is `None`.
    async fn delete(
        &self,
        index: &str,
        index_set_id: &str,
        file_meta_ids: Option<&[String]>,
    ) -> Result<()>;
    /// The `k` best hits, best first.
    async fn search(&self, index: &str, query: &VectorQuery<'_>) -> Result<Vec<VectorHit>>;
    /// Vectors in an index set.
    async fn count(&self, index: &str, index_set_id: &str) -> Result<usize>;
    /// Removes an index and everything in it.
    async fn drop_index(&self, index: &str) -> Result<()>;
    /// Proves the store answers and accepts the credentials (the connection test action):
    /// one cheap authenticated request. Embedded stores are always there.
    async fn check(&self) -> Result<()> {
        Ok(())
    }
    /// The largest `k` one search may ask for, `None` without a limit. Servers cap it
    /// (Elasticsearch's `knn` at 10,000, Milvus at 16,384); the default is the smallest.
    fn max_k(&self) -> Option<usize> {
        Some(10_000)
    }
}

/// Opens the adapter of a `VectorDatabase` connection; the service holds one, so the
/// domain does not depend on the adapters.
#[async_trait]
pub trait VectorStoreOpener: Send + Sync + 'static {
    /// The store for these settings. Opening may or may not connect: call
    /// [`VectorStore::check`] to prove the server answers.
    async fn open(
        &self,
        settings: &crate::vectordb::VectorDbSettings,
    ) -> Result<std::sync::Arc<dyn VectorStore>>;
}

/// The error for a vector of the wrong length.
pub fn dimension_mismatch(index: &str, expected: usize, got: usize) -> Error {
    Error::new(
        ErrorCode::VectorDimensionMismatch,
        format!("index '{index}' holds {expected}-dimensional vectors, got {got}: use the index's embedding model"),
    )
}

/// The error for a missing index.
pub fn index_not_found(index: &str) -> Error {
    Error::new(
        ErrorCode::VectorIndexNotFound,
        format!("vector index '{index}' not found"),
    )
}

/// The error for a vector database that refused a request (bad settings, credentials or
/// mapping): `what` names the operation and the server's reason, never a secret.
pub fn refused(store: &str, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::VectorStoreError,
        format!("{store} refused the request: {what}"),
    )
}

/// The error for a vector database that is down or timed out after the retries.
pub fn unavailable(
    store: &str,
    cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::with_cause(
        ErrorCode::VectorStoreUnavailable,
        format!("the vector database ({store}) is unavailable, retry later"),
        cause,
    )
}
