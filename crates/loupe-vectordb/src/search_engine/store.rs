//! The [`VectorStore`] both engines share: everything but the vector field and the
//! vector queries, which come from the [`Dialect`].

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use async_trait::async_trait;
use loupe_core::vector::{
    dimension_mismatch, refused, unavailable, IndexSpec, VectorHit, VectorQuery, VectorRecord,
    VectorStore,
};
use loupe_core::{Error, Result};
use serde_json::Value;

use super::{
    body, reply, Dialect, FileMetaField, IndexInfo, Method, Reply, Request, Wire, MAX_WINDOW,
};
use crate::retry::{retryable_status, with_retries, Attempt};

/// A vector store on an Elasticsearch-like engine.
pub(crate) struct SearchEngineStore<W, D> {
    wire: W,
    dialect: D,
    max_retries: u32,
    /// Dimension and `file_meta_id` mapping per index, read once from the server.
    indexes: RwLock<HashMap<String, IndexInfo>>,
}

/// `(file_meta_id, raw dot product)`.
type Ranked = Vec<(String, f64)>;

impl<W: Wire, D: Dialect> SearchEngineStore<W, D> {
    pub(crate) fn new(wire: W, dialect: D, max_retries: u32) -> Self {
        Self {
            wire,
            dialect,
            max_retries,
            indexes: RwLock::new(HashMap::new()),
        }
    }

    /// Sends `request`, retrying transport failures, 429 and 5xx, and answers that
    /// `busy` calls so (a `_bulk` whose items were rejected with 429).
    async fn call_with(&self, request: Request, busy: fn(&Reply) -> bool) -> Result<Reply> {
        with_retries(self.max_retries, || async {
            match self.wire.send(&request).await {
                Err(cause) => Attempt::Retry(unavailable(D::NAME, cause), None),
                Ok(r) if retryable_status(r.status) || busy(&r) => {
                    let (kind, reason) = reply::type_and_reason(&r.body);
                    let cause = format!("HTTP {} {kind} {reason}", r.status);
                    Attempt::Retry(unavailable(D::NAME, cause.trim_end()), r.retry_after)
                }
                Ok(r) => Attempt::Ok(r),
            }
        })
        .await
    }

    async fn call(&self, request: Request) -> Result<Reply> {
        self.call_with(request, |_| false).await
    }

    fn cached(&self, index: &str) -> Option<IndexInfo> {
        let indexes = self.indexes.read().unwrap_or_else(|e| e.into_inner());
        indexes.get(index).cloned()
    }

    fn remember(&self, index: &str, info: Option<IndexInfo>) {
        let mut indexes = self.indexes.write().unwrap_or_else(|e| e.into_inner());
        match info {
            Some(info) => indexes.insert(index.to_string(), info),
            None => indexes.remove(index),
        };
    }

    /// The index's mapping as the store needs it, or `None` when there is no such index.
    async fn read_mapping(&self, index: &str) -> Result<Option<IndexInfo>> {
        let r = self
            .call(Request::new(Method::Get, format!("/{index}/_mapping")))
            .await?;
        if r.status == 404 {
            return Ok(None);
        }
        if r.status != 200 {
            return Err(reply::failure(D::NAME, index, "reading the mapping", &r));
        }
        let properties = reply::mapping_properties(&r.body).ok_or_else(|| {
            refused(
                D::NAME,
                format!("the mapping of '{index}' has no properties"),
            )
        })?;
        let field = properties.get("file_vector").ok_or_else(|| {
            refused(
                D::NAME,
                format!("index '{index}' has no 'file_vector' field: create it with the seed guide's mapping, or let Loupe create it"),
            )
        })?;
        let dims = self
            .dialect
            .vector_dims(index, field)
            .map_err(|why| refused(D::NAME, why))?;
        let info = IndexInfo {
            dims,
            file_meta: reply::file_meta_field(properties),
        };
        self.remember(index, Some(info.clone()));
        Ok(Some(info))
    }

