//! Names and types: which word is which field, option or the vector clause, which
//! operators apply to each field, and which values it takes.

use chrono::{DateTime, NaiveDate};

use super::ast::{Field, NumberField, Predicate, RangeOp, TagGroup, TextField, TextOp, TimeField};
use super::lexer::{Token, TokenKind};
use super::position::{error_at, excerpt, Position};
use crate::error::Result;
use crate::time::Timestamp;

/// Every field, for "unknown field" messages and lookups.
pub(crate) const FIELDS: [Field; 17] = [
    Field::Text(TextField::FileName),
    Field::Text(TextField::FileDir),
    Field::Text(TextField::Uri),
    Field::Number(NumberField::DataSize),
    Field::Text(TextField::FileType),
    Field::Text(TextField::ContentType),
    Field::Time(TimeField::FileCreateTime),
    Field::Time(TimeField::FileUpdateTime),
    Field::Time(TimeField::TagUpdateTime),
    Field::Tags(TagGroup::Ai),
    Field::Tags(TagGroup::User),
    Field::Tags(TagGroup::UserDeleteAiTags),
    Field::Tags(TagGroup::All),
    Field::Text(TextField::SemanticIndexJobId),
    Field::Time(TimeField::SemanticIndexUpdateTime),
    Field::Number(NumberField::ImageWidth),
    Field::Number(NumberField::ImageHeight),
];

/// What a name in the expression refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    Field(Field),
    /// `Content:"text"`, the vector clause.
    Content,
    TopK,
    ScoreThreshold,
    SignMode,
}

/// The comparison operators as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Colon,
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    pub fn from_token(kind: &TokenKind) -> Option<Op> {
        Some(match kind {
            TokenKind::Colon => Op::Colon,
            TokenKind::Eq => Op::Eq,
            TokenKind::Gt => Op::Gt,
            TokenKind::Ge => Op::Ge,
            TokenKind::Lt => Op::Lt,
            TokenKind::Le => Op::Le,
            _ => return None,
        })
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Colon => ":",
            Op::Eq => "=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }

    fn range(self) -> Option<RangeOp> {
        Some(match self {
            Op::Colon => return None,
            Op::Eq => RangeOp::Eq,
            Op::Gt => RangeOp::Gt,
            Op::Ge => RangeOp::Ge,
            Op::Lt => RangeOp::Lt,
            Op::Le => RangeOp::Le,
        })
    }

    fn text(self) -> Option<TextOp> {
        match self {
            Op::Colon => Some(TextOp::Contains),
            Op::Eq => Some(TextOp::Exact),
            _ => None,
        }
    }
}

/// The field, option or clause a word names; names are case-insensitive.
pub(crate) fn resolve(word: &str, at: Position) -> Result<Name> {
    let lower = word.to_ascii_lowercase();
    let special = match lower.as_str() {
        "content" => Some(Name::Content),
        "topk" => Some(Name::TopK),
        "scorethreshold" => Some(Name::ScoreThreshold),
        "signmode" => Some(Name::SignMode),
        _ => None,
    };
    if let Some(name) = special {
        return Ok(name);
    }
    if let Some(field) = FIELDS
        .iter()
        .find(|f| f.name().eq_ignore_ascii_case(&lower))
    {
        return Ok(Name::Field(*field));
    }
    if lower == "tags" || lower.starts_with("tags.") {
        return Err(error_at(
            at,
            format!(
                "unknown tag group '{}'; the groups are Tags.ai, Tags.user, Tags.user-delete-ai-tags and Tags.all",
                excerpt(word, 40)
            ),
        ));
    }
    let known: Vec<&str> = FIELDS.iter().map(|f| f.name()).collect();
    Err(error_at(
        at,
        format!(
            "unknown field '{}'; the fields are {}, and Content, TopK, ScoreThreshold, SignMode",
            excerpt(word, 40),
            known.join(", ")
        ),
    ))
}

/// The typed clause `field op value`, or an error that names the field, the operator
/// and what the field takes.
pub(crate) fn predicate(field: Field, op: Op, op_at: Position, value: &Token) -> Result<Predicate> {
    let name = field.name();
    match field {
        Field::Text(field) => {
            let (op, value) = text_clause(name, op, op_at, value)?;
            Ok(Predicate::Text { field, op, value })
        }
        Field::Tags(group) => {
            let (op, value) = text_clause(name, op, op_at, value)?;
            Ok(Predicate::Tag { group, op, value })
        }
        Field::Number(field) => {
            let op = range_op(name, op, op_at, "a number")?;
            let TokenKind::Number(number) = value.kind else {
                return Err(wrong_value(name, "a number", value));
            };
            Ok(Predicate::Number {
                field,
                op,
                value: number,
            })
        }
        Field::Time(field) => {
            let op = range_op(name, op, op_at, "an ISO 8601 time")?;
            let TokenKind::Str(text) = &value.kind else {
                return Err(wrong_value(name, TIME_HINT, value));
            };
            let Some(time) = parse_time(text) else {
                return Err(error_at(
                    value.at,
                    format!(
                        "{} is not a time; {name} takes {TIME_HINT}",
                        value.describe()
                    ),
                ));
            };
            Ok(Predicate::Time {
                field,
                op,
                value: time,
            })
        }
    }
}

fn text_clause(name: &str, op: Op, op_at: Position, value: &Token) -> Result<(TextOp, String)> {
    let Some(text_op) = op.text() else {
        return Err(error_at(
            op_at,
            format!(
                "'{}' does not apply to {name}; {name} takes ':' (contains, ignoring ASCII case) or '=' (exact)",
                op.symbol()
            ),
        ));
    };
    let TokenKind::Str(text) = &value.kind else {
        return Err(wrong_value(name, "a string in double quotes", value));
    };
    Ok((text_op, text.clone()))
}

const TIME_HINT: &str = "an ISO 8601 time in double quotes with a zone, such as \"2025-02-28T00:00:00Z\" or \"2025-02-28T08:00:00.250+08:00\", or a date such as \"2025-02-28\" (midnight UTC)";

fn range_op(name: &str, op: Op, op_at: Position, what: &str) -> Result<RangeOp> {
    op.range().ok_or_else(|| {
        error_at(
            op_at,
            format!(
                "'{}' does not apply to {name}; {name} takes =, >, >=, < or <= with {what}",
                op.symbol()
            ),
        )
    })
}

fn wrong_value(name: &str, expected: &str, value: &Token) -> crate::Error {
    error_at(
        value.at,
        format!("{name} takes {expected}, but found {}", value.describe()),
    )
}

/// An ISO 8601 instant: RFC 3339 with a zone (`Z` or `±hh:mm`, fractional seconds
/// allowed and cut to milliseconds), or a date alone, meaning midnight UTC.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(Timestamp::from_millis(time.timestamp_millis()));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc();
    Some(Timestamp::from_millis(midnight.timestamp_millis()))
}
