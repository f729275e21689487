//! The Elasticsearch adapter against a recording local server: the exact headers and
//! bodies it sends (checked against the documented ES 8 shapes), how it reads answers,
//! and how it retries and fails.

use base64::Engine as _;
use loupe_core::vector::{IndexSpec, Metric, VectorQuery, VectorRecord, VectorStore};
use loupe_core::vectordb::Engine;
use loupe_core::ErrorCode;
use serde_json::{json, Value};

use super::*;
use crate::search_engine::recording::{hits, mapping, settings, Canned, RecordingServer};

fn vector_field(dims: usize) -> Value {
    json!({ "type": "dense_vector", "dims": dims, "index": true, "similarity": "dot_product" })
}

fn keyword_file_meta() -> Value {
    json!({ "type": "text", "fields": { "keyword": { "type": "keyword" } } })
}

async fn store_with(replies: Vec<Canned>) -> (RecordingServer, Arc<dyn VectorStore>) {
    let server = RecordingServer::start(replies).await;
    let store = open(&settings(Engine::Elasticsearch, &server.url)).expect("open");
    (server, store)
}

fn spec(dim: usize) -> IndexSpec {
    IndexSpec {
        name: "images".into(),
        dim,
        metric: Metric::DotProduct,
    }
}

fn record(n: usize) -> VectorRecord {
    VectorRecord {
        id: format!("s-f-{n}"),
        index_set_id: "s".into(),
        file_meta_id: format!("f-{n}"),
        dataset_id: "d".into(),
        dataset_version: "v1".into(),
        uri: format!("oss://b/{n}.jpg"),
        file_vector: vec![0.6, 0.8],
    }
}

#[tokio::test]
async fn announces_the_8x_compatibility_level_and_basic_credentials() {
    let (server, store) = store_with(vec![Canned::Json(
        200,
        json!({ "version": { "number": "8.17.0" } }),
    )])
    .await;
    store.check().await.expect("check");
    let request = &server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/")
    );
    assert_eq!(
        request.header("accept"),
        "application/vnd.elasticsearch+json; compatible-with=8"
    );
    assert_eq!(
        request.header("content-type"),
        "application/vnd.elasticsearch+json; compatible-with=8"
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("elastic:s3cret-pw");
    assert_eq!(request.header("authorization"), format!("Basic {basic}"));
}

#[tokio::test]
async fn sends_an_api_key_as_elasticsearch_prints_it() {
    let server = RecordingServer::start(vec![
        Canned::Json(200, json!({})),
        Canned::Json(200, json!({})),
    ])
    .await;
    for (key, header) in [
        (
            "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        ),
        ("id1:secret", "ApiKey aWQxOnNlY3JldA=="),
    ] {
        let mut with_key = settings(Engine::Elasticsearch, &server.url);
        with_key.api_key = Some(key.into());
        open(&with_key).expect("open").check().await.expect("check");
        assert_eq!(
            server
                .requests()
                .last()
                .expect("sent")
                .header("authorization"),
            header
        );
    }
}

#[tokio::test]
async fn creates_the_seed_mapping_when_the_index_is_missing() {
    let not_found = json!({ "error": { "type": "index_not_found_exception", "reason": "no such index [images]" }, "status": 404 });
    let (server, store) = store_with(vec![
        Canned::Json(404, not_found),
        Canned::Json(200, json!({ "acknowledged": true })),
        mapping("images", vector_field(4), keyword_file_meta()),
    ])
    .await;
    store.ensure_index(&spec(4)).await.expect("ensure");
    let requests = server.requests();
    assert_eq!(requests[1].method, "PUT");
    assert_eq!(requests[1].path, "/images");
    assert_eq!(
        requests[1].json(),
        json!({ "mappings": { "properties": {
            "id": { "type": "text" },
            "index_set_id": { "type": "keyword" },
            "file_meta_id": { "type": "text", "fields": { "keyword": { "type": "keyword" } } },
            "dataset_id": { "type": "text" },
            "dataset_version": { "type": "text" },
            "uri": { "type": "text" },
            "file_vector": { "type": "dense_vector", "dims": 4, "index": true, "similarity": "dot_product",
                             "index_options": { "type": "hnsw" } },
        } } })
    );
}

#[tokio::test]
async fn takes_an_index_made_with_the_seed_guides_mapping_and_checks_its_dims() {
    // The guide's sample: file_meta_id is plain text, dims 1536, dot_product.
    let seed_vector = json!({ "type": "dense_vector", "dims": 1536, "similarity": "dot_product" });
    let (server, store) = store_with(vec![
        mapping("images", seed_vector.clone(), json!({ "type": "text" })),
        mapping("images", seed_vector, json!({ "type": "text" })),
    ])
    .await;
    store.ensure_index(&spec(1536)).await.expect("seed index");
    let err = store
        .ensure_index(&spec(768))
        .await
        .expect_err("other dims");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "nothing created"
    );
}

