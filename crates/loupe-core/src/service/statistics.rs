//! Facet counts (PAI's `GetDatasetFileMetasStatistics`): a version's files by folder,
//! type or tag, optionally within a search's filter (its tag lists, name, folder, types,
//! time ranges and `QueryExpression`), so a console can show counts beside its results.

use crate::auth::WorkspaceCtx;
use crate::file_tags::{AggregateBy, FileMetaStatistics, DEFAULT_STATISTICS, MAX_STATISTICS};
use crate::ids::DatasetId;
use crate::query::Expr;
use crate::search::SearchRequest;
use crate::version::VersionName;
use crate::{Error, Result};

use super::{check_workspace_param, Loupe};

/// The parameters of a statistics call, as sent.
#[derive(Debug, Clone, Copy)]
pub struct StatisticsRequest<'a> {
    /// The search whose filter restricts the files counted (and names the version); its
    /// paging fields are not read.
    pub search: &'a SearchRequest,
    /// One of [`crate::file_tags::AGGREGATE_BY_VALUES`], any case; left out, only the total is counted.
    pub aggregate_by: Option<&'a str>,
    /// Most buckets, 1 to 1000 (default 100).
    pub max_results: Option<u32>,
}

impl Loupe {
    /// Counts a version's files by `AggregateBy`, within the search's filter.
    pub async fn file_meta_statistics(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        request: &StatisticsRequest<'_>,
    ) -> Result<FileMetaStatistics> {
        check_workspace_param(ctx, request.search.workspace_id.as_deref())?;
        let version: VersionName = request.search.dataset_version.parse()?;
        let by = request
            .aggregate_by
            .filter(|text| !text.trim().is_empty())
            .map(str::parse::<AggregateBy>)
            .transpose()?;
        let limit = match request.max_results {
            None => DEFAULT_STATISTICS,
            Some(n) if (1..=MAX_STATISTICS).contains(&n) => n,
            Some(n) => {
                return Err(Error::invalid(format!(
                    "MaxResults must be 1 to {MAX_STATISTICS} buckets; it is {n}"
                )))
            }
        };
        let filter = statistics_filter(request.search)?;
        let ws = ctx.workspace_id();
        let (row, _) = self.store.version_row(ws, dataset, version).await?;
        self.store
            .file_meta_statistics(ws, row, by, filter.as_ref(), limit)
            .await
    }
}

/// The filter of the search. A ranking (`QueryText` outside `QueryType=TAG`,
/// `QueryImage`, `Content:"…"`) orders files rather than selecting them, so counting "the
/// files it matches" has no meaning and is refused; `TopK` and `ScoreThreshold` only
/// shape a ranking and are ignored.
fn statistics_filter(search: &SearchRequest) -> Result<Option<Expr>> {
    let plan = search.plan()?;
    if plan.vector.is_some() {
        return Err(Error::invalid(
            "statistics count the files that pass a search's filter, and QueryText, QueryImage and \
             Content:\"…\" rank files without selecting any: send the search without them (or with \
             QueryType=TAG, where QueryText is one more required tag)",
        ));
    }
    Ok(plan.filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_of(expression: Option<&str>, text: Option<&str>) -> Result<Option<Expr>> {
        statistics_filter(&SearchRequest {
            dataset_version: "v1".into(),
            query_expression: expression.map(str::to_string),
            query_text: text.map(str::to_string),
            ..SearchRequest::default()
        })
    }

    #[test]
    fn the_filter_is_kept_and_a_ranking_is_refused() {
        assert!(filter_of(None, None).unwrap().is_none());
        let filter = filter_of(Some(r#"Tags.all="cat" AND TopK=5"#), None).unwrap();
        assert!(filter.is_some());
        for (expression, text) in [
            (Some(r#"Tags.all="cat" AND Content:"a cat""#), None),
            (None, Some("a cat")),
        ] {
            let err = filter_of(expression, text).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InvalidParameter);
            assert!(
                err.message().contains("send the search without them"),
                "{}",
                err.message()
            );
        }
        let err = filter_of(Some("FileName ="), None).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidQueryExpression);
    }
}
