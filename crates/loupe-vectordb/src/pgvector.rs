//! pgvector adapter: being written.

use std::sync::Arc;

use loupe_core::vector::VectorStore;
use loupe_core::vectordb::VectorDbSettings;
use loupe_core::{Error, Result};

/// Opens the adapter.
pub async fn open(_settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
    Err(Error::invalid("pgvector: not written yet"))
}
