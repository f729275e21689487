//! [`TagStore`]: manual tag edits in one transaction, and facet counts from the version's
//! in-memory index when it has one, else in one statement whose filter is the query DSL
//! compiled for the engine (values bound, never spliced).

use std::collections::HashSet;

use async_trait::async_trait;
use loupe_core::file_tags::{AggregateBy, DatasetFileMetasStat, FileMetaStatistics, FileTagEdit};
use loupe_core::ids::WorkspaceId;
use loupe_core::query::{compile, Dialect, Expr, SqlValue, TagGroup};
use loupe_core::store::TagStore;
use loupe_core::time::Timestamp;
use loupe_core::Result;

use crate::errors::db_error;
use crate::memory_cache::content_tx;
use crate::pool::{bind_values, on_pool, Engine, SqlStore};
use crate::work::in_version;

/// Ids per `IN (…)` list: far below both engines' parameter limits.
const IDS_PER_STATEMENT: usize = 500;
/// Tag rows per statement, at three or four parameters each.
const TAGS_PER_STATEMENT: usize = 500;

/// How the edit transaction starts. It reads which files exist before it writes; on
/// SQLite a deferred transaction could then find its read snapshot stale at the first
/// write (`SQLITE_BUSY_SNAPSHOT`, which the busy timeout does not wait out), so it
/// takes the write lock up front.
fn begin_edit(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "BEGIN",
        Engine::Sqlite => "BEGIN IMMEDIATE",
    }
}

/// On PostgreSQL the files read are locked against deletion until commit, so a tag row
/// never references a file a concurrent rebuild just removed. SQLite's write lock does that.
fn lock_files(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => " FOR KEY SHARE",
        Engine::Sqlite => "",
    }
}

/// Sorts bucket keys bytewise on both engines (PostgreSQL would follow the locale), so
/// the buckets kept at a tie are the same everywhere.
fn bytewise(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => " COLLATE \"C\"",
        Engine::Sqlite => "",
    }
}

#[async_trait]
impl TagStore for SqlStore {
    async fn edit_tags(
        &self,
        version_row: i64,
        edits: &[FileTagEdit],
        at: Timestamp,
    ) -> Result<Vec<String>> {
        let engine = self.engine();
        let ids: Vec<&str> = edits.iter().map(|e| e.file_id.as_str()).collect();
        let existing: HashSet<String> = content_tx!(self, version_row, begin_edit(engine), |tx| {
            let mut existing = HashSet::with_capacity(ids.len());
            for slice in ids.chunks(IDS_PER_STATEMENT) {
                let mut b = sqlx::QueryBuilder::new("SELECT file_id FROM file_metas WHERE true");
                in_version(&mut b, version_row, slice);
                b.push(lock_files(engine));
                let found: Vec<String> = b
                    .build_query_scalar()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                existing.extend(found);
            }
            let present = || edits.iter().filter(|e| existing.contains(&e.file_id));
            let removed: Vec<_> = present()
                .flat_map(|e| e.remove.iter().map(move |t| (e.file_id.as_str(), t)))
                .collect();
            let added: Vec<_> = present()
                .flat_map(|e| e.add.iter().map(move |t| (e.file_id.as_str(), t)))
                .collect();
            // RETURNING names the files whose tags really changed: only those are stamped.
            let mut changed: HashSet<String> = HashSet::new();
            for batch in removed.chunks(TAGS_PER_STATEMENT) {
                let mut b = sqlx::QueryBuilder::new("DELETE FROM file_tags WHERE version_id = ");
                b.push_bind(version_row);
                b.push(" AND (file_id, grp, tag) IN (");
                b.push_values(batch, |mut row, (id, t)| {
                    row.push_bind(*id)
                        .push_bind(t.group.as_str())
                        .push_bind(t.tag.as_str());
                });
                b.push(") RETURNING file_id");
                let hit: Vec<String> = b
                    .build_query_scalar()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                changed.extend(hit);
            }
            for batch in added.chunks(TAGS_PER_STATEMENT) {
                let mut b = sqlx::QueryBuilder::new(
                    "INSERT INTO file_tags (version_id, file_id, grp, tag) ",
                );
                b.push_values(batch, |mut row, (id, t)| {
                    row.push_bind(version_row)
                        .push_bind(*id)
                        .push_bind(t.group.as_str())
                        .push_bind(t.tag.as_str());
                });
                b.push(" ON CONFLICT (version_id, file_id, grp, tag) DO NOTHING RETURNING file_id");
                let hit: Vec<String> = b
                    .build_query_scalar()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                changed.extend(hit);
            }
            let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
            for slice in changed.chunks(IDS_PER_STATEMENT) {
                let mut b = sqlx::QueryBuilder::new("UPDATE file_metas SET tag_update_time = ");
                b.push_bind(at.millis());
                b.push(" WHERE true");
                in_version(&mut b, version_row, slice);
                b.build().execute(&mut *tx).await.map_err(db_error)?;
            }
            existing
        })?;
        Ok(edits
            .iter()
            .filter(|e| !existing.contains(&e.file_id))
            .map(|e| e.file_id.clone())
            .collect())
    }

