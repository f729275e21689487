//! Reading the engines' answers: hits, counts, mappings and errors.

use loupe_core::vector::{dimension_mismatch, index_not_found, refused};
use loupe_core::{Error, ErrorCode};
use serde_json::Value;

use super::{FileMetaField, Reply};

/// The `type` and `reason` of an error body (`{"error": {"type", "reason"}}`), or of
/// a bulk item's `error`.
pub(crate) fn type_and_reason(error: &Value) -> (String, String) {
    let error = error.get("error").unwrap_or(error);
    let text = |key: &str| {
        error
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (kind, mut reason) = (text("type"), text("reason"));
    // A shard failure's own reason is often generic ("all shards failed"); the cause says why.
    if let Some(cause) = error.get("caused_by") {
        let (_, inner) = type_and_reason(cause);
        if !inner.is_empty() {
            reason = inner;
        }
    }
    (kind, reason)
}

/// The numbers in square brackets of a reason, in order: the engines name dimensions so.
fn bracketed_numbers(reason: &str) -> Vec<usize> {
    reason
        .split('[')
        .skip(1)
        .filter_map(|part| part.split(']').next()?.trim().parse().ok())
        .collect()
}

/// A dimension error the server reported, as `VectorDimensionMismatch`.
/// Elasticsearch says "has a different number of dimensions [3] than the document
/// vectors [2]" (or "than defined in the mapping [2]", or "has more dimensions than
/// defined in the mapping [2]"); OpenSearch "Vector dimension mismatch. Expected: 2,
/// Given: 3" when indexing and "Query vector has invalid dimension: 3. Dimension should
/// be: 2" when searching. A reason that only mentions dimensions (a bad mapping, say) is
/// not one.
pub(crate) fn dimension_error(index: &str, reason: &str) -> Option<Error> {
    let lower = reason.to_ascii_lowercase();
    if let (Some(e), Some(g)) = (after(&lower, "expected:"), after(&lower, "given:")) {
        return Some(dimension_mismatch(index, e, g));
    }
    if let (Some(g), Some(e)) = (
        after(&lower, "invalid dimension:"),
        after(&lower, "dimension should be:"),
    ) {
        return Some(dimension_mismatch(index, e, g));
    }
    let numbers = bracketed_numbers(&lower);
    if lower.contains("different number of dimensions") {
        if let [.., got, expected] = numbers.as_slice() {
            return Some(dimension_mismatch(index, *expected, *got));
        }
    }
    if lower.contains("more dimensions than") {
        if let [.., expected] = numbers.as_slice() {
            // The server does not say how many it got.
            return Some(Error::new(
                ErrorCode::VectorDimensionMismatch,
                format!("index '{index}' holds {expected}-dimensional vectors, got a longer one: use the index's embedding model"),
            ));
        }
    }
    None
}

fn after(text: &str, key: &str) -> Option<usize> {
    let rest = &text[text.find(key)? + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The error for a reply that is not a success: a missing index, a dimension the index
/// does not hold, rejected credentials, or the server's own reason. Retryable statuses
/// never get here (see `SearchEngineStore::call`).
pub(crate) fn failure(store: &str, index: &str, what: &str, reply: &Reply) -> Error {
    let (kind, reason) = type_and_reason(&reply.body);
    if reply.status == 404 && kind == "index_not_found_exception" {
        return index_not_found(index);
    }
    let on = if index.is_empty() {
        String::new()
    } else {
        format!(" on '{index}'")
    };
    if reply.status == 401 || reply.status == 403 {
        return refused(
            store,
            format!(
                "{what}{on}: HTTP {} {kind}: check the connection's Username and Password or ApiKey, and the user's privileges",
                reply.status
            ),
        );
    }
    if let Some(err) = dimension_error(index, &reason) {
        return err;
    }
    let detail = if kind.is_empty() {
        format!("HTTP {}", reply.status)
    } else {
        format!("HTTP {} {kind}: {reason}", reply.status)
    };
    refused(store, format!("{what}{on}: {detail}"))
}

/// `(_id, file_meta_id, _score)` of each hit.
pub(crate) fn hits(body: &Value) -> Vec<(String, String, f64)> {
    let Some(hits) = body.pointer("/hits/hits").and_then(Value::as_array) else {
        return Vec::new();
    };
    hits.iter()
        .filter_map(|hit| {
            let id = hit.get("_id")?.as_str()?.to_string();
            let file = hit.pointer("/_source/file_meta_id")?.as_str()?.to_string();
            let score = hit.get("_score").and_then(Value::as_f64).unwrap_or(0.0);
            Some((id, file, score))
        })
        .collect()
}

/// `hits.total.value` (or a bare number, as older servers send).
pub(crate) fn total(body: &Value) -> Option<u64> {
    let total = body.pointer("/hits/total")?;
    total.get("value").unwrap_or(total).as_u64()
}

/// The properties of the (only) index in a `GET <index>/_mapping` answer; the key is
/// the concrete index, which differs from the name asked for when that is an alias.
pub(crate) fn mapping_properties(body: &Value) -> Option<&serde_json::Map<String, Value>> {
    body.as_object()?
        .values()
        .next()?
        .pointer("/mappings/properties")?
        .as_object()
}

/// How `file_meta_id` is mapped: `keyword`, `text` with a `keyword` sub-field, or `text`.
pub(crate) fn file_meta_field(properties: &serde_json::Map<String, Value>) -> FileMetaField {
    let Some(field) = properties.get("file_meta_id") else {
        // Missing: the first document maps it dynamically as text with a `keyword` sub-field.
        return FileMetaField::Keyword("file_meta_id.keyword".into());
    };
    if field.get("type").and_then(Value::as_str) == Some("keyword") {
        return FileMetaField::Keyword("file_meta_id".into());
    }
    let keyword_sub = field
        .get("fields")
        .and_then(Value::as_object)
        .and_then(|subs| {
            subs.iter()
                .find(|(_, sub)| sub.get("type").and_then(Value::as_str) == Some("keyword"))
                .map(|(name, _)| format!("file_meta_id.{name}"))
        });
    keyword_sub.map_or(FileMetaField::Text, FileMetaField::Keyword)
}

/// The per-item errors of a `_bulk` answer (`errors: true`): `(status, item error)`.
pub(crate) fn bulk_failures(body: &Value) -> Vec<(u16, Value)> {
    if body.get("errors").and_then(Value::as_bool) != Some(true) {
        return Vec::new();
    }
    let Some(items) = body.get("items").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let result = item.as_object()?.values().next()?;
            let error = result.get("error")?;
            let status = result.get("status").and_then(Value::as_u64).unwrap_or(0);
            Some((u16::try_from(status).unwrap_or(0), error.clone()))
        })
        .collect()
}
