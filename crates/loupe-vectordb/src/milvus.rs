//! Milvus ≥ 2.4 through its gRPC API (`milvus-sdk-rust`'s V2 client).
//!
//! - **Collections.** One per index, named by [`expr::collection_name`]: an index name
//!   that is already a valid Milvus name is used as is, any other is mapped to one plus a
//!   hash. Fields are the seed schema: `id` (VarChar primary key, no auto id),
//!   `index_set_id`, `file_meta_id`, `dataset_id`, `dataset_version`, `uri` (VarChar)
//!   and `file_vector` (FloatVector). A collection created beforehand with that schema is
//!   used unchanged: its vector dimension is read and checked.
//! - **Index.** HNSW (M 16, efConstruction 200) with metric IP, also for cosine indexes,
//!   whose vectors arrive normalised. HNSW is approximate: plain searches ask for
//!   `ef = max(k, 128)`, which keeps recall@10 near 1 for the sizes Loupe indexes but
//!   does not guarantee the exact top-k. Candidate searches ask for `ef` at least the
//!   number of candidates (batches of at most [`CANDIDATES_PER_SEARCH`]): with more
//!   room than passing vectors the graph walk visits every reachable one, so those
//!   results are exact. An index someone built beforehand (IVF, AUTOINDEX, …) is kept
//!   and ranks as it ranks.
//! - **Consistency.** Every read (search, count, and the query behind a delete by
//!   filter) asks for `Strong`: vectors are written by job workers and read by API
//!   servers, other processes, so the SDK's per-client `Session` level would not make a
//!   write visible to them. Strong costs at most one time tick (200 ms by default).
//! - **Failures.** Each call is bounded by the connection's timeout and retried by
//!   [`crate::retry`] on transport failures, timeouts and rate limits (the SDK's own
//!   retries are off so that the two do not multiply). The client connects lazily, so a
//!   server that is down answers `VectorStoreUnavailable` on use, not on open.

mod expr;
mod failure;
mod schema;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use loupe_core::vector::{
    dimension_mismatch, refused, IndexSpec, VectorHit, VectorQuery, VectorRecord, VectorStore,
};
use loupe_core::vectordb::VectorDbSettings;
use loupe_core::Result;
use milvus::v2::error::Error as SdkError;
use milvus::v2::prelude::{
    ClientV2, CollectionDesc, ConnectConfig, ConsistencyLevel, CreateCollectionRequest,
    CreateIndexRequest, DeleteRequest, DescribeCollectionRequest, DescribeIndexRequest,
    DropCollectionRequest, FieldData, IndexParam, IndexStateCode, IndexType, InsertRequest,
    ListCollectionsRequest, LoadCollectionRequest, MetricType, QueryRequest, RetryConfig,
    SearchRequest, SearchVectors, TelemetryConfig, UpsertRequest,
};
use tokio::sync::OnceCell;

use crate::retry::{with_retries, Attempt};
use failure::Failure;
use schema::{FILE_META_ID, FILE_VECTOR};

/// Rows per upsert request: about 4 MB at 1,024 dimensions, well under Milvus's
/// 64–256 MB request limit.
const UPSERT_BATCH: usize = 1000;
/// File metas per delete expression, which keeps expressions short to parse.
const DELETE_BATCH: usize = 1000;
/// Candidates per search; HNSW's `ef` may not exceed 32,768.
pub const CANDIDATES_PER_SEARCH: usize = 4096;
/// Milvus's largest `limit` (top-k).
const MAX_TOP_K: usize = 16_384;
/// The least HNSW search breadth asked for.
const MIN_EF: usize = 128;
/// How often a building index is looked at.
const INDEX_POLL: Duration = Duration::from_millis(200);

/// Opens the adapter. Nothing is sent yet: the client connects on first use.
pub async fn open(settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
    Ok(Arc::new(MilvusStore {
        config: connect_config(settings),
        client: OnceCell::new(),
        timeout: settings.timeout,
        max_retries: settings.max_retries,
        dims: Mutex::new(HashMap::new()),
    }))
}

