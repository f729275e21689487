//! Index and tag bookkeeping: which files a job must process, what each batch produced
//! (index stamps, `ai` tags) and the per-file work records `Increment` compares against.
//! A batch's writes are a few multi-row statements in one transaction on both engines:
//! per-row statements cost a round trip each on PostgreSQL, and at a few hundred files
//! per batch those round trips were a quarter of a fast model's batch time.

use std::collections::HashMap;

use async_trait::async_trait;
use loupe_core::file_meta::{FileMetaRecord, FileTags};
use loupe_core::ids::JobId;
use loupe_core::model::Tag;
use loupe_core::store::{WorkKind, WorkResult, WorkStore};
use loupe_core::time::Timestamp;
use loupe_core::Result;

use crate::errors::db_error;
use crate::memory_cache::content_tx;
use crate::pool::{on_pool, SqlStore};
use crate::rows::{FileMetaRow, FILE_META_COLUMNS};

/// Ids per `IN (…)` list: far below both engines' parameter limits.
const IDS_PER_STATEMENT: usize = 500;

/// Rows per multi-row insert: at most eight parameters a row, far below both engines'
/// limits.
const ROWS_PER_STATEMENT: usize = 500;

impl SqlStore {
    /// `SELECT {columns} FROM {table} WHERE version_id = ? AND file_id IN (ids…)`, in
    /// slices of [`IDS_PER_STATEMENT`].
    async fn rows_by_ids<R>(&self, select: &str, version_row: i64, ids: &[String]) -> Result<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        let mut out = Vec::with_capacity(ids.len());
        for slice in ids.chunks(IDS_PER_STATEMENT) {
            let rows: Vec<R> = on_pool!(self, p => {
                let mut builder = sqlx::QueryBuilder::new(select);
                builder.push(" WHERE true");
                in_version(&mut builder, version_row, &ids_of(slice));
                builder.build_query_as().fetch_all(p).await.map_err(db_error)?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    pub(crate) async fn file_metas_with_ids(
        &self,
        version_row: i64,
        ids: &[String],
    ) -> Result<Vec<FileMetaRecord>> {
        let select = format!("SELECT {FILE_META_COLUMNS} FROM file_metas");
        let rows: Vec<FileMetaRow> = self.rows_by_ids(&select, version_row, ids).await?;
        Ok(rows.into_iter().map(FileMetaRecord::from).collect())
    }

    pub(crate) async fn tags_of(
        &self,
        version_row: i64,
        ids: &[String],
    ) -> Result<HashMap<String, FileTags>> {
        let rows: Vec<(String, String, String)> = self
            .rows_by_ids("SELECT file_id, grp, tag FROM file_tags", version_row, ids)
            .await?;
        let mut tags: HashMap<String, FileTags> = HashMap::new();
        for (file_id, group, tag) in rows {
            tags.entry(file_id).or_default().push(&group, tag);
        }
        for file in tags.values_mut() {
            file.ai.sort();
            file.user.sort();
            file.user_delete_ai_tags.sort();
        }
        Ok(tags)
    }
}

#[async_trait]
impl WorkStore for SqlStore {
    async fn files_to_work(
        &self,
        version_row: i64,
        kind: WorkKind,
        unchanged_key: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        const SQL: &str = "SELECT f.file_id FROM file_metas f LEFT JOIN file_work w \
             ON w.version_id = f.version_id AND w.file_id = f.file_id AND w.kind = $2 \
             WHERE f.version_id = $1 AND f.probe_state = 'done' AND ($3 IS NULL OR f.file_id > $3) \
             AND ($4 IS NULL OR w.file_id IS NULL OR NOT w.ok OR w.fingerprint <> f.fingerprint \
                  OR w.work_key <> $4) \
             ORDER BY f.file_id LIMIT $5";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        on_pool!(self, p => sqlx::query_scalar(SQL)
            .bind(version_row)
            .bind(kind.as_str())
            .bind(after)
            .bind(unchanged_key)
            .bind(limit)
            .fetch_all(p)
            .await
            .map_err(db_error))
    }

    async fn vanished_work(
        &self,
        version_row: i64,
        kind: WorkKind,
        limit: usize,
    ) -> Result<Vec<String>> {
        const SQL: &str = "SELECT w.file_id FROM file_work w WHERE w.version_id = $1 AND w.kind = $2 \
             AND NOT EXISTS (SELECT 1 FROM file_metas f WHERE f.version_id = w.version_id AND f.file_id = w.file_id) \
             ORDER BY w.file_id LIMIT $3";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        on_pool!(self, p => sqlx::query_scalar(SQL)
            .bind(version_row)
            .bind(kind.as_str())
            .bind(limit)
            .fetch_all(p)
            .await
            .map_err(db_error))
    }

    async fn forget_work(&self, version_row: i64, kind: WorkKind, ids: &[String]) -> Result<()> {
        for slice in ids.chunks(IDS_PER_STATEMENT) {
            on_pool!(self, p => {
                let mut builder = sqlx::QueryBuilder::new("DELETE FROM file_work WHERE kind = ");
                builder.push_bind(kind.as_str());
                in_version(&mut builder, version_row, &ids_of(slice));
                builder.build().execute(p).await.map_err(db_error)?;
            });
        }
        Ok(())
    }

    async fn record_work(&self, r: &WorkResult) -> Result<()> {
        let (row, job, at) = (r.version_row, r.job.as_str(), r.at.millis());
        let kind = r.kind.as_str();
        let outcomes: Vec<(&str, &str, bool)> = r
            .done
            .iter()
            .map(|d| (d.file_id.as_str(), d.fingerprint.as_str(), true))
            .chain(
                r.failed
                    .iter()
                    .map(|(id, fp)| (id.as_str(), fp.as_str(), false)),
            )
            .collect();
        let done: Vec<&str> = r.done.iter().map(|d| d.file_id.as_str()).collect();
        let tags: Vec<(&str, &Tag)> = match r.kind {
            WorkKind::Index => Vec::new(),
            WorkKind::Tag => r
                .done
                .iter()
                .flat_map(|d| d.tags.iter().map(move |t| (d.file_id.as_str(), t)))
                .collect(),
        };
        content_tx!(self, row, |tx| {
            for slice in outcomes.chunks(ROWS_PER_STATEMENT) {
                let mut b = sqlx::QueryBuilder::new(
                    "INSERT INTO file_work (version_id, file_id, kind, job_id, fingerprint, work_key, ok, at) ",
                );
                b.push_values(slice, |mut v, (file_id, fingerprint, ok)| {
                    v.push_bind(row)
                        .push_bind(*file_id)
                        .push_bind(kind)
                        .push_bind(job)
                        .push_bind(*fingerprint)
                        .push_bind(r.work_key.as_str())
                        .push_bind(*ok)
                        .push_bind(at);
                });
                b.push(" ON CONFLICT (version_id, file_id, kind) DO UPDATE SET job_id = excluded.job_id, \
                     fingerprint = excluded.fingerprint, work_key = excluded.work_key, ok = excluded.ok, \
                     at = excluded.at");
                b.build().execute(&mut *tx).await.map_err(db_error)?;
            }
            for slice in done.chunks(ROWS_PER_STATEMENT) {
                if r.kind == WorkKind::Tag {
                    let mut b = sqlx::QueryBuilder::new(
                        "DELETE FROM file_tags WHERE grp = 'ai' AND source = ",
                    );
                    b.push_bind(r.source.as_str());
                    in_version(&mut b, row, slice);
                    b.build().execute(&mut *tx).await.map_err(db_error)?;
                }
                let mut b = sqlx::QueryBuilder::new("UPDATE file_metas SET ");
                match r.kind {
                    WorkKind::Index => {
                        b.push("semantic_index_job_id = ");
                        b.push_bind(job);
                        b.push(", semantic_index_update_time = ");
                    }
                    WorkKind::Tag => {
                        b.push("tag_update_time = ");
                    }
                }
                b.push_bind(at);
                b.push(" WHERE true");
                in_version(&mut b, row, slice);
                b.build().execute(&mut *tx).await.map_err(db_error)?;
            }
            for slice in tags.chunks(ROWS_PER_STATEMENT) {
                // VALUES columns are `column1…` on both engines. The guard keeps a file
                // deleted from the version meanwhile from breaking the batch.
                let mut b = sqlx::QueryBuilder::new(
                    "INSERT INTO file_tags (version_id, file_id, grp, tag, source, job_id, confidence) \
                     SELECT v.column1, v.column2, 'ai', v.column3, v.column4, v.column5, v.column6 FROM (",
                );
                b.push_values(slice, |mut v, (file_id, tag)| {
                    v.push_bind(row)
                        .push_bind(*file_id)
                        .push_bind(tag.name.as_str())
                        .push_bind(r.source.as_str())
                        .push_bind(job)
                        .push_bind(tag.confidence);
                });
                b.push(") v WHERE EXISTS (SELECT 1 FROM file_metas f WHERE f.version_id = v.column1 \
                     AND f.file_id = v.column2) ON CONFLICT (version_id, file_id, grp, tag) DO NOTHING");
                b.build().execute(&mut *tx).await.map_err(db_error)?;
            }
            if r.dropped_tags > 0 {
                sqlx::query("UPDATE jobs SET dropped_tags = dropped_tags + $2 WHERE id = $1")
                    .bind(job)
                    .bind(r.dropped_tags)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
        })
    }

    async fn revert_tags(&self, version_row: i64, tag_job: &JobId, at: Timestamp) -> Result<i64> {
        const STAMP: &str =
            "UPDATE file_metas SET tag_update_time = $3 WHERE version_id = $1 AND file_id IN \
             (SELECT file_id FROM file_tags WHERE version_id = $1 AND job_id = $2 AND grp = 'ai')";
        const TAGS: &str =
            "DELETE FROM file_tags WHERE version_id = $1 AND job_id = $2 AND grp = 'ai'";
        const WORK: &str =
            "DELETE FROM file_work WHERE version_id = $1 AND kind = 'tag' AND job_id = $2";
        let touched = content_tx!(self, version_row, |tx| {
            let touched = sqlx::query(STAMP)
                .bind(version_row)
                .bind(tag_job.as_str())
                .bind(at.millis())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
            for sql in [TAGS, WORK] {
                sqlx::query(sql)
                    .bind(version_row)
                    .bind(tag_job.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            touched
        })?;
        Ok(i64::try_from(touched).unwrap_or(i64::MAX))
    }

    async fn job_task_count(&self, job: &JobId) -> Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM job_tasks WHERE job_id = $1";
        on_pool!(self, p => sqlx::query_scalar(SQL)
            .bind(job.as_str())
            .fetch_one(p)
            .await
            .map_err(db_error))
    }
}

/// ` AND version_id = <row> AND file_id IN (<ids>)`.
pub(crate) fn in_version<'q, DB: sqlx::Database>(
    b: &mut sqlx::QueryBuilder<'q, DB>,
    row: i64,
    ids: &[&'q str],
) where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    b.push(" AND version_id = ");
    b.push_bind(row);
    b.push(" AND file_id IN (");
    let mut list = b.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    list.push_unseparated(")");
}

fn ids_of(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}
