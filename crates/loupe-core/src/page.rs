//! Cursor pagination: `MaxResults` (1–100, default 10) and an opaque `NextToken`.
//!
//! A token is base64url JSON naming the list it belongs to and the sort key of the
//! last item returned. Tokens carry no workspace: every query is scoped by the caller's
//! key anyway, so a token cannot widen what a caller sees.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::{Error, ErrorCode, Result};

/// Default page size.
pub const DEFAULT_MAX_RESULTS: u32 = 10;
/// Largest page size.
pub const MAX_MAX_RESULTS: u32 = 100;

/// Where the previous page stopped: the sort key and the id of its last item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The list this cursor belongs to, e.g. `datasets`.
    #[serde(rename = "l")]
    pub list: String,
    /// The sort key of the last item.
    #[serde(rename = "k")]
    pub key: i64,
    /// The id of the last item, to break ties.
    #[serde(rename = "i")]
    pub id: String,
    /// A text sort key (e.g. a file name), for lists sorted by text.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Cursor {
    /// A cursor on a numeric sort key.
    pub fn new(list: &str, key: i64, id: impl Into<String>) -> Self {
        Self {
            list: list.to_string(),
            key,
            id: id.into(),
            text: None,
        }
    }
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// How many items at most.
    pub limit: u32,
    /// Where to continue, if not at the start.
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Validates `MaxResults` and decodes `NextToken` for the named list.
    pub fn parse(list: &str, max_results: Option<u32>, next_token: Option<&str>) -> Result<Self> {
        let limit = max_results.unwrap_or(DEFAULT_MAX_RESULTS);
        if !(1..=MAX_MAX_RESULTS).contains(&limit) {
            return Err(Error::invalid(format!(
                "MaxResults must be between 1 and {MAX_MAX_RESULTS}, got {limit}"
            )));
        }
        let after = match next_token.filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => Some(decode(list, token)?),
        };
        Ok(Self { limit, after })
    }

    /// The first page of a list.
    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }
}

fn decode(list: &str, token: &str) -> Result<Cursor> {
    let invalid = || {
        Error::new(
            ErrorCode::InvalidNextToken,
            "NextToken is not valid for this list: pass the NextToken of the previous page unchanged, or omit it to start over",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.list != list {
        return Err(invalid());
    }
    Ok(cursor)
}

/// Encodes a cursor as `NextToken`.
pub fn encode(cursor: &Cursor) -> String {
    let json = serde_json::to_vec(cursor).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many items the whole list holds.
    pub total_count: i64,
    /// Token for the next page; `None` on the last page.
    pub next_token: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row only tells that
    /// another page exists.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: u32,
        total_count: i64,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_token = match (more, items.last()) {
            (true, Some(last)) => Some(encode(&cursor_of(last))),
            _ => None,
        };
        Self {
            items,
            total_count,
            next_token,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_for_their_own_list_only() {
        let cursor = Cursor {
            list: "datasets".into(),
            key: 42,
            id: "d-1".into(),
            text: None,
        };
        let token = encode(&cursor);
        let page = PageRequest::parse("datasets", Some(5), Some(&token)).unwrap();
        assert_eq!(page.after, Some(cursor));
        let err = PageRequest::parse("versions", None, Some(&token)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidNextToken);
        let err = PageRequest::parse("datasets", None, Some("garbage!")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidNextToken);
    }

    #[test]
    fn max_results_is_bounded() {
        assert_eq!(PageRequest::parse("x", None, None).unwrap().limit, 10);
        for bad in [0, 101] {
            let err = PageRequest::parse("x", Some(bad), None).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidParameter);
        }
    }

    #[test]
    fn overfetch_sets_next_token_only_when_more_exist() {
        let cursor = |n: &i64| Cursor {
            list: "x".into(),
            key: *n,
            id: n.to_string(),
            text: None,
        };
        let page = Page::from_overfetch(vec![1, 2, 3], 2, 3, cursor);
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.next_token.is_some());
        let last = Page::from_overfetch(vec![1, 2], 2, 2, cursor);
        assert!(last.next_token.is_none());
    }
}
