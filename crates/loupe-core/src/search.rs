//! The search request (PAI's `ListDatasetFileMetas`) and its plan: every condition —
//! tag lists, name and folder, types, time ranges and the `QueryExpression` — becomes
//! one filter of the query DSL's typed form, ANDed, so the SQL compiler and the
//! in-memory evaluator see one shape; the text, image or `Content:` clause becomes the
//! vector part that ranks what the filter leaves.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::file_meta::SortOrder;
use crate::query::{self, Expr, Predicate, RangeOp, TagGroup, TextField, TextOp, TimeField};
use crate::{Error, Result};

/// Most values in one list parameter.
pub const MAX_LIST: usize = 100;
/// Longest value of a string parameter.
pub const MAX_TEXT: usize = 1024;

/// How `ListDatasetFileMetas` finds files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum QueryType {
    /// Tag and metadata conditions, ranked by `QueryText`/`QueryImage` when given.
    #[default]
    Mix,
    /// Tag and metadata conditions only; `QueryText` is one more tag that must be present.
    Tag,
    /// Ranked by similarity to `QueryText` or `QueryImage`, within the other conditions.
    Vector,
}

/// Orders of a search without a vector part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
pub enum SearchSort {
    /// By file name, then id.
    #[default]
    FileName,
    /// By update time, then id.
    FileUpdateTime,
    /// By creation time, then id.
    FileCreateTime,
}

impl SearchSort {
    /// The list name its page tokens carry, so a token of one order is refused by another.
    pub fn list_name(self) -> &'static str {
        match self {
            SearchSort::FileName => "files-by-name",
            SearchSort::FileUpdateTime => "files-by-time",
            SearchSort::FileCreateTime => "files-by-created",
        }
    }
}

/// PAI's `ListDatasetFileMetas` as a JSON body (`POST …/datasetfilemetas/search`); the
/// `GET` form takes the same names as query parameters, lists comma-joined. Every
/// condition given must hold.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SearchRequest {
    /// The version, e.g. `v1`.
    pub dataset_version: String,
    /// `MIX` (default), `TAG` or `VECTOR`.
    #[serde(default)]
    pub query_type: Option<QueryType>,
    /// Text to rank by (`MIX`, `VECTOR`), or one more required tag (`TAG`).
    #[serde(default)]
    pub query_text: Option<String>,
    /// An image to rank by: a file meta id or `Uri` of this version, or an uploaded image
    /// as `data:image/…;base64,…` (at most 8 MiB decoded).
    #[serde(default)]
    pub query_image: Option<String>,
    /// Leave the query image's own file out of the hits (default `false`).
    #[serde(default)]
    pub exclude_query_image: Option<bool>,
    /// How many of the closest files to rank (1 to 1000, default 10).
    #[serde(default)]
    pub top_k: Option<u32>,
    /// Only hits scoring above this.
    #[serde(default)]
    pub score_threshold: Option<f64>,
    /// Files with at least one of these tags.
    #[serde(default)]
    pub query_tags_include_any: Vec<String>,
    /// Files with all of these tags.
    #[serde(default)]
    pub query_tags_include_all: Vec<String>,
    /// Files with none of these tags.
    #[serde(default)]
    pub query_tags_exclude: Vec<String>,
    /// The tag group the three tag lists look at: `all` (default: (ai − user-delete-ai-tags)
    /// ∪ user), `ai` or `user`.
    #[serde(default)]
    pub tag_group: Option<String>,
    /// Files whose name contains this (case-insensitive, literal).
    #[serde(default)]
    pub query_file_name: Option<String>,
    /// Files whose folder contains this (case-insensitive, literal).
    #[serde(default)]
    pub query_file_dir: Option<String>,
    /// Files of one of these `FileType`s (`image`).
    #[serde(default)]
    pub query_file_type_include_any: Vec<String>,
    /// Files of one of these MIME types, e.g. `image/png`.
    #[serde(default)]
    pub query_content_type_include_any: Vec<String>,
    /// Files updated at or after this time (ISO 8601, e.g. `2025-02-28T00:00:00Z`).
    #[serde(default)]
    pub start_file_update_time: Option<String>,
    /// Files updated at or before this time.
    #[serde(default)]
    pub end_file_update_time: Option<String>,
    /// Files whose tags changed at or after this time.
    #[serde(default)]
    pub start_tag_update_time: Option<String>,
    /// Files whose tags changed at or before this time.
    #[serde(default)]
    pub end_tag_update_time: Option<String>,
    /// The query DSL (see the README); ANDed with the other conditions.
    #[serde(default)]
    pub query_expression: Option<String>,
    /// `FileName` (default), `FileUpdateTime` or `FileCreateTime`; ranked searches are
    /// ordered by score.
    #[serde(default)]
    pub sort_by: Option<SearchSort>,
    /// `ASC` (default) or `DESC`.
    #[serde(default)]
    pub order: Option<SortOrder>,
    /// Page size, 1 to 100 (default 10).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// The `NextToken` of the previous page of the same search.
    #[serde(default)]
    pub next_token: Option<String>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

