//! Takes the vector clause and the options out of the top-level AND. Vector ranking
//! combines with a filter only as "filter AND nearest to the text", so `Content` and
//! the options anywhere under OR or NOT have no meaning and are refused.

use super::ast::Expr;
use super::parser::{Node, QueryOption};
use super::position::{error_at, Position};
use super::{Query, QueryOptions};
use crate::error::Result;

/// Splits a parse tree into filter, vector text and options.
pub(crate) fn split(root: Node) -> Result<Query> {
    let conjuncts = match root {
        Node::And(items) => items,
        other => vec![other],
    };
    let mut query = Query::default();
    let mut filters = Vec::new();
    for node in conjuncts {
        match node {
            Node::Content { text, at } => {
                if query.content.is_some() {
                    return Err(error_at(
                        at,
                        "a second Content clause; a query has at most one",
                    ));
                }
                query.content = Some(text);
            }
            Node::Option { option, at } => set_option(&mut query.options, option, at)?,
            other => filters.push(to_expr(other, "AND")?),
        }
    }
    query.filter = match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Expr::And(filters)),
    };
    Ok(query)
}

fn set_option(options: &mut QueryOptions, option: QueryOption, at: Position) -> Result<()> {
    let name = option.name();
    let was_set = match option {
        QueryOption::TopK(k) => options.top_k.replace(k).is_some(),
        QueryOption::ScoreThreshold(s) => options.score_threshold.replace(s).is_some(),
        QueryOption::SignMode(m) => options.sign_mode.replace(m).is_some(),
    };
    if was_set {
        return Err(error_at(at, format!("{name} is given twice")));
    }
    Ok(())
}

/// The filter of a subtree that must hold no vector clause and no option; `under` is
/// the nearest enclosing OR or NOT, for the message.
fn to_expr(node: Node, under: &'static str) -> Result<Expr> {
    Ok(match node {
        Node::Pred(predicate) => Expr::Pred(predicate),
        Node::And(items) => Expr::And(
            items
                .into_iter()
                .map(|n| to_expr(n, under))
                .collect::<Result<_>>()?,
        ),
        Node::Or(items) => Expr::Or(
            items
                .into_iter()
                .map(|n| to_expr(n, "OR"))
                .collect::<Result<_>>()?,
        ),
        Node::Not(inner) => Expr::Not(Box::new(to_expr(*inner, "NOT")?)),
        Node::Content { at, .. } => return Err(misplaced("Content:\"…\"", at, under)),
        Node::Option { option, at } => return Err(misplaced(option.name(), at, under)),
    })
}

fn misplaced(what: &str, at: Position, under: &str) -> crate::Error {
    error_at(
        at,
        format!(
            "{what} must be a clause of the top-level AND (filter AND {what}), but it is under {under}"
        ),
    )
}