fn connect_config(settings: &VectorDbSettings) -> ConnectConfig {
    let mut config = ConnectConfig::new()
        .uri(settings.endpoint.clone())
        .connect_timeout(settings.timeout)
        .rpc_timeout(settings.timeout)
        // Loupe's retry policy wraps every call; SDK retries would multiply it (75 by default).
        .retry(RetryConfig::new().max_attempts(1))
        // The heartbeat RPC is a Milvus 2.6 feature that 2.4 servers do not serve.
        .telemetry(TelemetryConfig::new().enabled(false));
    if let Some(database) = &settings.database {
        config = config.database(database.clone());
    }
    if let Some(key) = &settings.api_key {
        config = config.token(key.clone());
    } else if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        config = config.username(user.clone()).password(password.clone());
    }
    config
}

struct MilvusStore {
    config: ConnectConfig,
    client: OnceCell<ClientV2>,
    timeout: Duration,
    max_retries: u32,
    /// Vector dimension per collection, so that a wrong vector is refused before it is sent.
    dims: Mutex<HashMap<String, usize>>,
}

type SdkResult<T> = std::result::Result<T, SdkError>;

impl MilvusStore {
    async fn client(&self) -> SdkResult<ClientV2> {
        self.client
            .get_or_try_init(|| ClientV2::new(&self.config))
            .await
            .cloned()
    }

    /// Runs `op` with retries, each attempt bounded by the timeout; `what` names it in errors.
    async fn call<T, F, Fut>(&self, index: &str, what: &str, op: F) -> Result<T>
    where
        F: Fn(ClientV2) -> Fut,
        Fut: Future<Output = SdkResult<T>>,
    {
        let op = &op;
        let outcome = with_retries(self.max_retries, move || async move {
            let client = match self.client().await {
                Ok(client) => client,
                Err(err) => return failure::attempt(Failure::Sdk(err)),
            };
            match tokio::time::timeout(self.timeout, op(client)).await {
                Ok(Ok(value)) => Attempt::Ok(value),
                Ok(Err(err)) => failure::attempt(Failure::Sdk(err)),
                Err(_) => failure::attempt(Failure::TimedOut(self.timeout)),
            }
        })
        .await;
        outcome.map_err(|f| {
            let err = failure::to_error(index, what, f);
            if err.code() == loupe_core::ErrorCode::VectorIndexNotFound {
                self.forget(index);
            }
            err
        })
    }

    fn forget(&self, index: &str) {
        if let Ok(mut dims) = self.dims.lock() {
            dims.remove(index);
        }
    }

    fn remember(&self, index: &str, dim: usize) {
        if let Ok(mut dims) = self.dims.lock() {
            dims.insert(index.to_string(), dim);
        }
    }

    /// The collection's description, or `None` when it does not exist.
    async fn describe(&self, index: &str) -> Result<Option<CollectionDesc>> {
        let name = expr::collection_name(index);
        self.call(index, "describe collection", |client| {
            let name = name.clone();
            async move {
                let request = DescribeCollectionRequest::builder()
                    .collection_name(name)
                    .build()?;
                match client.describe_collection(request).await {
                    Ok(response) => Ok(Some(response.description().clone())),
                    Err(err) if failure::is_collection_missing(&err) => Ok(None),
                    Err(err) => Err(err),
                }
            }
        })
        .await
    }

    /// The index's vector dimension: remembered, or read from the server.
    async fn dim(&self, index: &str) -> Result<usize> {
        if let Some(dim) = self.dims.lock().ok().and_then(|d| d.get(index).copied()) {
            return Ok(dim);
        }
        let desc = self
            .describe(index)
            .await?
            .ok_or_else(|| loupe_core::vector::index_not_found(index))?;
        let name = expr::collection_name(index);
        let dim = schema::check_existing(index, &name, desc.get_schema(), None)?;
        self.remember(index, dim);
        Ok(dim)
    }