#[tokio::test]
async fn refuses_a_vector_field_it_cannot_score() {
    let l2 = json!({ "type": "dense_vector", "dims": 4, "index": true, "similarity": "l2_norm" });
    let (_server, store) = store_with(vec![mapping("images", l2, keyword_file_meta())]).await;
    let err = store.ensure_index(&spec(4)).await.expect_err("l2");
    assert_eq!(err.code(), ErrorCode::VectorStoreError);
    assert!(
        err.message().contains("use dot_product"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn upserts_in_bulk_batches_and_waits_for_one_refresh() {
    let ok = json!({ "errors": false, "items": [] });
    let (server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        Canned::Json(200, ok.clone()),
        Canned::Json(200, ok),
    ])
    .await;
    let records: Vec<VectorRecord> = (0..501).map(record).collect();
    store.upsert("images", &records).await.expect("upsert");
    let requests = server.requests();
    let bulks: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/images/_bulk")
        .collect();
    assert_eq!(bulks.len(), 2);
    assert_eq!(bulks[0].query, "", "only the last batch waits");
    assert_eq!(bulks[1].query, "refresh=wait_for");
    assert_eq!(
        bulks[0].header("content-type"),
        "application/vnd.elasticsearch+x-ndjson; compatible-with=8"
    );
    let lines = bulks[0].lines();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[0], json!({ "index": { "_id": "s-f-0" } }));
    assert_eq!(
        lines[1],
        json!({ "id": "s-f-0", "index_set_id": "s", "file_meta_id": "f-0", "dataset_id": "d",
                "dataset_version": "v1", "uri": "oss://b/0.jpg", "file_vector": [0.6, 0.8] })
    );
    assert!(bulks[1].body.ends_with('\n'), "NDJSON ends with a newline");
    assert_eq!(bulks[1].lines().len(), 2);
}

#[tokio::test]
async fn reads_bulk_item_errors() {
    let item = |error: Value| {
        json!({ "errors": true, "items": [
        { "index": { "_id": "s-f-0", "status": 201 } },
        { "index": { "_id": "s-f-1", "status": 400, "error": error } },
    ] })
    };
    let dims = json!({ "type": "document_parsing_exception", "reason": "[1:1] failed to parse",
        "caused_by": { "type": "illegal_argument_exception", "reason": "The [dense_vector] field [file_vector] in doc [document with id 's-f-1'] has a different number of dimensions [3] than defined in the mapping [2]" } });
    let unit = json!({ "type": "document_parsing_exception", "reason": "[1:1] failed to parse: The [dot_product] similarity can only be used with unit-length vectors." });
    let (_server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        Canned::Json(200, item(dims)),
        Canned::Json(200, item(unit)),
    ])
    .await;
    let err = store
        .upsert("images", &[record(0), record(1)])
        .await
        .expect_err("dims");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch, "{err}");
    assert!(
        err.message().contains("2-dimensional vectors, got 3"),
        "{}",
        err.message()
    );
    let err = store
        .upsert("images", &[record(0), record(1)])
        .await
        .expect_err("unit");
    assert_eq!(err.code(), ErrorCode::VectorStoreError);
    assert!(err.message().contains("unit-length"), "{}", err.message());
}

#[tokio::test]
async fn retries_a_bulk_whose_items_were_rejected_as_busy() {
    let busy = json!({ "errors": true, "items": [{ "index": { "_id": "s-f-0", "status": 429,
        "error": { "type": "es_rejected_execution_exception", "reason": "rejected execution" } } }] });
    let (server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        Canned::Json(200, busy),
        Canned::Json(200, json!({ "errors": false, "items": [] })),
    ])
    .await;
    store
        .upsert("images", &[record(0)])
        .await
        .expect("second try");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn searches_with_top_level_knn_and_the_index_set_filter() {
    let (server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        hits(&[("s-f-1", "f-1", 0.9), ("s-f-2", "f-2", 0.25)]),
    ])
    .await;
    let query = VectorQuery {
        index_set_id: "s",
        vector: &[1.0, 0.0],
        k: 5,
        candidates: None,
    };
    let found = store.search("images", &query).await.expect("search");
    let request = &server.requests()[1];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/images/_search")
    );
    assert_eq!(
        request.json(),
        json!({ "size": 5, "_source": ["file_meta_id"], "knn": {
            "field": "file_vector", "query_vector": [1.0, 0.0], "k": 5, "num_candidates": 100,
            "filter": [{ "term": { "index_set_id": "s" } }] } })
    );
    // dot_product kNN scores are (1 + dot) / 2.
    assert_eq!(found[0].file_meta_id, "f-1");
    assert!((found[0].score - 0.8).abs() < 1e-6, "{found:?}");
    assert!((found[1].score + 0.5).abs() < 1e-6, "{found:?}");
}

