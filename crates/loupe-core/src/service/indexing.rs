//! Semantic indexing in use: the embedder, vector store and index behind a dataset's
//! `IndexConfig`, and the vector query that ranks a version's files by a text.

use std::sync::Arc;

use crate::auth::WorkspaceCtx;
use crate::dataset::{Dataset, IndexConfig};
use crate::ids::{ConnectionId, DatasetId, WorkspaceId};
use crate::model::{EmbedInput, Embedder};
use crate::page::{encode, Cursor, PageRequest};
use crate::vector::{IndexSpec, Metric, VectorQuery, VectorStore};
use crate::vectordb::{Engine, VectorDbSettings};
use crate::version::VersionName;
use crate::{Error, ErrorCode, Result};

use super::{FileMetaList, Loupe};

/// Most hits one vector query ranks.
pub const MAX_TOP_K: usize = 1000;
/// Hits a vector query ranks when `TopK` is not given.
pub const DEFAULT_TOP_K: usize = 10;
/// The list name vector-query page tokens carry (the token holds the offset).
pub const VECTOR_LIST: &str = "vector-hits";
/// Longest `QueryText`.
pub const MAX_QUERY_TEXT: usize = 2000;

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

    /// Ranks a version's indexed files by similarity to a text (`QueryType=VECTOR`):
    /// the top `top_k` by score, paged by `MaxResults`/`NextToken`.
    pub async fn vector_query(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        version: &str,
        text: &str,
        top_k: Option<u32>,
        page: &PageRequest,
    ) -> Result<FileMetaList> {
        let version: VersionName = version.parse()?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_QUERY_TEXT {
            return Err(Error::invalid(format!(
                "QueryText must be 1 to {MAX_QUERY_TEXT} characters for QueryType=VECTOR"
            )));
        }
        let top_k = match top_k {
            None => DEFAULT_TOP_K,
            Some(k) if k == 0 || k as usize > MAX_TOP_K => {
                return Err(Error::invalid(format!(
                    "TopK must be 1 to {MAX_TOP_K}, got {k}"
                )))
            }
            Some(k) => k as usize,
        };
        let ws = ctx.workspace_id();
        let (row, _) = self.store.version_row(ws, dataset, version).await?;
        let target_dataset = self.store.get_dataset(ws, dataset).await?;
        let target = self.index_target(ws, &target_dataset).await?;
        let vector = target
            .embedder
            .embed(&[EmbedInput::Text(text.to_string())])
            .await?
            .pop()
            .ok_or_else(|| Error::internal("embedding the query", "no vector returned"))?;
        let set = index_set_id(dataset, version);
        let query = VectorQuery {
            index_set_id: &set,
            vector: &vector,
            k: top_k,
            candidates: None,
        };
        let hits = match target.vectors.search(&target.index, &query).await {
            // Nothing was indexed yet: no hits rather than an error about an index the
            // user never named.
            Err(err) if err.code() == ErrorCode::VectorIndexNotFound => Vec::new(),
            other => other.map_err(|e| target.shown(e))?,
        };
        // Hits of files gone from the version (deleted since the last index run) drop out.
        let ids: Vec<String> = hits.iter().map(|h| h.file_meta_id.clone()).collect();
        let mut records: std::collections::HashMap<String, _> = self
            .store
            .file_metas_by_ids(row, &ids)
            .await?
            .into_iter()
            .map(|r| (r.file_id.clone(), r))
            .collect();
        let ranked: Vec<_> = hits
            .into_iter()
            .filter_map(|h| records.remove(&h.file_meta_id).map(|r| (r, Some(h.score))))
            .collect();
        let total = ranked.len();
        let offset = page
            .after
            .as_ref()
            .map_or(0, |c| usize::try_from(c.key).unwrap_or(0));
        let limit = page.limit as usize;
        let slice: Vec<_> = ranked.into_iter().skip(offset).take(limit).collect();
        let next = offset + slice.len();
        let next_token = (next < total).then(|| {
            encode(&Cursor::new(
                VECTOR_LIST,
                i64::try_from(next).unwrap_or(0),
                String::new(),
            ))
        });
        Ok(FileMetaList {
            items: self
                .present_all(ws, &target_dataset, version, row, slice)
                .await?,
            total_count: i64::try_from(total).unwrap_or(i64::MAX),
            next_token,
        })
    }
}