    async fn create_collection(&self, index: &str, dim: usize) -> Result<()> {
        let name = expr::collection_name(index);
        let new_schema = schema::new_schema(dim)?;
        self.call(index, "create collection", |client| {
            let request = CreateCollectionRequest::builder()
                .collection_name(name.clone())
                .schema(new_schema.clone())
                .consistency_level(ConsistencyLevel::Strong)
                .build();
            async move { client.create_collection(request?).await }
        })
        .await
    }

    /// Builds the HNSW index on the vector field unless the field has one, and waits
    /// until the index is built.
    async fn ensure_vector_index(&self, index: &str) -> Result<()> {
        let name = expr::collection_name(index);
        self.call(index, "create vector index", |client| {
            let name = name.clone();
            async move {
                if vector_index_state(&client, &name).await?.is_none() {
                    client.create_index(hnsw_request(&name)?).await?;
                }
                // Polled here rather than with the SDK's `sync`, whose first step
                // (AllocTimestamp) milvus-lite does not serve; the call's timeout bounds it.
                loop {
                    match vector_index_state(&client, &name).await? {
                        Some(IndexStateCode::Finished) => return Ok(()),
                        Some(IndexStateCode::Failed) => {
                            return Err(SdkError::Unexpected(format!(
                                "building the index on '{FILE_VECTOR}' failed"
                            )))
                        }
                        _ => tokio::time::sleep(INDEX_POLL).await,
                    }
                }
            }
        })
        .await
    }

    async fn load(&self, index: &str) -> Result<()> {
        let name = expr::collection_name(index);
        self.call(index, "load collection", |client| {
            let name = name.clone();
            async move { load(&client, &name, self.timeout).await }
        })
        .await
    }

    /// One search over the given filter.
    async fn search_filtered(
        &self,
        index: &str,
        vector: &[f32],
        k: usize,
        ef: usize,
        filter: String,
    ) -> Result<Vec<VectorHit>> {
        let name = expr::collection_name(index);
        let ef = ef.clamp(k, 32_768).to_string();
        self.call(index, "search", |client| {
            let request = SearchRequest::builder()
                .collection_name(name.clone())
                .vector_field(FILE_VECTOR)
                .vectors(SearchVectors::Float(vec![vector.to_vec()]))
                .filter(filter.clone())
                .output_fields([FILE_META_ID])
                .limit(k as i64)
                .extra_params(HashMap::from([("ef".to_string(), ef.clone())]))
                .consistency_level(ConsistencyLevel::Strong)
                .build();
            let name = name.clone();
            async move {
                let request = request?;
                let response = match client.search(request.clone()).await {
                    Err(err) if failure::is_not_loaded(&err) => {
                        load(&client, &name, self.timeout).await?;
                        client.search(request).await?
                    }
                    other => other?,
                };
                Ok(response)
            }
        })
        .await
        .and_then(|response| hits(index, &response))
    }
}

/// The state of the vector field's index, or `None` when it has none.
async fn vector_index_state(client: &ClientV2, name: &str) -> SdkResult<Option<IndexStateCode>> {
    let request = DescribeIndexRequest::builder()
        .collection_name(name)
        .field_name(FILE_VECTOR)
        .build()?;
    match client.describe_index(request).await {
        Ok(found) => Ok(found
            .indexes()
            .iter()
            .find(|i| i.get_field_name() == FILE_VECTOR)
            .map(|i| i.get_state())),
        Err(err) if failure::is_index_missing(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

#[expect(
    clippy::result_large_err,
    reason = "the SDK's own error type, passed on as the SDK returns it"
)]
/// HNSW with metric IP on the vector field. Parameters go as `params` JSON, which
/// Milvus 2.4 and milvus-lite both read (milvus-lite ignores flat keys).
fn hnsw_request(name: &str) -> SdkResult<CreateIndexRequest> {
    let params = HashMap::from([(
        "params".to_string(),
        r#"{"M":16,"efConstruction":200}"#.to_string(),
    )]);
    CreateIndexRequest::builder()
        .collection_name(name)
        .index_param(
            IndexParam::new()
                .field_name(FILE_VECTOR)
                .index_type(IndexType::Hnsw)
                .metric_type(MetricType::Ip)
                .extra_params(params),
        )
        .sync(false)
        .build()
}

/// Loads a collection for search and waits until it is loaded.
async fn load(client: &ClientV2, name: &str, timeout: Duration) -> SdkResult<()> {
    let request = LoadCollectionRequest::builder()
        .collection_name(name)
        .sync(true)
        .timeout_ms(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX))
        .build()?;
    client.load_collection(request).await
}

