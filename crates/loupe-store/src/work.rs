//! Index and tag bookkeeping: which files a job must process, what each batch produced
//! (index stamps, `ai` tags) and the per-file work records `Increment` compares against.
//! A batch is at most a few hundred files, so its writes are per-row statements inside
//! one transaction on both engines.

use std::collections::HashMap;

use async_trait::async_trait;
use loupe_core::file_meta::{FileMetaRecord, FileTags};
use loupe_core::ids::JobId;
use loupe_core::store::{WorkKind, WorkResult, WorkStore};
use loupe_core::time::Timestamp;
use loupe_core::Result;

use crate::errors::db_error;
use crate::pool::{on_pool, SqlStore};
use crate::rows::{FileMetaRow, FILE_META_COLUMNS};

/// Ids per `IN (…)` list: far below both engines' parameter limits.
const IDS_PER_STATEMENT: usize = 500;

const UPSERT_WORK: &str = "INSERT INTO file_work (version_id, file_id, kind, job_id, fingerprint, work_key, ok, at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (version_id, file_id, kind) DO UPDATE SET job_id = excluded.job_id, \
     fingerprint = excluded.fingerprint, work_key = excluded.work_key, ok = excluded.ok, at = excluded.at";
const STAMP_INDEX: &str =
    "UPDATE file_metas SET semantic_index_job_id = $3, semantic_index_update_time = $4 \
     WHERE version_id = $1 AND file_id = $2";
const STAMP_TAGS: &str =
    "UPDATE file_metas SET tag_update_time = $3 WHERE version_id = $1 AND file_id = $2";
const CLEAR_SOURCE: &str =
    "DELETE FROM file_tags WHERE version_id = $1 AND file_id = $2 AND grp = 'ai' AND source = $3";
// The guard keeps a file deleted from the version meanwhile from breaking the batch.
const INSERT_TAG: &str =
    "INSERT INTO file_tags (version_id, file_id, grp, tag, source, job_id, confidence) \
     SELECT $1, $2, 'ai', $3, $4, $5, $6 WHERE EXISTS \
     (SELECT 1 FROM file_metas WHERE version_id = $1 AND file_id = $2) \
     ON CONFLICT (version_id, file_id, grp, tag) DO NOTHING";

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
                builder.push(" WHERE version_id = ");
                builder.push_bind(version_row);
                builder.push(" AND file_id IN (");
                let mut list = builder.separated(", ");
                for id in slice {
                    list.push_bind(id.as_str());
                }
                builder.push(")");
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
                let mut builder = sqlx::QueryBuilder::new("DELETE FROM file_work WHERE version_id = ");
                builder.push_bind(version_row);
                builder.push(" AND kind = ");
                builder.push_bind(kind.as_str());
                builder.push(" AND file_id IN (");
                let mut list = builder.separated(", ");
                for id in slice {
                    list.push_bind(id.as_str());
                }
                builder.push(")");
                builder.build().execute(p).await.map_err(db_error)?;
            });
        }
        Ok(())
    }

    async fn record_work(&self, r: &WorkResult) -> Result<()> {
        let (row, job, at) = (r.version_row, r.job.as_str(), r.at.millis());
        on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
            let outcomes = r
                .done
                .iter()
                .map(|d| (&d.file_id, &d.fingerprint, true))
                .chain(r.failed.iter().map(|(id, fp)| (id, fp, false)));
            for (file_id, fingerprint, ok) in outcomes {
                sqlx::query(UPSERT_WORK)
                    .bind(row)
                    .bind(file_id.as_str())
                    .bind(r.kind.as_str())
                    .bind(job)
                    .bind(fingerprint.as_str())
                    .bind(r.work_key.as_str())
                    .bind(ok)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            for done in &r.done {
                let id = done.file_id.as_str();
                match r.kind {
                    WorkKind::Index => {
                        sqlx::query(STAMP_INDEX).bind(row).bind(id).bind(job).bind(at)
                            .execute(&mut *tx).await.map_err(db_error)?;
                    }
                    WorkKind::Tag => {
                        sqlx::query(CLEAR_SOURCE).bind(row).bind(id).bind(r.source.as_str())
                            .execute(&mut *tx).await.map_err(db_error)?;
                        for tag in &done.tags {
                            sqlx::query(INSERT_TAG)
                                .bind(row)
                                .bind(id)
                                .bind(tag.name.as_str())
                                .bind(r.source.as_str())
                                .bind(job)
                                .bind(tag.confidence)
                                .execute(&mut *tx)
                                .await
                                .map_err(db_error)?;
                        }
                        sqlx::query(STAMP_TAGS).bind(row).bind(id).bind(at)
                            .execute(&mut *tx).await.map_err(db_error)?;
                    }
                }
            }
            if r.dropped_tags > 0 {
                sqlx::query("UPDATE jobs SET dropped_tags = dropped_tags + $2 WHERE id = $1")
                    .bind(job)
                    .bind(r.dropped_tags)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)
        }
        .await)
    }

    async fn revert_tags(&self, version_row: i64, tag_job: &JobId, at: Timestamp) -> Result<i64> {
        const STAMP: &str =
            "UPDATE file_metas SET tag_update_time = $3 WHERE version_id = $1 AND file_id IN \
             (SELECT file_id FROM file_tags WHERE version_id = $1 AND job_id = $2 AND grp = 'ai')";
        const TAGS: &str =
            "DELETE FROM file_tags WHERE version_id = $1 AND job_id = $2 AND grp = 'ai'";
        const WORK: &str =
            "DELETE FROM file_work WHERE version_id = $1 AND kind = 'tag' AND job_id = $2";
        on_pool!(self, p => async {
            let mut tx = p.begin().await.map_err(db_error)?;
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
            tx.commit().await.map_err(db_error)?;
            Ok(i64::try_from(touched).unwrap_or(i64::MAX))
        }
        .await)
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