#[tokio::test]
async fn ranks_candidates_exactly_with_script_score() {
    let (server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        hits(&[("s-f-2", "f-2", 1.25), ("s-f-1", "f-1", 0.5)]),
    ])
    .await;
    let candidates = vec!["f-1".to_string(), "f-2".to_string()];
    let query = VectorQuery {
        index_set_id: "s",
        vector: &[1.0, 0.0],
        k: 3,
        candidates: Some(&candidates),
    };
    let found = store.search("images", &query).await.expect("search");
    assert_eq!(
        server.requests()[1].json(),
        json!({ "size": 3, "_source": ["file_meta_id"], "query": { "script_score": {
            "query": { "bool": { "filter": [
                { "term": { "index_set_id": "s" } },
                { "terms": { "file_meta_id.keyword": ["f-1", "f-2"] } },
            ] } },
            "script": {
                "source": "Math.max(0.0, dotProduct(params.query_vector, 'file_vector') + 1.0)",
                "params": { "query_vector": [1.0, 0.0] },
            } } } })
    );
    assert_eq!(
        found
            .iter()
            .map(|h| h.file_meta_id.as_str())
            .collect::<Vec<_>>(),
        ["f-2", "f-1"]
    );
    assert!(
        (found[0].score - 0.25).abs() < 1e-6 && (found[1].score + 0.5).abs() < 1e-6,
        "{found:?}"
    );
}

#[tokio::test]
async fn filters_a_text_only_file_meta_id_exactly() {
    // The seed mapping's file_meta_id is text: match_phrase also finds `x-f-1-y`.
    let (server, store) = store_with(vec![
        mapping("images", vector_field(2), json!({ "type": "text" })),
        hits(&[("s-x", "x-f-1-y", 1.9), ("s-f-1", "f-1", 1.5)]),
        hits(&[("s-x", "x-f-1-y", 0.0), ("s-f-1", "f-1", 0.0)]),
        Canned::Json(200, json!({ "errors": false, "items": [] })),
    ])
    .await;
    let candidates = vec!["f-1".to_string()];
    let query = VectorQuery {
        index_set_id: "s",
        vector: &[1.0, 0.0],
        k: 3,
        candidates: Some(&candidates),
    };
    let found = store.search("images", &query).await.expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].file_meta_id, "f-1");
    let requests = server.requests();
    assert_eq!(
        requests[1].json()["query"]["script_score"]["query"]["bool"]["filter"][1],
        json!({ "bool": { "should": [{ "match_phrase": { "file_meta_id": "f-1" } }], "minimum_should_match": 1 } })
    );
    store
        .delete("images", "s", Some(&candidates))
        .await
        .expect("delete");
    let requests = server.requests();
    assert_eq!(requests[3].path, "/images/_bulk");
    assert_eq!(requests[3].query, "refresh=wait_for");
    assert_eq!(
        requests[3].lines(),
        vec![json!({ "delete": { "_id": "s-f-1" } })]
    );
}

#[tokio::test]
async fn deletes_by_query_and_refreshes() {
    let deleted = json!({ "deleted": 2, "failures": [] });
    let (server, store) = store_with(vec![
        mapping("images", vector_field(2), keyword_file_meta()),
        Canned::Json(200, deleted.clone()),
        Canned::Json(200, deleted),
    ])
    .await;
    let files = vec!["f-1".to_string()];
    store
        .delete("images", "s", Some(&files))
        .await
        .expect("delete files");
    store.delete("images", "s", None).await.expect("delete set");
    let requests = server.requests();
    assert_eq!(requests[1].path, "/images/_delete_by_query");
    assert_eq!(requests[1].query, "refresh=true&conflicts=proceed");
    assert_eq!(
        requests[1].json(),
        json!({ "query": { "bool": { "filter": [
            { "term": { "index_set_id": "s" } }, { "terms": { "file_meta_id.keyword": ["f-1"] } } ] } } })
    );
    assert_eq!(
        requests[2].json(),
        json!({ "query": { "bool": { "filter": [{ "term": { "index_set_id": "s" } }] } } })
    );
}

