//! One page of a search without a ranking: the version's files that pass a filter, in
//! a sort order with a keyset cursor, and how many pass.
//!
//! - The count does not check the workspace again (the version row was found within
//!   it), so it can read indexes only; a filter of exact tags alone is counted from
//!   the tag index without reading `file_metas` at all ([`compile_tag_count`]).
//! - For such a filter the count comes first and picks the page's plan: a tag on few
//!   files is joined and its files sorted; a tag on thousands is looked up per row
//!   while the sort index is walked up to the page's last row (a walk of about
//!   `files × page / matches` index entries), which neither planner chooses itself.
//!   Other filters run the page and the count side by side.
//! - A version held in memory ([`crate::memory_cache`]) is answered there first: filter,
//!   count and the page's ids; only the page's rows are read, by id.

use std::collections::HashMap;

use loupe_core::file_meta::{FileMetaRecord, SortOrder};
use loupe_core::ids::WorkspaceId;
use loupe_core::page::{Cursor, Page, PageRequest};
use loupe_core::query::{
    compile, compile_for_walk, compile_tag_count, Dialect, Expr, MemoryIndex, SqlFilter,
};
use loupe_core::search::SearchSort;
use loupe_core::Result;

use crate::errors::db_error;
use crate::pool::{bind_values, on_pool, Engine, SqlStore};
use crate::rows::{FileMetaRow, FILE_META_COLUMNS};

/// Matches from which walking the sort order beats joining the tag's files: a join costs
/// one random read per match, a walk `files × page / matches` index entries, one
/// twentieth of a read each (measured on a million files, both engines).
const WALK_FROM: i64 = 2_000;
/// PostgreSQL joins a tag on more files itself by walking the sort order and probing
/// each file's tags, which beats hashing all of them.
const POSTGRES_WALK_TO: i64 = 50_000;

/// The column a sort orders by, on the alias the filter uses.
fn sort_column(sort: SearchSort) -> &'static str {
    match sort {
        SearchSort::FileName => "name",
        SearchSort::FileUpdateTime => "updated_at",
        SearchSort::FileCreateTime => "created_at",
    }
}

/// The count statement and its bound values after the version row (`$1`), and whether
/// it reads the tag index alone.
fn count_query(filter: Option<&Expr>, dialect: Dialect) -> (String, Option<SqlFilter>, bool) {
    if let Some(count) = filter.and_then(|f| compile_tag_count(f, dialect, 2)) {
        return (count.sql.clone(), Some(count), true);
    }
    let counted = filter.map(|f| compile(f, dialect, 2));
    let sql = match &counted {
        Some(c) => format!(
            "SELECT COUNT(*) FROM file_metas f WHERE f.version_id = $1 AND {}",
            c.sql
        ),
        None => "SELECT COUNT(*) FROM file_metas f WHERE f.version_id = $1".to_string(),
    };
    (sql, counted, false)
}

/// The page statement. It binds the version row, the workspace, the cursor's text key,
/// number key and id, and the limit (`$1`…`$6`), then the filter's values. A walk picks
/// the page's ids from the sort index alone, then reads those rows.
fn page_query(
    sort: SearchSort,
    order: SortOrder,
    filter: Option<&SqlFilter>,
    walk: bool,
) -> String {
    let column = sort_column(sort);
    let (cmp, dir) = match order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    // The cursor holds the sort key (text for names, a number for times) and the id.
    let key = match sort {
        SearchSort::FileName => "$3",
        SearchSort::FileUpdateTime | SearchSort::FileCreateTime => "$4",
    };
    let after = format!(
        "($5 IS NULL OR f.{column} {cmp} {key} OR (f.{column} = {key} AND f.file_id {cmp} $5))"
    );
    let filter = filter
        .map(|c| format!(" AND {}", c.sql))
        .unwrap_or_default();
    if !walk {
        return format!(
            "SELECT {FILE_META_COLUMNS} FROM file_metas f WHERE f.version_id = $1 AND f.workspace_id = $2 \
             AND {after}{filter} ORDER BY f.{column} {dir}, f.file_id {dir} LIMIT $6"
        );
    }
    format!(
        "SELECT {FILE_META_COLUMNS} FROM file_metas r WHERE r.version_id = $1 AND r.workspace_id = $2 \
         AND r.file_id IN (SELECT f.file_id FROM file_metas f WHERE f.version_id = $1 AND {after}{filter} \
         ORDER BY f.{column} {dir}, f.file_id {dir} LIMIT $6) ORDER BY r.{column} {dir}, r.file_id {dir}"
    )
}

/// The cursor after `f` in `sort` order: the sort key (the name, or a time) and the id.
fn cursor_of(sort: SearchSort, f: &FileMetaRecord) -> Cursor {
    let key = match sort {
        SearchSort::FileCreateTime => f.created_at,
        _ => f.updated_at,
    };
    let mut cursor = Cursor::new(sort.list_name(), key, f.file_id.clone());
    if sort == SearchSort::FileName {
        cursor.text = Some(f.name.clone());
    }
    cursor
}

