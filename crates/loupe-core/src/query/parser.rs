//! Recursive descent over the tokens, one function per grammar rule (see the README's "Query DSL" section):
//!
//! ```text
//! or_expr  = and_expr { OR and_expr }
//! and_expr = not_expr { AND not_expr }
//! not_expr = NOT not_expr | primary
//! primary  = "(" or_expr ")" | HAS field | name op value
//! ```
//!
//! Depth (open parentheses plus `NOT`s on the current path) is checked before each
//! descent, so a 10,000-deep nesting is refused after 64 levels instead of overflowing
//! the stack. Each token is looked at a bounded number of times: parsing is linear.

use super::ast::{Number, Predicate};
use super::fields::{predicate, resolve, Name, Op};
use super::lexer::{Token, TokenKind};
use super::position::{error_at, excerpt, Position};
use super::Limits;
use crate::error::Result;

/// The parse tree before the vector clause and the options are taken out of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Pred(Predicate),
    /// `Content:"text"`, at the position of `Content`.
    Content {
        text: String,
        at: Position,
    },
    /// `TopK=…`, `ScoreThreshold=…`, `SignMode=…`, at the position of the name.
    Option {
        option: QueryOption,
        at: Position,
    },
}

/// A query option written as a pseudo-clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QueryOption {
    TopK(u32),
    ScoreThreshold(f64),
    SignMode(String),
}

impl QueryOption {
    pub fn name(&self) -> &'static str {
        match self {
            QueryOption::TopK(_) => "TopK",
            QueryOption::ScoreThreshold(_) => "ScoreThreshold",
            QueryOption::SignMode(_) => "SignMode",
        }
    }
}

/// The whole expression as one tree.
pub(crate) fn parse_tree(tokens: Vec<Token>, limits: &Limits) -> Result<Node> {
    let mut parser = Parser {
        tokens,
        index: 0,
        clauses: 0,
        limits,
    };
    let node = parser.or_expr(0)?;
    let next = parser.peek();
    if next.kind != TokenKind::Eof {
        return Err(error_at(
            next.at,
            format!(
                "expected AND, OR or the end of the expression but found {}{}",
                next.describe(),
                implicit_and_hint(next)
            ),
        ));
    }
    Ok(node)
}

/// Clauses side by side are a mistake worth naming: there is no implicit AND.
fn implicit_and_hint(token: &Token) -> &'static str {
    match token.kind {
        TokenKind::Ident(_) | TokenKind::Has | TokenKind::Not | TokenKind::LParen => {
            " (join clauses with AND or OR)"
        }
        _ => "",
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    index: usize,
    clauses: usize,
    limits: &'a Limits,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The lexer always ends the list with Eof, and nothing advances past it.
        &self.tokens[self.index.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.index += 1;
        }
        token
    }

    fn descend(&self, depth: usize, at: Position) -> Result<usize> {
        if depth >= self.limits.max_depth {
            return Err(error_at(
                at,
                format!(
                    "parentheses and NOTs nest deeper than {} levels",
                    self.limits.max_depth
                ),
            ));
        }
        Ok(depth + 1)
    }

    fn count_clause(&mut self, at: Position) -> Result<()> {
        self.clauses += 1;
        if self.clauses > self.limits.max_clauses {
            return Err(error_at(
                at,
                format!("more than {} clauses", self.limits.max_clauses),
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self, depth: usize) -> Result<Node> {
        let mut items = vec![self.and_expr(depth)?];
        while self.peek().kind == TokenKind::Or {
            self.advance();
            items.push(self.and_expr(depth)?);
        }
        Ok(join(items, false))
    }

    fn and_expr(&mut self, depth: usize) -> Result<Node> {
        let mut items = vec![self.not_expr(depth)?];
        while self.peek().kind == TokenKind::And {
            self.advance();
            items.push(self.not_expr(depth)?);
        }
        Ok(join(items, true))
    }

    fn not_expr(&mut self, depth: usize) -> Result<Node> {
        if self.peek().kind != TokenKind::Not {
            return self.primary(depth);
        }
        let not = self.advance();
        let depth = self.descend(depth, not.at)?;
        Ok(Node::Not(Box::new(self.not_expr(depth)?)))
    }

    fn primary(&mut self, depth: usize) -> Result<Node> {
        let token = self.advance();
        match token.kind {
            TokenKind::LParen => {
                let inner = self.or_expr(self.descend(depth, token.at)?)?;
                let close = self.advance();
                if close.kind != TokenKind::RParen {
                    return Err(error_at(
                        close.at,
                        format!(
                            "expected AND, OR or ')' to close the '(' at {} but found {}{}",
                            token.at,
                            close.describe(),
                            implicit_and_hint(&close)
                        ),
                    ));
                }
                Ok(inner)
            }
            TokenKind::Has => self.has(token.at),
            TokenKind::Ident(ref word) => self.clause(word, token.at),
            _ => Err(error_at(
                token.at,
                format!(
                    "expected a clause (a field, HAS, NOT or '(') but found {}",
                    token.describe()
                ),
            )),
        }
    }

    /// `HAS field`, after `HAS` (at `at`).
    fn has(&mut self, at: Position) -> Result<Node> {
        let token = self.advance();
        let TokenKind::Ident(word) = &token.kind else {
            return Err(error_at(
                token.at,
                format!(
                    "expected a field name after HAS but found {}",
                    token.describe()
                ),
            ));
        };
        let Name::Field(field) = resolve(word, token.at)? else {
            return Err(error_at(
                token.at,
                format!("HAS applies to fields, not to {}", token.describe()),
            ));
        };
        self.count_clause(at)?;
        Ok(Node::Pred(Predicate::Has(field)))
    }

    /// `name op value`, after the name.
    fn clause(&mut self, word: &str, at: Position) -> Result<Node> {
        let name = resolve(word, at)?;
        let op_token = self.advance();
        let Some(op) = Op::from_token(&op_token.kind) else {
            return Err(error_at(
                op_token.at,
                format!(
                    "expected an operator (':', '=', '>', '>=', '<' or '<=') after '{}' but found {}",
                    excerpt(word, 40),
                    op_token.describe()
                ),
            ));
        };
        let value = self.advance();
        if !matches!(value.kind, TokenKind::Str(_) | TokenKind::Number(_)) {
            return Err(error_at(
                value.at,
                format!(
                    "expected a value after '{}' but found {}",
                    op.symbol(),
                    value.describe()
                ),
            ));
        }
        self.count_clause(at)?;
        match name {
            Name::Field(field) => Ok(Node::Pred(predicate(field, op, op_token.at, &value)?)),
            Name::Content => content(op, op_token.at, &value, at),
            Name::TopK | Name::ScoreThreshold | Name::SignMode => {
                option(name, op, op_token.at, &value, at)
            }
        }
    }
}

/// One operand stays itself; several become one node, absorbing nested nodes of the
/// same kind so `(a AND b) AND c` is one conjunction.
fn join(mut items: Vec<Node>, conjunction: bool) -> Node {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Node::And(inner) if conjunction => flat.extend(inner),
            Node::Or(inner) if !conjunction => flat.extend(inner),
            item => flat.push(item),
        }
    }
    if conjunction {
        Node::And(flat)
    } else {
        Node::Or(flat)
    }
}

