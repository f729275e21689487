//! Request bodies both engines accept as they are.

use loupe_core::vector::VectorRecord;
use serde::Serialize;
use serde_json::{json, Value};

use super::FileMetaField;

/// Records per `_bulk` request: about 2.5 MB at 1,536 dimensions, well under the
/// engines' 100 MB `http.max_content_length`, and few enough that a retried batch is cheap.
pub(crate) const BULK_BATCH: usize = 500;

/// The seed schema's fields besides the vector, as both engines map them when the
/// store creates the index. They stay `text` like the seed's sample mapping (so
/// whatever reads the index as PAI does keeps working); `file_meta_id` also gets a
/// `keyword` sub-field so that the store can filter and delete by exact id.
pub(crate) fn seed_properties() -> serde_json::Map<String, Value> {
    let text = || json!({ "type": "text" });
    let mut properties = serde_json::Map::new();
    properties.insert("id".into(), text());
    properties.insert("index_set_id".into(), json!({ "type": "keyword" }));
    properties.insert(
        "file_meta_id".into(),
        json!({ "type": "text", "fields": { "keyword": { "type": "keyword" } } }),
    );
    properties.insert("dataset_id".into(), text());
    properties.insert("dataset_version".into(), text());
    properties.insert("uri".into(), text());
    properties
}

/// A document of the seed schema. Serialised straight to text, so that each `f32`
/// takes its shortest form (`0.6`, not the `0.6000000238418579` a `Value` would hold).
#[derive(Serialize)]
struct SeedDocument<'a> {
    id: &'a str,
    index_set_id: &'a str,
    file_meta_id: &'a str,
    dataset_id: &'a str,
    dataset_version: &'a str,
    uri: &'a str,
    file_vector: &'a [f32],
}

/// `_bulk` lines that index (insert or replace) `records` under their ids.
pub(crate) fn bulk_index(records: &[VectorRecord]) -> String {
    let mut lines = String::new();
    for r in records {
        let doc = SeedDocument {
            id: &r.id,
            index_set_id: &r.index_set_id,
            file_meta_id: &r.file_meta_id,
            dataset_id: &r.dataset_id,
            dataset_version: &r.dataset_version,
            uri: &r.uri,
            file_vector: &r.file_vector,
        };
        lines.push_str(&json!({ "index": { "_id": r.id } }).to_string());
        lines.push('\n');
        lines.push_str(&serde_json::to_string(&doc).unwrap_or_default());
        lines.push('\n');
    }
    lines
}

/// `_bulk` lines that delete documents by `_id`.
pub(crate) fn bulk_delete(ids: &[String]) -> String {
    let mut lines = String::new();
    for id in ids {
        lines.push_str(&json!({ "delete": { "_id": id } }).to_string());
        lines.push('\n');
    }
    lines
}

/// The filter clauses of an index set, narrowed to `files` when given.
pub(crate) fn filter(
    index_set_id: &str,
    files: Option<&[String]>,
    field: &FileMetaField,
) -> Vec<Value> {
    let mut clauses = vec![json!({ "term": { "index_set_id": index_set_id } })];
    match (files, field) {
        (None, _) => {}
        (Some(files), FileMetaField::Keyword(name)) => {
            clauses.push(json!({ "terms": { name.as_str(): files } }));
        }
        (Some(files), FileMetaField::Text) => {
            let phrases: Vec<Value> = files
                .iter()
                .map(|f| json!({ "match_phrase": { "file_meta_id": f } }))
                .collect();
            clauses.push(json!({ "bool": { "should": phrases, "minimum_should_match": 1 } }));
        }
    }
    clauses
}

/// A `bool` query of filter clauses (no scoring).
pub(crate) fn bool_filter(clauses: &[Value]) -> Value {
    json!({ "bool": { "filter": clauses } })
}

/// A `_count` or `_delete_by_query` body.
pub(crate) fn query(clauses: &[Value]) -> Value {
    json!({ "query": bool_filter(clauses) })
}

/// A plain search that lists the documents `clauses` select, with their file ids.
pub(crate) fn list(clauses: &[Value], size: usize) -> Value {
    json!({ "size": size, "_source": ["file_meta_id"], "query": bool_filter(clauses) })
}

/// Candidates per request: under the default `index.max_terms_count` (65,536) for
/// `terms`, and under the boolean clause limit (at least 1,024) for `match_phrase`.
pub(crate) fn chunk_len(field: &FileMetaField) -> usize {
    match field {
        FileMetaField::Keyword(_) => 10_000,
        FileMetaField::Text => 500,
    }
}
