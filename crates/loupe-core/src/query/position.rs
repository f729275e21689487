//! Where in the expression something is, and the one error shape every stage reports:
//! `QueryExpression: at position 17: expected a value after '=' but found 'AND'`.

use crate::error::{Error, ErrorCode};

/// A character position, 1-based. Positions count characters (not bytes), so they match
/// what a person sees in an editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Character within the line, from 1.
    pub column: usize,
    /// Whether the expression spans several lines; a one-line expression reports the
    /// column alone, as `position N`.
    pub multiline: bool,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.multiline {
            write!(f, "line {}, column {}", self.line, self.column)
        } else {
            write!(f, "position {}", self.column)
        }
    }
}

/// An [`ErrorCode::InvalidQueryExpression`] at a position.
pub(crate) fn error_at(at: Position, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidQueryExpression,
        format!("QueryExpression: at {at}: {message}"),
    )
}

/// An [`ErrorCode::InvalidQueryExpression`] about the whole expression.
pub(crate) fn error(message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidQueryExpression,
        format!("QueryExpression: {message}"),
    )
}

/// Up to `max` characters of `text`, with `…` when cut: error messages quote what they
/// found without echoing a whole 8 KiB string back.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}
