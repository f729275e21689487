//! What the Elasticsearch and OpenSearch adapters share. Both speak the same REST API
//! for everything but the vector field and the vector queries (`_mapping`, `_bulk`,
//! `_count`, `_delete_by_query`, error bodies), so one store drives both; a [`Dialect`]
//! supplies the vector parts and a [`Wire`] sends the requests through each engine's
//! own client crate.

pub(crate) mod body;
pub(crate) mod reply;
mod store;
pub(crate) mod wire;

#[cfg(test)]
pub(crate) mod recording;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

pub(crate) use store::SearchEngineStore;

/// The HTTP methods the store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Put,
    Post,
    Delete,
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// One JSON document.
    Json(Value),
    /// Newline-delimited JSON (`_bulk`).
    NdJson(String),
}

/// One request, before the client crate turns it into HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Payload>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(Payload::Json(body));
        self
    }

    pub fn ndjson(mut self, body: String) -> Self {
        self.body = Some(Payload::NdJson(body));
        self
    }
}

/// What the server answered.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// The JSON body, or `Null` when it was empty or not JSON.
    pub body: Value,
}

/// Sends requests through an engine's client crate; a transport failure (refused
/// connection, timeout) is an `Err`, any HTTP answer an `Ok`.
#[async_trait]
pub(crate) trait Wire: Send + Sync + 'static {
    async fn send(
        &self,
        request: &Request,
    ) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>>;
}

/// How `file_meta_id` can be filtered on, read from the index's mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileMetaField {
    /// A `keyword` field (or a `keyword` sub-field of a `text` field): exact `terms`.
    Keyword(String),
    /// Only `text`, as in the seed guide's sample mapping: the analyser splits `f-1`
    /// into `f` and `1`, so a `term` never matches. `match_phrase` finds a superset
    /// (it also matches `x-f-1-y`), which the store narrows to exact ids itself.
    Text,
}

/// What the store knows about an index: read once from its mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexInfo {
    pub dims: usize,
    pub file_meta: FileMetaField,
}

/// The engine-specific parts: the vector field's mapping and the vector queries.
pub(crate) trait Dialect: Send + Sync + 'static {
    /// The engine's name in errors.
    const NAME: &'static str;

    /// The body that creates an index of the seed schema.
    fn create_index(&self, dims: usize) -> Value;

    /// The dimension of the `file_vector` field's mapping, or why it cannot serve.
    fn vector_dims(&self, index: &str, field: &Value) -> Result<usize, String>;

    /// A top-`k` approximate search restricted by `filter` (a list of clauses).
    fn approximate(&self, vector: &[f32], k: usize, filter: &[Value]) -> Value;

    /// An exact (brute-force) ranking of the documents `filter` selects.
    fn exact(&self, vector: &[f32], size: usize, filter: &[Value]) -> Value;

    /// The raw dot product behind an approximate hit's `_score`.
    fn dot_from_approximate(&self, score: f64) -> f64;

    /// The raw dot product behind an exact hit's `_score`.
    fn dot_from_exact(&self, score: f64) -> f64;
}

/// Both engines cap `k`, `num_candidates` and `size` at 10,000 by default
/// (`index.max_result_window`).
pub(crate) const MAX_WINDOW: usize = 10_000;
