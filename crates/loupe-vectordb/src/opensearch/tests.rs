//! The OpenSearch adapter against a recording local server. No OpenSearch server can
//! run on these machines, so these tests hold every body to the k-NN plugin's
//! documented shapes: the `knn_vector` mapping with an HNSW method, the `knn` query with
//! a filter, the exact `knn_score` script, and the inner-product score translation.

use loupe_core::vector::{IndexSpec, Metric, VectorQuery, VectorRecord, VectorStore};
use loupe_core::vectordb::Engine;
use loupe_core::ErrorCode;
use serde_json::{json, Value};

use super::*;
use crate::search_engine::recording::{hits, mapping, settings, Canned, RecordingServer};

fn vector_field(dims: usize) -> Value {
    json!({ "type": "knn_vector", "dimension": dims,
            "method": { "name": "hnsw", "engine": "lucene", "space_type": "innerproduct", "parameters": {} } })
}

fn keyword_file_meta() -> Value {
    json!({ "type": "text", "fields": { "keyword": { "type": "keyword" } } })
}

async fn store_with(replies: Vec<Canned>) -> (RecordingServer, Arc<dyn VectorStore>) {
    let server = RecordingServer::start(replies).await;
    let store = open(&settings(Engine::OpenSearch, &server.url)).expect("open");
    (server, store)
}

#[test]
fn translates_inner_product_scores_back_to_dot_products() {
    // The plugin: dot ≥ 0 scores dot + 1; dot < 0 scores 1 / (1 - dot).
    for dot in [0.9f64, 0.25, 0.0, -0.25, -0.9] {
        let score = if dot >= 0.0 {
            dot + 1.0
        } else {
            1.0 / (1.0 - dot)
        };
        assert!(
            (dot_from_innerproduct_score(score) - dot).abs() < 1e-12,
            "{dot}"
        );
    }
}

#[tokio::test]
async fn creates_a_knn_index_with_hnsw_and_innerproduct() {
    let missing = json!({ "error": { "type": "index_not_found_exception", "reason": "no such index [images]" }, "status": 404 });
    let (server, store) = store_with(vec![
        Canned::Json(404, missing),
        Canned::Json(200, json!({ "acknowledged": true })),
        mapping("images", vector_field(4), keyword_file_meta()),
        mapping("images", vector_field(4), keyword_file_meta()),
    ])
    .await;
    let spec = IndexSpec {
        name: "images".into(),
        dim: 4,
        metric: Metric::DotProduct,
    };
    store.ensure_index(&spec).await.expect("ensure");
    let requests = server.requests();
    assert_eq!(requests[1].header("content-type"), "application/json");
    assert_eq!(
        requests[1].json(),
        json!({
            "settings": { "index": { "knn": true } },
            "mappings": { "properties": {
                "id": { "type": "text" },
                "index_set_id": { "type": "keyword" },
                "file_meta_id": { "type": "text", "fields": { "keyword": { "type": "keyword" } } },
                "dataset_id": { "type": "text" },
                "dataset_version": { "type": "text" },
                "uri": { "type": "text" },
                "file_vector": { "type": "knn_vector", "dimension": 4,
                    "method": { "name": "hnsw", "engine": "lucene", "space_type": "innerproduct" } },
            } }
        })
    );
    let err = store
        .ensure_index(&IndexSpec { dim: 8, ..spec })
        .await
        .expect_err("other dimension");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
}

