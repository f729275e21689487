//! Semantic indexing in use: the embedder, vector store and index behind a dataset's
//! `IndexConfig`.

use std::sync::Arc;

use crate::dataset::{Dataset, IndexConfig};
use crate::ids::{ConnectionId, DatasetId, WorkspaceId};
use crate::model::Embedder;
use crate::vector::{IndexSpec, Metric, VectorStore};
use crate::vectordb::{Engine, VectorDbSettings};
use crate::version::VersionName;
use crate::{Error, ErrorCode, Result};

use super::Loupe;

/// Where a dataset's vectors go: opened adapters and names.
pub struct IndexTarget {
    /// The configuration as the dataset shows it.
    pub config: IndexConfig,
    /// The embedding model.
    pub embedder: Arc<dyn Embedder>,
    /// The vector database.
    pub vectors: Arc<dyn VectorStore>,
    /// The index's name in that database. The embedded store is shared by every
    /// workspace, so there the name carries the workspace id and no workspace can reach
    /// another's index by naming it.
    pub index: String,
}

impl IndexTarget {
    /// What the vectors of a file depend on apart from its bytes: `Increment` redoes a
    /// file when this changes.
    pub fn work_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.config.embedding_connection_id,
            self.embedder.model(),
            self.config.vector_connection_id,
            self.config.index_name
        )
    }

    /// Creates the index if needed. An index of another dimension fails here, before
    /// any file is read, with both numbers.
    pub async fn ensure(&self) -> Result<()> {
        let spec = IndexSpec {
            name: self.index.clone(),
            dim: self.embedder.dim(),
            metric: Metric::DotProduct,
        };
        self.vectors.ensure_index(&spec).await.map_err(|err| {
            let err = self.shown(err);
            if err.code() != ErrorCode::VectorDimensionMismatch {
                return err;
            }
            Error::new(
                ErrorCode::VectorDimensionMismatch,
                format!(
                    "{} The embedding model '{}' makes {}-dimensional vectors: set IndexConfig.IndexName to a new index, or use the index's model",
                    err.message(),
                    self.embedder.model(),
                    self.embedder.dim()
                ),
            )
        })
    }

    /// An adapter's error as the user should read it: with the index name they chose,
    /// not the store's internal one.
    pub fn shown(&self, err: Error) -> Error {
        if self.index == self.config.index_name || !err.message().contains(&self.index) {
            return err;
        }
        let message = err.message().replace(&self.index, &self.config.index_name);
        Error::new(err.code(), message)
    }
}

/// The index set of a dataset version: the seed schema's `index_set_id`.
pub fn index_set_id(dataset: &DatasetId, version: VersionName) -> String {
    format!("{dataset}/{version}")
}

impl Loupe {
    /// Opens what a dataset's index configuration names.
    pub async fn index_target(&self, ws: &WorkspaceId, dataset: &Dataset) -> Result<IndexTarget> {
        let config = dataset.index_config.clone();
        let embedder = self
            .embedder(ws, &ConnectionId::from_raw(&config.embedding_connection_id))
            .await?;
        let opened = self
            .open_connection(ws, &ConnectionId::from_raw(&config.vector_connection_id))
            .await?;
        let settings = VectorDbSettings::parse(&opened.connection.configs, &opened.secrets)?;
        let index = match settings.engine {
            Engine::Embedded => format!("{ws}__{}", config.index_name),
            _ => config.index_name.clone(),
        };
        let vectors = self.vector_opener.open(&settings).await?;
        Ok(IndexTarget {
            config,
            embedder,
            vectors,
            index,
        })
    }
}