impl SqlStore {
    /// A page of a version's files that pass `filter` (the query DSL's typed form,
    /// compiled to bound SQL for this engine), in `sort` order with a keyset cursor.
    pub(crate) async fn file_meta_page(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        filter: Option<&Expr>,
        sort: SearchSort,
        order: SortOrder,
        page: &PageRequest,
    ) -> Result<Page<FileMetaRecord>> {
        if let Some(index) = self.current_index(version_row).await? {
            if let Some(found) = self
                .page_from_memory(&index, version_row, filter, sort, order, page)
                .await?
            {
                return Ok(found);
            }
        }
        let dialect = self.dialect();
        let (count_sql, counted, from_tags) = count_query(filter, dialect);
        let (rows, total) = if from_tags {
            let total = self
                .count_files(version_row, &count_sql, counted.as_ref())
                .await?;
            let walk = total >= WALK_FROM
                && (self.engine() == Engine::Sqlite || total <= POSTGRES_WALK_TO);
            // The list binds six parameters of its own.
            let listed = filter.map(|f| match walk {
                true => compile_for_walk(f, dialect, 7),
                false => compile(f, dialect, 7),
            });
            let sql = page_query(sort, order, listed.as_ref(), walk);
            let rows = self
                .page_rows(ws, version_row, &sql, listed.as_ref(), page)
                .await?;
            (rows, total)
        } else {
            let listed = filter.map(|f| compile(f, dialect, 7));
            let sql = page_query(sort, order, listed.as_ref(), false);
            tokio::try_join!(
                self.page_rows(ws, version_row, &sql, listed.as_ref(), page),
                self.count_files(version_row, &count_sql, counted.as_ref())
            )?
        };
        let items: Vec<FileMetaRecord> = rows.into_iter().map(FileMetaRecord::from).collect();
        Ok(Page::from_overfetch(items, page.limit, total, |f| {
            cursor_of(sort, f)
        }))
    }

    /// The page from the version's in-memory index: the filter, the count and the page's
    /// ids there, then the rows by id. `None` when the index cannot answer (a filter on
    /// `Uri`, or a cursor from before the version changed).
    async fn page_from_memory(
        &self,
        index: &MemoryIndex,
        version_row: i64,
        filter: Option<&Expr>,
        sort: SearchSort,
        order: SortOrder,
        page: &PageRequest,
    ) -> Result<Option<Page<FileMetaRecord>>> {
        let matches = match filter {
            Some(f) => match index.evaluate(f) {
                Some(matches) => matches,
                None => return Ok(None),
            },
            None => index.everything().clone(),
        };
        let wanted = page.limit as usize + 1;
        let Some(files) = index.page(&matches, sort, order, page.after.as_ref(), wanted) else {
            return Ok(None);
        };
        let ids: Vec<String> = files
            .iter()
            .map(|n| index.file_id(*n).to_string())
            .collect();
        let mut rows: HashMap<String, FileMetaRecord> = self
            .file_metas_with_ids(version_row, &ids)
            .await?
            .into_iter()
            .map(|f| (f.file_id.clone(), f))
            .collect();
        // A file deleted since the index was read is left out, as a later read would.
        let items = ids.iter().filter_map(|id| rows.remove(id)).collect();
        let total = i64::try_from(matches.len()).unwrap_or(i64::MAX);
        Ok(Some(Page::from_overfetch(items, page.limit, total, |f| {
            cursor_of(sort, f)
        })))
    }

    async fn count_files(
        &self,
        version_row: i64,
        sql: &str,
        filter: Option<&SqlFilter>,
    ) -> Result<i64> {
        let values = filter.map_or(&[][..], |c| c.params.as_slice());
        on_pool!(self, p => bind_values!(sqlx::query_scalar(sql).bind(version_row), values)
            .fetch_one(p)
            .await
            .map_err(db_error))
    }

    async fn page_rows(
        &self,
        ws: &WorkspaceId,
        version_row: i64,
        sql: &str,
        filter: Option<&SqlFilter>,
        page: &PageRequest,
    ) -> Result<Vec<FileMetaRow>> {
        let values = filter.map_or(&[][..], |c| c.params.as_slice());
        let after = page.after.as_ref();
        on_pool!(self, p => bind_values!(
            sqlx::query_as(sql)
                .bind(version_row)
                .bind(ws.as_str())
                .bind(after.and_then(|c| c.text.as_deref()).unwrap_or(""))
                .bind(after.map_or(0, |c| c.key))
                .bind(after.map(|c| c.id.as_str()))
                .bind(i64::from(page.limit) + 1),
            values
        )
        .fetch_all(p)
        .await
        .map_err(db_error))
    }
}