    /// The index's mapping, from the cache or the server; `VectorIndexNotFound` if missing.
    async fn info(&self, index: &str) -> Result<IndexInfo> {
        if let Some(info) = self.cached(index) {
            return Ok(info);
        }
        self.read_mapping(index)
            .await?
            .ok_or_else(|| loupe_core::vector::index_not_found(index))
    }

    /// Any error of a reply, after dropping what the store knew of the index: a
    /// dimension error or a missing index means it was changed behind the store's back.
    fn failed(&self, index: &str, what: &str, r: &Reply) -> Error {
        self.remember(index, None);
        reply::failure(D::NAME, index, what, r)
    }

    /// One `_bulk` request; `wait_for` makes the caller wait until the next refresh
    /// has made the writes searchable.
    async fn bulk(&self, index: &str, lines: String, wait_for: bool) -> Result<()> {
        let mut request = Request::new(Method::Post, format!("/{index}/_bulk")).ndjson(lines);
        if wait_for {
            request = request.query("refresh", "wait_for");
        }
        let r = self
            .call_with(request, |r| {
                reply::bulk_failures(&r.body)
                    .iter()
                    .any(|(status, _)| *status == 429)
            })
            .await?;
        if r.status != 200 {
            return Err(self.failed(index, "bulk write", &r));
        }
        let failures = reply::bulk_failures(&r.body);
        let Some((_, first)) = failures.first() else {
            return Ok(());
        };
        let (kind, reason) = reply::type_and_reason(first);
        if let Some(err) = reply::dimension_error(index, &reason) {
            return Err(err);
        }
        Err(refused(
            D::NAME,
            format!(
                "{} of the documents written to '{index}' failed, the first with {kind}: {reason}",
                failures.len()
            ),
        ))
    }

    /// The hits of a search body as `(_id, file_meta_id, _score)`, and whether the
    /// server found more than it returned.
    async fn hits(&self, index: &str, search: Value) -> Result<(Vec<(String, String, f64)>, bool)> {
        let r = self
            .call(Request::new(Method::Post, format!("/{index}/_search")).json(search))
            .await?;
        if r.status != 200 {
            return Err(self.failed(index, "search", &r));
        }
        let hits = reply::hits(&r.body);
        let more = reply::total(&r.body).is_some_and(|t| t > hits.len() as u64);
        Ok((hits, more))
    }

    /// The exact top `k` among `candidates`, a chunk at a time so that no request
    /// exceeds the engines' term or clause limits.
    async fn exact(
        &self,
        index: &str,
        info: &IndexInfo,
        query: &VectorQuery<'_>,
        k: usize,
        candidates: &[String],
    ) -> Result<Ranked> {
        let mut ranked = Ranked::new();
        for chunk in candidates.chunks(body::chunk_len(&info.file_meta)) {
            let clauses = body::filter(query.index_set_id, Some(chunk), &info.file_meta);
            if info.file_meta == FileMetaField::Text {
                // A superset comes back (see `FileMetaField::Text`): take all of it and keep exact ids.
                let (hits, more) = self
                    .hits(
                        index,
                        self.dialect.exact(query.vector, MAX_WINDOW, &clauses),
                    )
                    .await?;
                if more {
                    return Err(too_many_lookalikes::<D>(index));
                }
                let wanted: HashSet<&str> = chunk.iter().map(String::as_str).collect();
                ranked.extend(
                    hits.into_iter()
                        .filter(|(_, file, _)| wanted.contains(file.as_str()))
                        .map(|(_, file, score)| (file, self.dialect.dot_from_exact(score))),
                );
            } else {
                let (hits, _) = self
                    .hits(index, self.dialect.exact(query.vector, k, &clauses))
                    .await?;
                ranked.extend(
                    hits.into_iter()
                        .map(|(_, file, score)| (file, self.dialect.dot_from_exact(score))),
                );
            }
        }
        Ok(ranked)
    }

