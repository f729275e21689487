//! The search DSL (`QueryExpression`, as in PAI's `ListDatasetFileMetas`): a
//! hand-written lexer and recursive-descent parser, a typed filter, an in-memory
//! evaluator and a compiler to parameterised SQL for PostgreSQL and SQLite. The grammar
//! with examples is in the README's "Query DSL" section; this page is the reference for the semantics.
//!
//! ```
//! let query = loupe_core::query::parse(
//!     r#"FileDir:"blue_car" AND NOT FileName="toyota.jpg" AND Content:"a red car" AND TopK=10"#,
//! ).unwrap();
//! assert_eq!(query.content.as_deref(), Some("a red car"));
//! assert_eq!(query.options.top_k, Some(10));
//! assert!(query.filter.is_some());
//! ```
//!
//! # Syntax
//! - Precedence `NOT` > `AND` > `OR`; parentheses group. There is no implicit AND:
//!   clauses side by side are an error.
//! - Keywords (`AND`, `OR`, `NOT`, `HAS`) and names (fields, `Content`, options) are
//!   case-insensitive: `fileName`, `tags.ALL` and `FileName`, `Tags.all` are the same.
//! - Strings are double-quoted with the escapes `\"` `\\` `\/` `\n` `\r` `\t` `\uXXXX`
//!   (UTF-16 surrogate pairs as two escapes); NUL is refused (PostgreSQL cannot store it).
//! - Numbers are `-?digits` or `-?digits.digits`; no exponent.
//! - Times are strings in ISO 8601 / RFC 3339 with a zone (`"2025-02-28T00:00:00Z"`,
//!   `"2025-02-28T08:00:00.250+08:00"`), or a date (`"2025-02-28"`, midnight UTC).
//!   Files keep milliseconds, so finer digits are cut.
//!
//! # Fields and operators
//! | field | type | operators | absent? |
//! |---|---|---|---|
//! | `FileName`, `FileDir`, `Uri`, `FileType`, `ContentType` | string | `=` `:` | never |
//! | `SemanticIndexJobId` | string | `=` `:` | until indexed |
//! | `DataSize` | number | `=` `>` `>=` `<` `<=` | never |
//! | `ImageWidth`, `ImageHeight` | number | `=` `>` `>=` `<` `<=` | until probed |
//! | `FileCreateTime`, `FileUpdateTime` | time | `=` `>` `>=` `<` `<=` | never |
//! | `TagUpdateTime`, `SemanticIndexUpdateTime` | time | `=` `>` `>=` `<` `<=` | until tagged / indexed |
//! | `Tags.ai`, `Tags.user`, `Tags.user-delete-ai-tags`, `Tags.all` | set of strings | `=` `:` | never (may be empty) |
//!
//! # Semantics
//! - `field = "v"`: exact, case-sensitive equality.
//! - `field : "v"`: the value contains `v` as a substring, ignoring the case of ASCII
//!   letters only (`A`–`Z` fold to `a`–`z`; `É` and `é` differ). Every character is
//!   literal: `%`, `_`, `\`, quotes match themselves. ASCII-only folding is what both
//!   stores can do identically (SQLite's `lower` folds ASCII only), so the evaluator
//!   does the same.
//! - `Tags.g = "v"`: the group holds the tag `v`. `Tags.g : "v"`: some tag of the group
//!   contains `v` as above. `HAS Tags.g`: the group is not empty.
//! - `Tags.all` = (`ai` − `user-delete-ai-tags`) ∪ `user`, the tags search sees.
//! - Numbers and times compare numerically; a decimal against an integer field
//!   compares as a float (`DataSize > 1.5` holds for 2).
//! - `HAS field`: the field has a value. For fields that are never absent it is true.
//! - A comparison on an absent value is false, so its `NOT` is true:
//!   `NOT ImageWidth > 100` holds for files whose width is unknown.
//! - `Content:"text"` is the vector clause and `TopK=<int>`, `ScoreThreshold=<number>`,
//!   `SignMode="…"` are options. They are taken out of the filter and may only be
//!   clauses of the top-level AND (parenthesised conjunctions count as top-level);
//!   under `OR` or `NOT` they are an error. At most one `Content`; each option once.
//!   `SignMode` is recorded and has no effect.
//! - A blank expression is an empty query: no filter, no vector clause.
//!
//! # Limits
//! [`Limits::default`]: at most 8 KiB of text, 64 levels of parentheses and `NOT`s, 256
//! clauses. Errors are [`ErrorCode::InvalidQueryExpression`](crate::ErrorCode) and say
//! where (`at position N`, 1-based characters, or `at line L, column C` when the
//! expression has several lines) and what was expected.

mod ast;
mod eval;
mod fields;
mod lexer;
mod memory_index;
mod parser;
mod position;
mod sql;
mod toplevel;

#[cfg(test)]
mod tests;

pub use ast::{
    Expr, Field, Number, NumberField, Predicate, RangeOp, TagGroup, TextField, TextOp, TimeField,
};
pub use eval::{contains_ascii_case_insensitive, SearchableFile};
pub use fields::parse_time;
pub use memory_index::{BuildError, IndexedFile, MemoryIndex, MemoryIndexBuilder};
pub use position::Position;
/// The bitmaps [`MemoryIndex`] answers with.
pub use roaring::RoaringBitmap;
pub use sql::{
    compile, compile_for_walk, compile_tag_count, Dialect, SqlFilter, SqlValue, FILE_ALIAS,
};

use crate::error::Result;

/// A parsed `QueryExpression`: the filter, the vector clause and the options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// The boolean filter over file metas; `None` when the expression has none.
    pub filter: Option<Expr>,
    /// The text of `Content:"…"`, to rank by similarity.
    pub content: Option<String>,
    /// `TopK`, `ScoreThreshold`, `SignMode`.
    pub options: QueryOptions,
}

/// The options written as pseudo-clauses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    /// `TopK=<int>`: at most this many vector hits (at least 1).
    pub top_k: Option<u32>,
    /// `ScoreThreshold=<number>`: only hits scoring above it.
    pub score_threshold: Option<f64>,
    /// `SignMode="…"`: accepted for PAI compatibility and otherwise ignored.
    pub sign_mode: Option<String>,
}

/// Bounds that keep parsing cheap whatever the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest expression, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of parentheses and `NOT`s.
    pub max_depth: usize,
    /// Most clauses (predicates, `Content`, options).
    pub max_clauses: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 8 * 1024,
            max_depth: 64,
            max_clauses: 256,
        }
    }
}

/// Parses a `QueryExpression` within the default [`Limits`].
pub fn parse(text: &str) -> Result<Query> {
    parse_with(text, &Limits::default())
}

/// Parses a `QueryExpression` within `limits`.
pub fn parse_with(text: &str, limits: &Limits) -> Result<Query> {
    if text.len() > limits.max_bytes {
        return Err(position::error(format!(
            "the expression is {} bytes long; at most {} are allowed",
            text.len(),
            limits.max_bytes
        )));
    }
    if text.trim().is_empty() {
        return Ok(Query::default());
    }
    let tokens = lexer::tokenize(text)?;
    toplevel::split(parser::parse_tree(tokens, limits)?)
}
