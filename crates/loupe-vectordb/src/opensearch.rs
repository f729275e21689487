//! OpenSearch with the k-NN plugin (and Lindorm's vector engine, which speaks its API):
//! an index with `index.knn: true` and `file_vector` a `knn_vector` (HNSW, Lucene
//! engine, `innerproduct` space), the `knn` query with the index-set filter, and the
//! plugin's exact `knn_score` script over candidate sets (exact for the same reason as
//! in the Elasticsearch adapter: filtered HNSW may miss candidates).
//!
//! Not to be confused with Alibaba Cloud's "OpenSearch Vector Search edition", a
//! different product with its own API.

use std::sync::Arc;

use loupe_core::vector::VectorStore;
use loupe_core::vectordb::VectorDbSettings;
use loupe_core::Result;
use serde_json::{json, Value};

use crate::search_engine::wire::client_wire;
use crate::search_engine::{body, Dialect, SearchEngineStore};

client_wire!(OpenSearchWire, opensearch, OpenSearch, json: "application/json", ndjson: "application/x-ndjson");

/// Opens the adapter (no request is sent until the first call).
pub fn open(settings: &VectorDbSettings) -> Result<Arc<dyn VectorStore>> {
    let wire = OpenSearchWire::connect(settings)?;
    Ok(Arc::new(SearchEngineStore::new(
        wire,
        OpenSearchKnn,
        settings.max_retries,
    )))
}

struct OpenSearchKnn;

/// The k-NN plugin turns an inner product into a positive score: `dot + 1` when the dot
/// product is positive, `1 / (1 - dot)` otherwise (`SpaceType.INNER_PRODUCT` in the
/// plugin; the same for the Lucene and Faiss engines and for the exact script).
fn dot_from_innerproduct_score(score: f64) -> f64 {
    if score >= 1.0 {
        score - 1.0
    } else {
        1.0 - 1.0 / score.max(f64::MIN_POSITIVE)
    }
}

impl Dialect for OpenSearchKnn {
    const NAME: &'static str = "opensearch";

    fn create_index(&self, dims: usize) -> Value {
        let mut properties = body::seed_properties();
        properties.insert(
            "file_vector".into(),
            json!({
                "type": "knn_vector",
                "dimension": dims,
                "method": { "name": "hnsw", "engine": "lucene", "space_type": "innerproduct" },
            }),
        );
        json!({
            "settings": { "index": { "knn": true } },
            "mappings": { "properties": properties },
        })
    }

    fn vector_dims(&self, index: &str, field: &Value) -> std::result::Result<usize, String> {
        if field.get("type").and_then(Value::as_str) != Some("knn_vector") {
            return Err(format!("'{index}'.file_vector must be a knn_vector"));
        }
        let space = field
            .pointer("/method/space_type")
            .or_else(|| field.get("space_type"))
            .and_then(Value::as_str);
        if space != Some("innerproduct") {
            return Err(format!(
                "'{index}'.file_vector has space_type '{}': use innerproduct",
                space.unwrap_or("l2 (the default)")
            ));
        }
        field
            .get("dimension")
            .and_then(Value::as_u64)
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| format!("'{index}'.file_vector has no dimension"))
    }

    fn approximate(&self, vector: &[f32], k: usize, filter: &[Value]) -> Value {
        json!({
            "size": k,
            "_source": ["file_meta_id"],
            "query": {
                "knn": {
                    "file_vector": { "vector": vector, "k": k, "filter": body::bool_filter(filter) }
                }
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
                    "script": {
                        "source": "knn_score",
                        "lang": "knn",
                        "params": { "field": "file_vector", "query_value": vector, "space_type": "innerproduct" },
                    },
                }
            }
        })
    }

    fn dot_from_approximate(&self, score: f64) -> f64 {
        dot_from_innerproduct_score(score)
    }

    fn dot_from_exact(&self, score: f64) -> f64 {
        dot_from_innerproduct_score(score)
    }
}

#[cfg(test)]
mod tests;