/// What ranks a search.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// A text, embedded with the dataset's model.
    Text(String),
    /// An image given as `QueryImage`.
    Image(String),
}

/// The ranked part of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorPart {
    /// What to rank by.
    pub probe: Probe,
    /// How many hits.
    pub top_k: Option<u32>,
    /// Only hits scoring above this.
    pub score_threshold: Option<f64>,
    /// Leave the query image's file out.
    pub exclude_query_image: bool,
}

/// A search, planned.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPlan {
    /// Every condition, ANDed; `None` when there is none.
    pub filter: Option<Expr>,
    /// The ranking, if any.
    pub vector: Option<VectorPart>,
    /// The order of an unranked search.
    pub sort: SearchSort,
    /// Its direction.
    pub order: SortOrder,
}

impl SearchRequest {
    /// Checks every parameter and builds the plan; errors name the parameter.
    pub fn plan(&self) -> Result<SearchPlan> {
        let query_type = self.query_type.unwrap_or_default();
        let mut all: Vec<Expr> = Vec::new();
        let dsl = match self.query_expression.as_deref() {
            Some(text) => query::parse(text)?,
            None => query::Query::default(),
        };
        let group = tag_group(self.tag_group.as_deref())?;
        let mut include_all = list("QueryTagsIncludeAll", &self.query_tags_include_all)?;
        let text = text_param("QueryText", self.query_text.as_deref())?;
        if query_type == QueryType::Tag {
            include_all.extend(text.clone());
        }
        let any = list("QueryTagsIncludeAny", &self.query_tags_include_any)?;
        let exclude = list("QueryTagsExclude", &self.query_tags_exclude)?;
        if !any.is_empty() {
            all.push(or(any.into_iter().map(|t| tag(group, t)).collect()));
        }
        all.extend(include_all.into_iter().map(|t| tag(group, t)));
        if !exclude.is_empty() {
            let excluded = or(exclude.into_iter().map(|t| tag(group, t)).collect());
            all.push(Expr::Not(Box::new(excluded)));
        }
        for (name, field, value) in [
            ("QueryFileName", TextField::FileName, &self.query_file_name),
            ("QueryFileDir", TextField::FileDir, &self.query_file_dir),
        ] {
            if let Some(value) = text_param(name, value.as_deref())? {
                all.push(text_pred(field, TextOp::Contains, value));
            }
        }
        for (name, field, values) in [
            (
                "QueryFileTypeIncludeAny",
                TextField::FileType,
                &self.query_file_type_include_any,
            ),
            (
                "QueryContentTypeIncludeAny",
                TextField::ContentType,
                &self.query_content_type_include_any,
            ),
        ] {
            let values = list(name, values)?;
            if !values.is_empty() {
                all.push(or(values
                    .into_iter()
                    .map(|v| text_pred(field, TextOp::Exact, v))
                    .collect()));
            }
        }
        for (name, field, op, value) in [
            (
                "StartFileUpdateTime",
                TimeField::FileUpdateTime,
                RangeOp::Ge,
                &self.start_file_update_time,
            ),
            (
                "EndFileUpdateTime",
                TimeField::FileUpdateTime,
                RangeOp::Le,
                &self.end_file_update_time,
            ),
            (
                "StartTagUpdateTime",
                TimeField::TagUpdateTime,
                RangeOp::Ge,
                &self.start_tag_update_time,
            ),
            (
                "EndTagUpdateTime",
                TimeField::TagUpdateTime,
                RangeOp::Le,
                &self.end_tag_update_time,
            ),
        ] {
            if let Some(value) = text_param(name, value.as_deref())? {
                let at = query::parse_time(&value).ok_or_else(|| {
                    Error::invalid(format!(
                        "{name} '{value}' is not an ISO 8601 time such as 2025-02-28T00:00:00Z"
                    ))
                })?;
                all.push(Expr::Pred(Predicate::Time {
                    field,
                    op,
                    value: at,
                }));
            }
        }
        all.extend(dsl.filter);
        let filter = match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Expr::And(all)),
        };

        // An upload (`data:…`) is bounded by its own limit where it is decoded.
        let image = match self.query_image.as_deref() {
            Some(upload) if upload.starts_with("data:") => Some(upload.to_string()),
            other => text_param("QueryImage", other)?,
        };
        let text_probe = match query_type {
            QueryType::Tag => None,
            _ => text,
        };
        if query_type == QueryType::Tag && (image.is_some() || dsl.content.is_some()) {
            return Err(Error::invalid(
                "QueryType=TAG ranks nothing: drop QueryImage and Content:, or use MIX or VECTOR",
            ));
        }
        let probes: Vec<Probe> = [
            text_probe.map(Probe::Text),
            dsl.content.map(Probe::Text),
            image.map(Probe::Image),
        ]
        .into_iter()
        .flatten()
        .collect();
        if probes.len() > 1 {
            return Err(Error::invalid(
                "give one thing to rank by: QueryText, QueryImage or a Content: clause",
            ));
        }
        let top_k = self.top_k.or(dsl.options.top_k);
        let score_threshold = self.score_threshold.or(dsl.options.score_threshold);
        if let Some(threshold) = score_threshold {
            if !threshold.is_finite() {
                return Err(Error::invalid("ScoreThreshold must be a finite number"));
            }
        }
        let vector =
            match probes.into_iter().next() {
                Some(probe) => Some(VectorPart {
                    probe,
                    top_k,
                    score_threshold,
                    exclude_query_image: self.exclude_query_image.unwrap_or(false),
                }),
                None if query_type == QueryType::Vector => return Err(Error::invalid(
                    "QueryType=VECTOR needs QueryText, QueryImage or a Content: clause to rank by",
                )),
                None => None,
            };
        Ok(SearchPlan {
            filter,
            vector,
            sort: self.sort_by.unwrap_or_default(),
            order: self.order.unwrap_or_default(),
        })
    }
}