#[tokio::test]
async fn counts_and_drops() {
    let (server, store) = store_with(vec![
        Canned::Json(200, json!({ "count": 7, "_shards": {} })),
        Canned::Json(200, json!({ "acknowledged": true })),
    ])
    .await;
    assert_eq!(store.count("images", "s").await.expect("count"), 7);
    store.drop_index("images").await.expect("drop");
    let requests = server.requests();
    assert_eq!(requests[0].path, "/images/_count");
    assert_eq!(
        requests[0].json(),
        json!({ "query": { "bool": { "filter": [{ "term": { "index_set_id": "s" } }] } } })
    );
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("DELETE", "/images")
    );
}

#[tokio::test]
async fn names_a_missing_index_and_passes_on_the_servers_reason() {
    let missing = json!({ "error": { "root_cause": [], "type": "index_not_found_exception", "reason": "no such index [gone]" }, "status": 404 });
    let bad = json!({ "error": { "type": "parsing_exception", "reason": "unknown query [knn]" }, "status": 400 });
    let (server, store) = store_with(vec![
        Canned::Json(404, missing),
        Canned::Json(400, bad),
        Canned::Json(401, json!({ "error": { "type": "security_exception", "reason": "unable to authenticate user [elastic]" }, "status": 401 })),
    ])
    .await;
    let err = store.count("gone", "s").await.expect_err("missing");
    assert_eq!(err.code(), ErrorCode::VectorIndexNotFound, "{err}");
    let err = store.count("images", "s").await.expect_err("refused");
    assert_eq!(err.code(), ErrorCode::VectorStoreError);
    assert!(
        err.message()
            .contains("parsing_exception: unknown query [knn]"),
        "{}",
        err.message()
    );
    let err = store.check().await.expect_err("credentials");
    assert_eq!(err.code(), ErrorCode::VectorStoreError);
    assert!(
        err.message().contains("check the connection's Username"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("s3cret-pw"));
    assert_eq!(server.requests().len(), 3, "no retries of refusals");
}

#[tokio::test]
async fn retries_a_503_and_not_a_400() {
    let (server, store) = store_with(vec![
        Canned::Json(503, json!({ "error": { "type": "unavailable_shards_exception", "reason": "primary shard is not active" } })),
        Canned::Json(200, json!({ "count": 1 })),
        Canned::Json(400, json!({ "error": { "type": "illegal_argument_exception", "reason": "nope" } })),
    ])
    .await;
    assert_eq!(store.count("images", "s").await.expect("retried"), 1);
    assert_eq!(server.requests().len(), 2);
    store.count("images", "s").await.expect_err("400");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn waits_as_long_as_a_429_retry_after_says() {
    let (server, store) = store_with(vec![
        Canned::RetryAfter(429, 1),
        Canned::Json(200, json!({ "count": 3 })),
    ])
    .await;
    assert_eq!(store.count("images", "s").await.expect("retried"), 3);
    let requests = server.requests();
    // Without the header the first backoff is at most 300 ms.
    assert!(requests[1].at.duration_since(requests[0].at) >= std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable() {
    let (server, store) = store_with(vec![Canned::Hang, Canned::Hang, Canned::Hang]).await;
    let err = store.count("images", "s").await.expect_err("timeout");
    assert_eq!(err.code(), ErrorCode::VectorStoreUnavailable, "{err}");
    assert_eq!(server.requests().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_server_that_is_down_is_unavailable() {
    let server = RecordingServer::start(vec![]).await;
    let url = server.url.clone();
    drop(server);
    tokio::task::yield_now().await;
    let mut down = settings(Engine::Elasticsearch, &url);
    down.max_retries = 0;
    let err = open(&down).expect("open").check().await.expect_err("down");
    assert_eq!(err.code(), ErrorCode::VectorStoreUnavailable, "{err}");
}

#[tokio::test]
async fn refuses_wrong_dimensions_before_sending() {
    let (server, store) = store_with(vec![mapping(
        "images",
        vector_field(2),
        keyword_file_meta(),
    )])
    .await;
    let query = VectorQuery {
        index_set_id: "s",
        vector: &[1.0, 0.0, 0.0],
        k: 5,
        candidates: None,
    };
    let err = store.search("images", &query).await.expect_err("dims");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
    let mut long = record(0);
    long.file_vector.push(0.0);
    let err = store.upsert("images", &[long]).await.expect_err("dims");
    assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
    assert_eq!(server.requests().len(), 1, "only the mapping was read");
}