#[tokio::test]
async fn refuses_a_space_it_cannot_translate() {
    let l2 = json!({ "type": "knn_vector", "dimension": 4, "method": { "name": "hnsw", "space_type": "l2" } });
    let (_server, store) = store_with(vec![mapping("images", l2, keyword_file_meta())]).await;
    let spec = IndexSpec {
        name: "images".into(),
        dim: 4,
        metric: Metric::DotProduct,
    };
    let err = store.ensure_index(&spec).await.expect_err("l2");
    assert!(
        err.message().contains("use innerproduct"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn searches_with_the_knn_query_and_its_filter() {
    let (server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        hits(&[("s-f-1", "f-1", 1.5), ("s-f-2", "f-2", 0.8)]),
    ])
    .await;
    let query = VectorQuery {
        index_set_id: "s",
        vector: &[1.0, 0.0],
        k: 4,
        candidates: None,
    };
    let found = store.search("images", &query).await.expect("search");
    assert_eq!(
        server.requests()[1].json(),
        json!({ "size": 4, "_source": ["file_meta_id"], "query": { "knn": { "file_vector": {
            "vector": [1.0, 0.0], "k": 4,
            "filter": { "bool": { "filter": [{ "term": { "index_set_id": "s" } }] } } } } } })
    );
    assert!((found[0].score - 0.5).abs() < 1e-6, "{found:?}");
    assert!((found[1].score + 0.25).abs() < 1e-6, "{found:?}");
}

#[tokio::test]
async fn ranks_candidates_with_the_exact_knn_score_script() {
    let (server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        hits(&[("s-f-2", "f-2", 1.75)]),
    ])
    .await;
    let candidates = vec!["f-2".to_string()];
    let query = VectorQuery {
        index_set_id: "s",
        vector: &[0.0, 1.0],
        k: 2,
        candidates: Some(&candidates),
    };
    let found = store.search("images", &query).await.expect("search");
    assert_eq!(
        server.requests()[1].json(),
        json!({ "size": 2, "_source": ["file_meta_id"], "query": { "script_score": {
            "query": { "bool": { "filter": [
                { "term": { "index_set_id": "s" } }, { "terms": { "file_meta_id.keyword": ["f-2"] } } ] } },
            "script": { "source": "knn_score", "lang": "knn", "params": {
                "field": "file_vector", "query_value": [0.0, 1.0], "space_type": "innerproduct" } } } } })
    );
    assert!((found[0].score - 0.75).abs() < 1e-6, "{found:?}");
}

#[tokio::test]
async fn maps_the_plugins_errors() {
    let dims = json!({ "errors": true, "items": [{ "index": { "_id": "s-f-0", "status": 400, "error": {
        "type": "mapper_parsing_exception", "reason": "failed to parse field [file_vector] of type [knn_vector] in document with id 's-f-0'.",
        "caused_by": { "type": "illegal_argument_exception", "reason": "Vector dimension mismatch. Expected: 2, Given: 3" } } } }] });
    let query_dims = json!({ "error": { "type": "search_phase_execution_exception", "reason": "all shards failed",
        "caused_by": { "type": "illegal_argument_exception", "reason": "Query vector has invalid dimension: 3. Dimension should be: 2" } }, "status": 400 });
    let missing = json!({ "error": { "type": "index_not_found_exception", "reason": "no such index [images]" }, "status": 404 });
    let (_server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        Canned::Json(200, dims),
        Canned::Json(400, query_dims),
        mapping("images", vector_field(2), keyword_file_meta()),
        Canned::Json(404, missing),
    ])
    .await;
    let record = VectorRecord {
        id: "s-f-0".into(),
        index_set_id: "s".into(),
        file_meta_id: "f-0".into(),
        dataset_id: "d".into(),
        dataset_version: "v1".into(),
        uri: "oss://b/0.jpg".into(),
        file_vector: vec![1.0, 0.0],
    };
    let err = store.upsert("images", &[record]).await.expect_err("dims");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
    assert!(
        err.message().contains("2-dimensional vectors, got 3"),
        "{}",
        err.message()
    );
    // The index was changed behind the store's back: the server's check still answers.
    let query = VectorQuery {
        index_set_id: "s",
        vector: &[1.0, 0.0],
        k: 1,
        candidates: None,
    };
    let err = store.search("images", &query).await.expect_err("dims");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");
    let err = store.search("images", &query).await.expect_err("missing");
    assert_eq!(err.code(), ErrorCode::VectorIndexNotFound, "{err}");
}