/// The hits of a one-vector search, best first as Milvus ranks them.
fn hits(index: &str, response: &milvus::v2::prelude::SearchResponse) -> Result<Vec<VectorHit>> {
    let Some(result) = response.results().get_results().first() else {
        return Ok(Vec::new());
    };
    let scores = result.get_scores();
    let files = result
        .get_output_fields()
        .iter()
        .find_map(|field| match field {
            FieldData::VarChar { name, values } if name == FILE_META_ID => Some(values),
            _ => None,
        });
    let Some(files) = files else {
        if scores.is_empty() {
            return Ok(Vec::new());
        }
        return Err(refused(
            "milvus",
            format!("search in index '{index}' returned no '{FILE_META_ID}' field"),
        ));
    };
    Ok(files
        .iter()
        .zip(scores)
        .map(|(file, score)| VectorHit {
            file_meta_id: file.clone(),
            score: *score,
        })
        .collect())
}

#[async_trait]
impl VectorStore for MilvusStore {
    async fn ensure_index(&self, spec: &IndexSpec) -> Result<()> {
        let name = expr::collection_name(&spec.name);
        match self.describe(&spec.name).await? {
            Some(desc) => {
                schema::check_existing(&spec.name, &name, desc.get_schema(), Some(spec.dim))?;
            }
            None => self.create_collection(&spec.name, spec.dim).await?,
        }
        self.ensure_vector_index(&spec.name).await?;
        self.load(&spec.name).await?;
        self.remember(&spec.name, spec.dim);
        Ok(())
    }

