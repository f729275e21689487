//! Search (PAI's `ListDatasetFileMetas`): the plan of [`crate::search`] run against the
//! store and the vector index.
//!
//! - without a ranking, the store pages through the files that pass the filter (from its
//!   in-memory index of a large version, else through SQL), with a keyset cursor in the
//!   requested order;
//! - with one (`QueryText`, `QueryImage`, `Content:`), the store first computes the
//!   filter's candidate set and the vector store ranks exactly those files, so a filtered top-k
//!   never misses a hit that exists; past [`MAX_CANDIDATES`] the store ranks the whole
//!   version with a tenfold over-fetch and the filter is applied to those hits, widening
//!   tenfold again while too few pass (a query about what the filter excludes) and the
//!   store has more, up to the store's largest `k` (none for the embedded store, so
//!   there a filtered top-k stays exact). Hits are joined with the version's
//!   file metas (a hit whose file left the version drops out), cut at `ScoreThreshold`,
//!   and paged by offset.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;

use crate::auth::WorkspaceCtx;
use crate::dataset::Dataset;
use crate::file_meta::FileMetaRecord;
use crate::ids::{DatasetId, WorkspaceId};
use crate::model::EmbedInput;
use crate::page::{encode, Cursor, PageRequest};
use crate::query::Expr;
use crate::search::{Probe, SearchRequest, VectorPart};
use crate::vector::VectorQuery;
use crate::version::VersionName;
use crate::{Error, ErrorCode, Result};

use super::indexing::{index_set_id, IndexTarget};
use super::{check_workspace_param, FileMetaList, Loupe};

/// Most hits one ranked search returns.
pub const MAX_TOP_K: u32 = 1000;
/// Hits a ranked search returns when `TopK` is not given.
pub const DEFAULT_TOP_K: u32 = 10;
/// The list name page tokens of ranked searches carry (the token holds the offset).
pub const VECTOR_LIST: &str = "vector-hits";
/// Largest candidate set handed to the vector store; beyond it the store over-fetches.
pub const MAX_CANDIDATES: usize = 200_000;
/// Largest uploaded query image, decoded.
pub const MAX_QUERY_IMAGE_BYTES: usize = 8 << 20;
/// Hits fetched per wanted hit when the filter's set is too large to hand over.
const OVERFETCH: usize = 10;

impl Loupe {
    /// Runs a search over one version of a dataset.
    pub async fn search(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        request: &SearchRequest,
    ) -> Result<FileMetaList> {
        check_workspace_param(ctx, request.workspace_id.as_deref())?;
        let plan = request.plan()?;
        let version: VersionName = request.dataset_version.parse()?;
        let ws = ctx.workspace_id();
        let (row, _) = self.store.version_row(ws, dataset, version).await?;
        let target = self.store.get_dataset(ws, dataset).await?;
        let Some(vector) = plan.vector else {
            let page = PageRequest::parse(
                plan.sort.list_name(),
                request.max_results,
                request.next_token.as_deref(),
            )?;
            let found = self
                .store
                .search_file_metas(ws, row, plan.filter.as_ref(), plan.sort, plan.order, &page)
                .await?;
            let hits = found.items.into_iter().map(|r| (r, None)).collect();
            return Ok(FileMetaList {
                items: self.present_all(ws, &target, version, row, hits).await?,
                total_count: found.total_count,
                next_token: found.next_token,
            });
        };
        let page = PageRequest::parse(
            VECTOR_LIST,
            request.max_results,
            request.next_token.as_deref(),
        )?;
        let ranked = self
            .rank(ws, &target, version, row, &vector, plan.filter.as_ref())
            .await?;
        let total = ranked.len();
        let offset = page
            .after
            .as_ref()
            .map_or(0, |c| usize::try_from(c.key).unwrap_or(0));
        let slice: Vec<_> = ranked
            .into_iter()
            .skip(offset)
            .take(page.limit as usize)
            .collect();
        let next = offset + slice.len();
        let next_token = (next < total).then(|| {
            encode(&Cursor::new(
                VECTOR_LIST,
                i64::try_from(next).unwrap_or(0),
                String::new(),
            ))
        });
        Ok(FileMetaList {
            items: self.present_all(ws, &target, version, row, slice).await?,
            total_count: i64::try_from(total).unwrap_or(i64::MAX),
            next_token,
        })
    }

