//! Elasticsearch ≥ 8.x: the seed guide's index (`file_vector` a `dense_vector` with
//! `dot_product` similarity), top-level `knn` search with the index-set filter, and an
//! exact `script_score` ranking over candidate sets.
//!
//! Candidate sets (the file metas SQL filters left) are ranked by a brute-force
//! `script_score` over exactly those documents rather than by `knn` with a `terms`
//! filter: filtered HNSW stays approximate and may miss some of the candidates, while
//! the caller wants their exact top-k, the same ranking the embedded store gives. The
//! sets are bounded by the SQL side, so scanning them is cheap.
//!
//! The client is the 8.x line of the `elasticsearch` crate. It sends plain
//! `application/json` by default; the adapter announces
//! `application/vnd.elasticsearch+json; compatible-with=8` instead, as the official 8.x
//! clients of other languages (and the Python client of the seed guide) do: an 8.x
//! server accepts it, and a 9.x server keeps answering in 8.x shapes. A 9.x client would
//! announce `compatible-with=9`, which 8.x servers refuse.

use std::sync::Arc;

use loupe_core::vector::VectorStore;
use loupe_core::vectordb::VectorDbSettings;
use loupe_core::Result;
use serde_json::{json, Value};

use crate::search_engine::wire::client_wire;
use crate::search_engine::{body, Dialect, SearchEngineStore, MAX_WINDOW};

/// What the adapter sends as `Accept` and `Content-Type`.
pub const JSON_CONTENT_TYPE: &str = "application/vnd.elasticsearch+json; compatible-with=8";
/// The `_bulk` content type.
pub const NDJSON_CONTENT_TYPE: &str = "application/vnd.elasticsearch+x-ndjson; compatible-with=8";

client_wire!(ElasticWire, elasticsearch, Elasticsearch, json: JSON_CONTENT_TYPE, ndjson: NDJSON_CONTENT_TYPE);

/// Opens the adapter (no request is sent until the first call).
pub fn open(settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
    let wire = ElasticWire::connect(settings)?;
    Ok(Arc::new(SearchEngineStore::new(
        wire,
        Elastic,
        settings.max_retries,
    )))
}

/// The exact score: the dot product shifted by one, because `script_score` refuses
/// negative scores and the dot product of unit vectors lies in [-1, 1]; `max` absorbs
/// the float rounding just below -1.
const EXACT_SCRIPT: &str = "Math.max(0.0, dotProduct(params.query_vector, 'file_vector') + 1.0)";

struct Elastic;

impl Dialect for Elastic {
    const NAME: &'static str = "elasticsearch";

    fn create_index(&self, dims: usize) -> Value {
        let mut properties = body::seed_properties();
        // Plain float HNSW rather than the int8_hnsw that 8.14+ picks by default: int8
        // scores reorder near neighbours (recall@10 fell to 0.9 in the conformance
        // suite), and 8.x before 8.18 has no `rescore_vector` to repair them. It costs
        // four times the vector memory. An index made beforehand keeps its own options.
        properties.insert(
            "file_vector".into(),
            json!({
                "type": "dense_vector",
                "dims": dims,
                "index": true,
                "similarity": "dot_product",
                "index_options": { "type": "hnsw" },
            }),
        );
        json!({ "mappings": { "properties": properties } })
    }

    fn vector_dims(&self, index: &str, field: &Value) -> std::result::Result<usize, String> {
        let text = |key: &str| field.get(key).and_then(Value::as_str);
        if text("type") != Some("dense_vector") {
            return Err(format!("'{index}'.file_vector must be a dense_vector"));
        }
        if field.get("index").and_then(Value::as_bool) == Some(false) {
            return Err(format!(
                "'{index}'.file_vector must be indexed (\"index\": true) for kNN search"
            ));
        }
        if !matches!(text("element_type"), None | Some("float")) {
            return Err(format!("'{index}'.file_vector must hold float vectors"));
        }
        // Cosine on the unit vectors Loupe stores scores as the dot product does.
        if !matches!(
            text("similarity"),
            None | Some("dot_product") | Some("cosine")
        ) {
            return Err(format!(
                "'{index}'.file_vector has similarity '{}': use dot_product as the seed guide does",
                text("similarity").unwrap_or_default()
            ));
        }
        field
            .get("dims")
            .and_then(Value::as_u64)
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| format!("'{index}'.file_vector has no dims: set them in the mapping"))
    }

    fn approximate(&self, vector: &[f32], k: usize, filter: &[Value]) -> Value {
        // Ten candidates per hit (at least 100) keeps HNSW recall high at little cost;
        // Elasticsearch caps num_candidates at 10,000.
        let num_candidates = (k * 10).clamp(100, MAX_WINDOW);
        json!({
            "size": k,
            "_source": ["file_meta_id"],
            "knn": {
                "field": "file_vector",
                "query_vector": vector,
                "k": k,
                "num_candidates": num_candidates,
                "filter": filter,
            }
        })
    }

    fn exact(&self, vector: &[f32], size: usize, filter: &[Value]) -> Value {
        json!({
            "size": size,
            "_source": ["file_meta_id"],
            "query": {
                "script_score": {
                    "query": body::bool_filter(filter),
                    "script": { "source": EXACT_SCRIPT, "params": { "query_vector": vector } },
                }
            }
        })
    }

    /// kNN with `dot_product` similarity scores `(1 + dot) / 2`.
    fn dot_from_approximate(&self, score: f64) -> f64 {
        2.0 * score - 1.0
    }

    fn dot_from_exact(&self, score: f64) -> f64 {
        score - 1.0
    }
}

#[cfg(test)]
mod tests;