    async fn upsert(&self, index: &str, records: &[VectorRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let dim = self.dim(index).await?;
        if let Some(bad) = records.iter().find(|r| r.file_vector.len() != dim) {
            return Err(dimension_mismatch(index, dim, bad.file_vector.len()));
        }
        let name = expr::collection_name(index);
        for batch in records.chunks(UPSERT_BATCH) {
            let columns = schema::columns(batch);
            self.call(index, "upsert", |client| {
                let request = InsertRequest::builder()
                    .collection_name(name.clone())
                    .columns(columns.clone())
                    .build();
                async move {
                    let upsert = UpsertRequest::builder().insert(request?).build()?;
                    client.upsert(upsert).await.map(drop)
                }
            })
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
        let filters: Vec<String> = match file_meta_ids {
            None => vec![expr::set_filter(index_set_id, None)],
            Some(ids) => ids
                .chunks(DELETE_BATCH)
                .map(|chunk| expr::set_filter(index_set_id, Some(chunk)))
                .collect(),
        };
        let name = expr::collection_name(index);
        for filter in filters {
            self.call(index, "delete", |client| {
                let request = DeleteRequest::builder()
                    .collection_name(name.clone())
                    .filter(filter.clone())
                    .consistency_level(ConsistencyLevel::Strong)
                    .build();
                async move { client.delete(request?).await.map(drop) }
            })
            .await?;
        }
        Ok(())
    }

    async fn search(&self, index: &str, query: &VectorQuery<'_>) -> Result<Vec<VectorHit>> {
        let dim = self.dim(index).await?;
        if query.vector.len() != dim {
            return Err(dimension_mismatch(index, dim, query.vector.len()));
        }
        let k = query.k.min(MAX_TOP_K);
        if k == 0 {
            return Ok(Vec::new());
        }
        let Some(candidates) = query.candidates else {
            let filter = expr::set_filter(query.index_set_id, None);
            return self
                .search_filtered(index, query.vector, k, k.max(MIN_EF), filter)
                .await;
        };
        // Each batch is searched exactly (see the module notes); the best k of all win.
        let mut best: Vec<VectorHit> = Vec::new();
        for batch in candidates.chunks(CANDIDATES_PER_SEARCH) {
            let filter = expr::set_filter(query.index_set_id, Some(batch));
            let ef = batch.len().max(k).max(MIN_EF);
            best.extend(
                self.search_filtered(index, query.vector, k, ef, filter)
                    .await?,
            );
        }
        best.sort_by(|a, b| b.score.total_cmp(&a.score));
        best.truncate(k);
        Ok(best)
    }

    async fn count(&self, index: &str, index_set_id: &str) -> Result<usize> {
        let name = expr::collection_name(index);
        let filter = expr::set_filter(index_set_id, None);
        let response = self
            .call(index, "count", |client| {
                let request = QueryRequest::builder()
                    .collection_name(name.clone())
                    .filter(filter.clone())
                    .output_fields(["count(*)"])
                    .consistency_level(ConsistencyLevel::Strong)
                    .build();
                let name = name.clone();
                async move {
                    let request = request?;
                    match client.query(request.clone()).await {
                        Err(err) if failure::is_not_loaded(&err) => {
                            load(&client, &name, self.timeout).await?;
                            client.query(request).await
                        }
                        other => other,
                    }
                }
            })
            .await?;
        let count = response
            .results()
            .get_output_fields()
            .iter()
            .find_map(|field| match field {
                FieldData::Int64 { name, values } if name == "count(*)" => values.first().copied(),
                _ => None,
            })
            .ok_or_else(|| {
                refused(
                    "milvus",
                    format!("count in index '{index}' returned no count(*)"),
                )
            })?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn drop_index(&self, index: &str) -> Result<()> {
        let name = expr::collection_name(index);
        self.forget(index);
        let dropped = self
            .call(index, "drop collection", |client| {
                let request = DropCollectionRequest::builder()
                    .collection_name(name.clone())
                    .build();
                async move { client.drop_collection(request?).await }
            })
            .await;
        match dropped {
            // Dropping what is not there leaves the state asked for.
            Err(err) if err.code() == loupe_core::ErrorCode::VectorIndexNotFound => Ok(()),
            other => other,
        }
    }

    async fn check(&self) -> Result<()> {
        self.call("", "list collections", |client| async move {
            let request = ListCollectionsRequest::builder().build()?;
            client.list_collections(request).await.map(drop)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn settings(secrets: &[(&str, &str)]) -> VectorDbSettings {
        let configs = BTreeMap::from([
            ("Engine".to_string(), "milvus".to_string()),
            ("Endpoint".to_string(), "http://milvus:19530".to_string()),
            ("Database".to_string(), "loupe".to_string()),
            ("TimeoutSecs".to_string(), "7".to_string()),
        ]);
        let secrets = secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        VectorDbSettings::parse(&configs, &secrets).expect("settings")
    }

    #[test]
    fn connection_settings_carry_database_timeouts_and_credentials() {
        let config = connect_config(&settings(&[("Username", "root"), ("Password", "s3cret")]));
        assert_eq!(config.get_uri(), "http://milvus:19530");
        assert_eq!(config.get_database(), "loupe");
        assert_eq!(config.get_connect_timeout(), Duration::from_secs(7));
        assert_eq!(config.get_rpc_timeout(), Duration::from_secs(7));
        assert_eq!(config.get_retry().get_max_attempts(), 1);
        assert!(!config.get_telemetry().is_enabled());
        // The SDK sends `base64(user:password)` as the authorization metadata.
        assert_eq!(config.get_token().as_deref(), Some("cm9vdDpzM2NyZXQ="));
        assert!(!format!("{config:?}").contains("s3cret"));

        let config = connect_config(&settings(&[("ApiKey", "root:Milvus")]));
        assert_eq!(config.get_token().as_deref(), Some("cm9vdDpNaWx2dXM="));
        assert_eq!(connect_config(&settings(&[])).get_token(), &None);
    }
}