    /// The version's files ranked by the probe within the filter, best first.
    async fn rank(
        &self,
        ws: &WorkspaceId,
        dataset: &Dataset,
        version: VersionName,
        row: i64,
        vector: &VectorPart,
        filter: Option<&Expr>,
    ) -> Result<Vec<(FileMetaRecord, Option<f32>)>> {
        let top_k = match vector.top_k {
            None => DEFAULT_TOP_K,
            Some(k) if k == 0 || k > MAX_TOP_K => {
                return Err(Error::invalid(format!(
                    "TopK must be 1 to {MAX_TOP_K}, got {k}"
                )))
            }
            Some(k) => k,
        } as usize;
        let target = self.index_target(ws, dataset).await?;
        let (query_vector, own_file) = self
            .probe_vector(ws, dataset, &target, row, &vector.probe)
            .await?;
        let excluded = own_file.filter(|_| vector.exclude_query_image);
        let wanted = top_k + usize::from(excluded.is_some());
        let max_candidates = self.settings.max_search_candidates;
        let candidates = match filter {
            Some(filter) => {
                let ids = self
                    .store
                    .filtered_file_ids(row, filter, None, max_candidates + 1)
                    .await?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                (ids.len() <= max_candidates).then_some(ids)
            }
            None => None,
        };
        let set = index_set_id(&dataset.dataset_id, version);
        let over_fetching = candidates.is_none() && filter.is_some();
        let max_k = target.vectors.max_k().unwrap_or(usize::MAX).max(wanted);
        let mut k = match over_fetching {
            true => wanted.saturating_mul(OVERFETCH).min(max_k),
            false => wanted,
        };
        let threshold = vector.score_threshold;
        loop {
            let query = VectorQuery {
                index_set_id: &set,
                vector: &query_vector,
                k,
                candidates: candidates.as_deref(),
            };
            let hits = match target.vectors.search(&target.index, &query).await {
                // Nothing indexed yet: no hits, not an error about an index nobody named.
                Err(err) if err.code() == ErrorCode::VectorIndexNotFound => Vec::new(),
                other => other.map_err(|e| target.shown(e))?,
            };
            // The store had no more, or the rest score below the threshold.
            let exhausted = hits.len() < k
                || threshold.is_some_and(|t| hits.last().is_some_and(|h| f64::from(h.score) <= t));
            let ids: Vec<String> = hits.iter().map(|h| h.file_meta_id.clone()).collect();
            // Over-fetched hits still have to pass the filter.
            let allowed: Option<HashSet<String>> = match (over_fetching, filter) {
                (true, Some(filter)) => Some(
                    self.store
                        .filtered_file_ids(row, filter, Some(&ids), ids.len())
                        .await?
                        .into_iter()
                        .collect(),
                ),
                _ => None,
            };
            let mut records: HashMap<String, FileMetaRecord> = self
                .store
                .file_metas_by_ids(row, &ids)
                .await?
                .into_iter()
                .map(|r| (r.file_id.clone(), r))
                .collect();
            let found: Vec<(FileMetaRecord, Option<f32>)> = hits
                .into_iter()
                .filter(|h| excluded.as_deref() != Some(h.file_meta_id.as_str()))
                .filter(|h| allowed.as_ref().is_none_or(|a| a.contains(&h.file_meta_id)))
                .filter(|h| threshold.is_none_or(|t| f64::from(h.score) > t))
                .filter_map(|h| records.remove(&h.file_meta_id).map(|r| (r, Some(h.score))))
                .take(top_k)
                .collect();
            if found.len() == top_k || exhausted || !over_fetching || k >= max_k {
                return Ok(found);
            }
            k = k.saturating_mul(OVERFETCH).min(max_k);
        }
    }

    /// The query vector, and the file the probe image is, when it is one of the version's.
    async fn probe_vector(
        &self,
        ws: &WorkspaceId,
        dataset: &Dataset,
        target: &IndexTarget,
        row: i64,
        probe: &Probe,
    ) -> Result<(Vec<f32>, Option<String>)> {
        let (input, own) = match probe {
            Probe::Text(text) => (EmbedInput::Text(text.clone()), None),
            Probe::Image(image) => {
                let (bytes, own) = self.query_image(ws, dataset, row, image).await?;
                (EmbedInput::Image(Arc::new(bytes)), own)
            }
        };
        let vector = target
            .embedder
            .embed(&[input])
            .await?
            .pop()
            .ok_or_else(|| Error::internal("embedding the query", "no vector returned"))?;
        Ok((vector, own))
    }

    /// `QueryImage`: an uploaded `data:` URI, or a file of the version by id or URI.
    async fn query_image(
        &self,
        ws: &WorkspaceId,
        dataset: &Dataset,
        row: i64,
        image: &str,
    ) -> Result<(Vec<u8>, Option<String>)> {
        if let Some(data) = image.strip_prefix("data:") {
            let (_, payload) = data.split_once(";base64,").ok_or_else(|| {
                Error::invalid("QueryImage as an upload must be data:image/…;base64,…")
            })?;
            if payload.len() > MAX_QUERY_IMAGE_BYTES / 3 * 4 + 4 {
                return Err(Error::new(
                    ErrorCode::PayloadTooLarge,
                    format!("QueryImage is larger than {MAX_QUERY_IMAGE_BYTES} bytes"),
                ));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(payload.trim())
                .map_err(|e| Error::invalid(format!("QueryImage is not valid base64: {e}")))?;
            return Ok((bytes, None));
        }
        let record = match self.store.file_meta_by_uri(row, image).await? {
            Some(record) => record,
            None => self
                .store
                .file_metas_by_ids(row, &[image.to_string()])
                .await?
                .pop()
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::DatasetFileMetaNotFound,
                        format!(
                            "QueryImage '{image}' is neither a file meta id nor a Uri of this version, nor a data: upload"
                        ),
                    )
                })?,
        };
        let storage = self.open_dataset_storage(ws, dataset).await?;
        let bytes = storage
            .get(&record.key, MAX_QUERY_IMAGE_BYTES as u64)
            .await
            .map_err(Error::from)?;
        Ok((bytes.to_vec(), Some(record.file_id)))
    }
}