    async fn delete_by_query(&self, index: &str, clauses: &[Value]) -> Result<()> {
        // `refresh=true`: `_delete_by_query` has no `wait_for`, and a search right
        // after a delete must not see the deleted vectors. `conflicts=proceed`: a
        // document rewritten meanwhile is not a reason to stop deleting the others.
        let request = Request::new(Method::Post, format!("/{index}/_delete_by_query"))
            .query("refresh", "true")
            .query("conflicts", "proceed")
            .json(body::query(clauses));
        let r = self.call(request).await?;
        if r.status != 200 {
            return Err(self.failed(index, "delete", &r));
        }
        match r.body.get("failures").and_then(Value::as_array) {
            Some(failures) if !failures.is_empty() => {
                let (kind, reason) = reply::type_and_reason(&failures[0]["cause"]);
                Err(refused(
                    D::NAME,
                    format!("deleting from '{index}' failed for {} documents, the first with {kind}: {reason}", failures.len()),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Deletes exactly `files` from a `text`-mapped `file_meta_id`: lists the
    /// look-alike superset, keeps the exact ids and deletes those by `_id`.
    async fn delete_text_mapped(
        &self,
        index: &str,
        index_set_id: &str,
        files: &[String],
    ) -> Result<()> {
        let field = FileMetaField::Text;
        for chunk in files.chunks(body::chunk_len(&field)) {
            let clauses = body::filter(index_set_id, Some(chunk), &field);
            let (hits, more) = self.hits(index, body::list(&clauses, MAX_WINDOW)).await?;
            if more {
                return Err(too_many_lookalikes::<D>(index));
            }
            let wanted: HashSet<&str> = chunk.iter().map(String::as_str).collect();
            let ids: Vec<String> = hits
                .into_iter()
                .filter(|(_, file, _)| wanted.contains(file.as_str()))
                .map(|(id, _, _)| id)
                .collect();
            if !ids.is_empty() {
                self.bulk(index, body::bulk_delete(&ids), true).await?;
            }
        }
        Ok(())
    }
}

fn too_many_lookalikes<D: Dialect>(index: &str) -> Error {
    refused(
        D::NAME,
        format!("index '{index}' maps file_meta_id as text only and too many ids look alike to filter them exactly: add a keyword sub-field to file_meta_id"),
    )
}

/// Index names both engines accept in a URL path without escaping: lowercase letters,
/// digits, `_`, `-` and `.`, not starting with `_`, `-` or `.`.
fn checked(index: &str) -> Result<&str> {
    let ok = !index.is_empty()
        && index.len() <= 255
        && !index.starts_with(['_', '-', '.'])
        && index
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(index)
    } else {
        Err(Error::invalid(format!(
            "index name '{index}' must be lowercase letters, digits, '_', '-' or '.', not starting with '_', '-' or '.'"
        )))
    }
}

#[async_trait]
impl<W: Wire, D: Dialect> VectorStore for SearchEngineStore<W, D> {
    async fn ensure_index(&self, spec: &IndexSpec) -> Result<()> {
        let index = checked(&spec.name)?;
        let info = match self.read_mapping(index).await? {
            Some(info) => info,
            None => {
                let request = Request::new(Method::Put, format!("/{index}"))
                    .json(self.dialect.create_index(spec.dim));
                let r = self.call(request).await?;
                let (kind, _) = reply::type_and_reason(&r.body);
                // Another worker may have created it meanwhile: then read what it made.
                if r.status != 200 && kind != "resource_already_exists_exception" {
                    return Err(reply::failure(D::NAME, index, "creating the index", &r));
                }
                self.read_mapping(index)
                    .await?
                    .ok_or_else(|| loupe_core::vector::index_not_found(index))?
            }
        };
        if info.dims != spec.dim {
            return Err(dimension_mismatch(index, info.dims, spec.dim));
        }
        Ok(())
    }

    async fn upsert(&self, index: &str, records: &[VectorRecord]) -> Result<()> {
        let index = checked(index)?;
        let info = self.info(index).await?;
        if let Some(bad) = records.iter().find(|r| r.file_vector.len() != info.dims) {
            return Err(dimension_mismatch(index, info.dims, bad.file_vector.len()));
        }
        let batches = records.chunks(body::BULK_BATCH).count();
        for (n, batch) in records.chunks(body::BULK_BATCH).enumerate() {
            // Only the last batch waits for a refresh: one refresh makes every batch
            // before it searchable too, and forcing none keeps segments large.
            self.bulk(index, body::bulk_index(batch), n + 1 == batches)
                .await?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        index: &str,
        index_set_id: &str,
        file_meta_ids: Option<&[String]>,
    ) -> Result<()> {
        let index = checked(index)?;
        let info = self.info(index).await?;
        match file_meta_ids {
            None => {
                self.delete_by_query(index, &body::filter(index_set_id, None, &info.file_meta))
                    .await
            }
            Some([]) => Ok(()),
            Some(files) if info.file_meta == FileMetaField::Text => {
                self.delete_text_mapped(index, index_set_id, files).await
            }
            Some(files) => {
                for chunk in files.chunks(body::chunk_len(&info.file_meta)) {
                    let clauses = body::filter(index_set_id, Some(chunk), &info.file_meta);
                    self.delete_by_query(index, &clauses).await?;
                }
                Ok(())
            }
        }
    }

    async fn search(&self, index: &str, query: &VectorQuery<'_>) -> Result<Vec<VectorHit>> {
        let index = checked(index)?;
        let info = self.info(index).await?;
        if query.vector.len() != info.dims {
            return Err(dimension_mismatch(index, info.dims, query.vector.len()));
        }
        let k = query.k.min(MAX_WINDOW);
        let mut ranked = match query.candidates {
            _ if k == 0 => return Ok(Vec::new()),
            Some([]) => return Ok(Vec::new()),
            Some(candidates) => self.exact(index, &info, query, k, candidates).await?,
            None => {
                let clauses = body::filter(query.index_set_id, None, &info.file_meta);
                let (hits, _) = self
                    .hits(index, self.dialect.approximate(query.vector, k, &clauses))
                    .await?;
                hits.into_iter()
                    .map(|(_, file, score)| (file, self.dialect.dot_from_approximate(score)))
                    .collect()
            }
        };
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(k);
        Ok(ranked
            .into_iter()
            .map(|(file_meta_id, dot)| VectorHit {
                file_meta_id,
                score: dot as f32,
            })
            .collect())
    }

    async fn count(&self, index: &str, index_set_id: &str) -> Result<usize> {
        let index = checked(index)?;
        let clauses = body::filter(index_set_id, None, &FileMetaField::Text);
        let request =
            Request::new(Method::Post, format!("/{index}/_count")).json(body::query(&clauses));
        let r = self.call(request).await?;
        if r.status != 200 {
            return Err(self.failed(index, "count", &r));
        }
        r.body
            .get("count")
            .and_then(Value::as_u64)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .ok_or_else(|| {
                refused(
                    D::NAME,
                    format!("count on '{index}' answered without a count"),
                )
            })
    }

    async fn drop_index(&self, index: &str) -> Result<()> {
        let index = checked(index)?;
        self.remember(index, None);
        let r = self
            .call(Request::new(Method::Delete, format!("/{index}")))
            .await?;
        // Already gone is what was asked for.
        if r.status == 200 || r.status == 404 {
            return Ok(());
        }
        Err(reply::failure(D::NAME, index, "dropping the index", &r))
    }

    async fn check(&self) -> Result<()> {
        let r = self.call(Request::new(Method::Get, "/")).await?;
        if r.status == 200 {
            return Ok(());
        }
        Err(reply::failure(D::NAME, "", "connection check", &r))
    }
}