    async fn file_meta_statistics(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        by: Option<AggregateBy>,
        filter: Option<&Expr>,
        limit: u32,
    ) -> Result<FileMetaStatistics> {
        if let Some(index) = self.current_index(version_row).await? {
            let matches = match filter {
                Some(f) => index.evaluate(f),
                None => Some(index.everything().clone()),
            };
            if let Some(matches) = matches {
                let buckets = by
                    .map(|by| index.buckets(&matches, by))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(key, count)| DatasetFileMetasStat {
                        key,
                        count: i64::try_from(count).unwrap_or(i64::MAX),
                    })
                    .collect();
                let total_count = i64::try_from(matches.len()).unwrap_or(i64::MAX);
                return Ok(ranked(buckets, total_count, limit));
            }
        }
        let engine = self.engine();
        let dialect = match engine {
            Engine::Postgres => Dialect::Postgres,
            Engine::Sqlite => Dialect::Sqlite,
        };
        // $1 version, $2 workspace, then the filter's values, then the bucket limit.
        let compiled = filter.map(|expr| compile(expr, dialect, 3));
        let values: &[SqlValue] = compiled.as_ref().map_or(&[], |c| &c.params);
        let files = match &compiled {
            Some(c) => format!("f.version_id = $1 AND f.workspace_id = $2 AND {}", c.sql),
            None => "f.version_id = $1 AND f.workspace_id = $2".to_string(),
        };
        let total = format!("SELECT NULL AS k, COUNT(*) AS n FROM file_metas f WHERE {files}");
        let sql = match by {
            None => total,
            Some(by) => {
                let limit_param = 3 + values.len();
                let buckets = bucket_query(by, &files, compiled.is_some(), bytewise(engine));
                format!("SELECT k, n FROM ({buckets} LIMIT ${limit_param}) top UNION ALL {total}")
            }
        };
        // One statement, so the buckets and the total come from the same snapshot.
        let rows: Vec<(Option<String>, i64)> = on_pool!(self, p => {
            let query = sqlx::query_as(&sql).bind(version_row).bind(ws.as_str());
            let query = bind_values!(query, values);
            let query = match by {
                Some(_) => query.bind(i64::from(limit)),
                None => query,
            };
            query.fetch_all(p).await.map_err(db_error)?
        });
        let (mut buckets, mut total_count) = (Vec::new(), 0);
        for (key, count) in rows {
            match key {
                Some(key) => buckets.push(DatasetFileMetasStat { key, count }),
                None => total_count = count,
            }
        }
        Ok(ranked(buckets, total_count, limit))
    }
}

/// The `limit` largest buckets, largest first, ties by key (bytewise, as both engines'
/// statements order them).
fn ranked(
    mut buckets: Vec<DatasetFileMetasStat>,
    total_count: i64,
    limit: u32,
) -> FileMetaStatistics {
    buckets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    buckets.truncate(limit as usize);
    FileMetaStatistics {
        buckets,
        total_count,
    }
}

/// `SELECT k, n … GROUP BY … ORDER BY n DESC, k` for one aggregation over the files
/// matching `files` (a condition on `file_metas f`). Tag counts join the file only when
/// a filter needs its columns; the version's tag rows all belong to its files.
fn bucket_query(by: AggregateBy, files: &str, filtered: bool, bytewise: &str) -> String {
    let (key, from, condition, count) = match by {
        AggregateBy::FileDir => ("f.dir", "file_metas f", files.to_string(), "COUNT(*)"),
        AggregateBy::FileType => ("f.file_type", "file_metas f", files.to_string(), "COUNT(*)"),
        AggregateBy::Tags(group) => {
            let (from, scope) = match filtered {
                true => (
                    "file_metas f JOIN file_tags g ON g.version_id = f.version_id AND g.file_id = f.file_id",
                    files.to_string(),
                ),
                false => ("file_tags g", "g.version_id = $1".to_string()),
            };
            let (condition, count) = match group {
                // A tag both added by hand and given by a model counts its file once.
                TagGroup::All => (
                    format!("{scope} AND {ALL_TAGS}"),
                    "COUNT(DISTINCT g.file_id)",
                ),
                // The group is one of three fixed names, never text from the request.
                stored => (
                    format!("{scope} AND g.grp = '{}'", stored.as_str()),
                    "COUNT(*)",
                ),
            };
            ("g.tag", from, condition, count)
        }
    };
    format!(
        "SELECT {key} AS k, {count} AS n FROM {from} WHERE {condition} \
         GROUP BY {key} ORDER BY n DESC, {key}{bytewise}"
    )
}

/// The tag rows of `g` that are in a file's `all` set: (ai − user-delete-ai-tags) ∪ user.
const ALL_TAGS: &str =
    "(g.grp = 'user' OR (g.grp = 'ai' AND NOT EXISTS (SELECT 1 FROM file_tags h \
     WHERE h.version_id = g.version_id AND h.file_id = g.file_id AND h.grp = 'user-delete-ai-tags' \
     AND h.tag = g.tag)))";