fn content(op: Op, op_at: Position, value: &Token, at: Position) -> Result<Node> {
    if op != Op::Colon {
        return Err(error_at(
            op_at,
            format!(
                "'{}' does not apply to Content; write Content:\"text to search for\"",
                op.symbol()
            ),
        ));
    }
    let TokenKind::Str(text) = &value.kind else {
        return Err(error_at(
            value.at,
            format!(
                "Content takes a string in double quotes, but found {}",
                value.describe()
            ),
        ));
    };
    if text.trim().is_empty() {
        return Err(error_at(value.at, "Content needs some text to search for"));
    }
    Ok(Node::Content {
        text: text.clone(),
        at,
    })
}

fn option(name: Name, op: Op, op_at: Position, value: &Token, at: Position) -> Result<Node> {
    let label = match name {
        Name::TopK => "TopK",
        Name::ScoreThreshold => "ScoreThreshold",
        _ => "SignMode",
    };
    if op != Op::Eq {
        return Err(error_at(
            op_at,
            format!(
                "'{}' does not apply to {label}; write {label}=…",
                op.symbol()
            ),
        ));
    }
    let option = match (name, &value.kind) {
        (Name::TopK, TokenKind::Number(Number::Int(k))) if *k >= 1 && *k <= i64::from(u32::MAX) => {
            QueryOption::TopK(*k as u32)
        }
        (Name::TopK, _) => {
            return Err(error_at(
                value.at,
                format!(
                    "TopK takes a whole number from 1 to {}, but found {}",
                    u32::MAX,
                    value.describe()
                ),
            ))
        }
        (Name::ScoreThreshold, TokenKind::Number(number)) => {
            QueryOption::ScoreThreshold(match number {
                Number::Int(i) => *i as f64,
                Number::Float(f) => *f,
            })
        }
        (Name::ScoreThreshold, _) => {
            return Err(error_at(
                value.at,
                format!(
                    "ScoreThreshold takes a number, but found {}",
                    value.describe()
                ),
            ))
        }
        (_, TokenKind::Str(mode)) => QueryOption::SignMode(mode.clone()),
        _ => {
            return Err(error_at(
                value.at,
                format!(
                    "SignMode takes a string in double quotes, but found {}",
                    value.describe()
                ),
            ))
        }
    };
    Ok(Node::Option { option, at })
}
