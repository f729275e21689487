//! Facet counts (PAI's `GetDatasetFileMetasStatistics`): a version's files by folder,
//! type or tag, optionally within the filter of a `QueryExpression`, so a console can
//! show counts beside a search's results.

use crate::auth::WorkspaceCtx;
use crate::file_tags::{AggregateBy, FileMetaStatistics, DEFAULT_STATISTICS, MAX_STATISTICS};
use crate::ids::DatasetId;
use crate::query::{self, Expr};
use crate::version::VersionName;
use crate::{Error, Result};

use super::Loupe;

/// The parameters of a statistics call, as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatisticsRequest<'a> {
    /// The version, e.g. `v1`.
    pub dataset_version: &'a str,
    /// One of [`crate::file_tags::AGGREGATE_BY_VALUES`], any case; left out, only the total is counted.
    pub aggregate_by: Option<&'a str>,
    /// A DSL expression whose filter restricts the files counted.
    pub query_expression: Option<&'a str>,
    /// Most buckets, 1 to 1000 (default 100).
    pub max_results: Option<u32>,
}

impl Loupe {
    /// Counts a version's files by `AggregateBy`, within the expression's filter.
    pub async fn file_meta_statistics(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        request: &StatisticsRequest<'_>,
    ) -> Result<FileMetaStatistics> {
        let version: VersionName = request.dataset_version.parse()?;
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
        let filter = statistics_filter(request.query_expression)?;
        let ws = ctx.workspace_id();
        let (row, _) = self.store.version_row(ws, dataset, version).await?;
        self.store
            .file_meta_statistics(ws, row, by, filter.as_ref(), limit)
            .await
    }
}

/// The filter of the expression. `Content:"…"` ranks files rather than selecting them,
/// so counting "the files it matches" has no meaning and is refused; `TopK` and
/// `ScoreThreshold` only shape a ranking and are ignored.
fn statistics_filter(expression: Option<&str>) -> Result<Option<Expr>> {
    let Some(text) = expression else {
        return Ok(None);
    };
    let parsed = query::parse(text)?;
    if parsed.content.is_some() {
        return Err(Error::invalid(
            "QueryExpression: Content:\"…\" ranks files by similarity and does not select which files \
             are counted; statistics use the filter only, so send the expression without its Content clause",
        ));
    }
    Ok(parsed.filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_is_kept_and_content_is_refused() {
        assert!(statistics_filter(None).unwrap().is_none());
        assert!(statistics_filter(Some("  ")).unwrap().is_none());
        let filter = statistics_filter(Some(r#"Tags.all="cat" AND TopK=5"#)).unwrap();
        assert!(filter.is_some());
        let err = statistics_filter(Some(r#"Tags.all="cat" AND Content:"a cat""#)).unwrap_err();
        assert!(
            err.message().contains("without its Content clause"),
            "{}",
            err.message()
        );
        let err = statistics_filter(Some("FileName =")).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidQueryExpression);
    }
}