/// Splits a comma-joined query-string list (PAI's SDKs send lists that way).
pub fn split_list(joined: Option<&str>) -> Vec<String> {
    joined
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn tag_group(name: Option<&str>) -> Result<TagGroup> {
    match name.map(|n| n.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("all") => Ok(TagGroup::All),
        Some("ai") => Ok(TagGroup::Ai),
        Some("user") => Ok(TagGroup::User),
        Some(other) => Err(Error::invalid(format!(
            "TagGroup '{other}' is not one of all, ai, user"
        ))),
    }
}

fn text_param(name: &str, value: Option<&str>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) if v.chars().count() > MAX_TEXT || v.contains('\0') => Err(Error::invalid(
            format!("{name} must be at most {MAX_TEXT} characters, without NUL"),
        )),
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn list(name: &str, values: &[String]) -> Result<Vec<String>> {
    if values.len() > MAX_LIST {
        return Err(Error::invalid(format!(
            "{name} holds {} values; at most {MAX_LIST} are allowed",
            values.len()
        )));
    }
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        if let Some(v) = text_param(name, Some(value))? {
            out.push(v);
        }
    }
    Ok(out)
}

fn tag(group: TagGroup, value: String) -> Expr {
    Expr::Pred(Predicate::Tag {
        group,
        op: TextOp::Exact,
        value,
    })
}

fn text_pred(field: TextField, op: TextOp, value: String) -> Expr {
    Expr::Pred(Predicate::Text { field, op, value })
}

fn or(mut exprs: Vec<Expr>) -> Expr {
    if exprs.len() == 1 {
        exprs.remove(0)
    } else {
        Expr::Or(exprs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SearchRequest {
        SearchRequest {
            dataset_version: "v1".into(),
            ..SearchRequest::default()
        }
    }

    #[test]
    fn no_condition_is_no_filter_and_no_ranking() {
        let plan = request().plan().unwrap();
        assert_eq!(plan.filter, None);
        assert_eq!(plan.vector, None);
    }

    #[test]
    fn conditions_are_anded_with_the_expression() {
        let mut r = request();
        r.query_tags_include_any = vec!["cone".into(), "barrier".into()];
        r.query_tags_exclude = vec!["rain".into()];
        r.query_file_dir = Some("night".into());
        r.query_expression = Some("DataSize > 10 AND Content:\"a cone\" AND TopK=5".into());
        let plan = r.plan().unwrap();
        let Some(Expr::And(parts)) = plan.filter else {
            panic!("an AND of four conditions")
        };
        assert_eq!(parts.len(), 4);
        let vector = plan.vector.unwrap();
        assert_eq!(vector.probe, Probe::Text("a cone".into()));
        assert_eq!(vector.top_k, Some(5));
    }

    #[test]
    fn tag_queries_treat_the_text_as_a_tag() {
        let mut r = request();
        r.query_type = Some(QueryType::Tag);
        r.query_text = Some("cone".into());
        let plan = r.plan().unwrap();
        assert_eq!(plan.vector, None);
        assert_eq!(plan.filter, Some(tag(TagGroup::All, "cone".into())));
    }

    #[test]
    fn bad_parameters_are_named() {
        type Change = Box<dyn Fn(&mut SearchRequest)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|r| r.query_type = Some(QueryType::Vector)),
                "QueryType=VECTOR needs",
            ),
            (
                Box::new(|r| r.tag_group = Some("robots".into())),
                "TagGroup 'robots'",
            ),
            (
                Box::new(|r| r.start_file_update_time = Some("monday".into())),
                "StartFileUpdateTime 'monday'",
            ),
            (
                Box::new(|r| r.query_tags_include_all = vec!["x".into(); 101]),
                "QueryTagsIncludeAll holds 101",
            ),
            (
                Box::new(|r| {
                    r.query_text = Some("a".into());
                    r.query_image = Some("b".into());
                }),
                "give one thing to rank by",
            ),
            (
                Box::new(|r| r.query_expression = Some("FileName >".into())),
                "position",
            ),
        ];
        for (change, needle) in cases {
            let mut r = request();
            change(&mut r);
            let err = r.plan().unwrap_err();
            assert!(
                err.message().contains(needle),
                "{needle}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn comma_joined_lists_split_and_trim() {
        assert_eq!(split_list(Some("a, b,,c ")), vec!["a", "b", "c"]);
        assert!(split_list(None).is_empty());
    }
}
