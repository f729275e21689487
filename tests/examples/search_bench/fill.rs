//! Loads the generated version straight into the store's tables, as fast as each engine
//! allows: `COPY … FROM STDIN` on PostgreSQL, multi-row inserts in large transactions
//! on SQLite. The secondary indexes of the two tables are dropped first and created
//! again afterwards from their own definitions (so indexes added by later migrations
//! come back too), then the planner statistics are refreshed.

use std::str::FromStr;

use loupe_tests::Engine;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteSynchronous};
use sqlx::{Connection, Executor};

use crate::data::{tag_name, File};

const TABLES: [&str; 2] = ["file_metas", "file_tags"];
/// What a build would have tallied.
const COUNTS: &str = "UPDATE dataset_versions SET data_count = $1, data_size = $2 WHERE id = $3";

/// The rows of one version.
pub struct Load<'a> {
    pub version_row: i64,
    pub workspace_id: &'a str,
    pub uri_prefix: &'a str,
    pub files: &'a [File],
}

impl Load<'_> {
    /// Tag rows: `(file, group, tag)`.
    fn tags(&self) -> impl Iterator<Item = (&File, &'static str, String)> {
        self.files.iter().flat_map(|f| {
            let ai = f.ai.iter().map(move |&r| (f, "ai", tag_name(r)));
            let user = f.user.map(|r| (f, "user", tag_name(r)));
            let rejected = f.rejected.map(|r| (f, "user-delete-ai-tags", tag_name(r)));
            ai.chain(user).chain(rejected)
        })
    }

    fn bytes(&self) -> i64 {
        self.files.iter().map(|f| f.size).sum()
    }

    fn tag_count(&self) -> usize {
        self.files
            .iter()
            .map(|f| f.ai.len() + usize::from(f.user.is_some()) + usize::from(f.rejected.is_some()))
            .sum()
    }
}

/// Columns both engines load, in this order.
const FILE_COLUMNS: &str = "version_id, file_id, workspace_id, uri, file_key, name, dir, size, fingerprint, \
     content_type, file_type, created_at, updated_at, width, height, probe_state, probe_chunk, listed_by, \
     registered_at, semantic_index_job_id, semantic_index_update_time, tag_update_time";

/// Loads the version and returns the number of tag rows.
pub async fn load(engine: Engine, url: &str, load: &Load<'_>) -> usize {
    match engine {
        Engine::Postgres => postgres(url, load).await,
        Engine::Sqlite => sqlite(url, load).await,
    }
    load.tag_count()
}

async fn postgres(url: &str, load: &Load<'_>) {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("connect to PostgreSQL");
    // A bulk load of rows known to be consistent: no per-row foreign key triggers.
    conn.execute("SET session_replication_role = replica")
        .await
        .expect("superuser session");
    let indexes = pg_drop_indexes(&mut conn).await;
    let v = load.version_row;
    let mut copy = conn
        .copy_in_raw(&format!("COPY file_metas ({FILE_COLUMNS}) FROM STDIN"))
        .await
        .expect("copy file_metas");
    let mut buf = String::with_capacity(8 << 20);
    for f in load.files {
        text_row(
            &mut buf,
            &[
                &v.to_string(),
                &f.file_id,
                load.workspace_id,
                &format!("{}{}", load.uri_prefix, f.key),
                &f.key,
                &f.name,
                &f.dir,
                &f.size.to_string(),
                &f.file_id[..16],
                f.content_type,
                "image",
                &f.created_at.to_string(),
                &f.updated_at.to_string(),
                &f.width.to_string(),
                &f.height.to_string(),
                "done",
                "0",
                "bench",
                &f.created_at.to_string(),
                "bench-index",
                &(f.updated_at + 3_600_000).to_string(),
                &(f.updated_at + 7_200_000).to_string(),
            ],
        );
        if buf.len() > 4 << 20 {
            copy.send(buf.as_bytes()).await.expect("send rows");
            buf.clear();
        }
    }
    copy.send(buf.as_bytes()).await.expect("send rows");
    buf.clear();
    copy.finish().await.expect("finish file_metas");
    let mut copy = conn
        .copy_in_raw("COPY file_tags (version_id, file_id, grp, tag) FROM STDIN")
        .await
        .expect("copy file_tags");
    let v = v.to_string();
    for (f, group, tag) in load.tags() {
        text_row(&mut buf, &[&v, &f.file_id, group, &tag]);
        if buf.len() > 4 << 20 {
            copy.send(buf.as_bytes()).await.expect("send rows");
            buf.clear();
        }
    }
    copy.send(buf.as_bytes()).await.expect("send rows");
    copy.finish().await.expect("finish file_tags");
    conn.execute("SET maintenance_work_mem = '512MB'")
        .await
        .expect("set");
    for index in indexes {
        conn.execute(index.as_str()).await.expect("create index");
    }
    // VACUUM too: autovacuum does it to insert-only tables soon after a load, and
    // index-only scans need the visibility map it sets.
    sqlx::query(COUNTS)
        .bind(load.files.len() as i64)
        .bind(load.bytes())
        .bind(load.version_row)
        .execute(&mut conn)
        .await
        .expect("set the version's counts");
    for table in TABLES {
        conn.execute(format!("VACUUM ANALYZE {table}").as_str())
            .await
            .expect("vacuum analyze");
    }
    conn.close().await.ok();
}

/// A row of `COPY`'s text format; the generated values hold no tab, newline or backslash.
fn text_row(buf: &mut String, values: &[&str]) {
    for (i, value) in values.iter().enumerate() {
        debug_assert!(!value.contains(['\t', '\n', '\\']), "{value}");
        if i > 0 {
            buf.push('\t');
        }
        buf.push_str(value);
    }
    buf.push('\n');
}

/// Drops the secondary (non-constraint) indexes of the two tables; returns their definitions.
async fn pg_drop_indexes(conn: &mut PgConnection) -> Vec<String> {
    const SQL: &str = "SELECT i.relname::text, pg_get_indexdef(x.indexrelid) FROM pg_index x \
        JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
        WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace \
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)";
    let mut definitions = Vec::new();
    for table in TABLES {
        let found: Vec<(String, String)> = sqlx::query_as(SQL)
            .bind(table)
            .fetch_all(&mut *conn)
            .await
            .expect("list indexes");
        for (name, definition) in found {
            conn.execute(format!("DROP INDEX {name}").as_str())
                .await
                .expect("drop index");
            definitions.push(definition);
        }
    }
    definitions
}

async fn sqlite(url: &str, load: &Load<'_>) {
    let options = SqliteConnectOptions::from_str(url)
        .expect("sqlite url")
        .foreign_keys(false)
        .synchronous(SqliteSynchronous::Off);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("open the SQLite file");
    let indexes = sqlite_drop_indexes(&mut conn).await;
    let v = load.version_row;
    const FILES_PER_STATEMENT: usize = 500;
    const TAGS_PER_STATEMENT: usize = 2000;
    for chunk in load.files.chunks(50_000) {
        let mut tx = conn.begin().await.expect("begin");
        for rows in chunk.chunks(FILES_PER_STATEMENT) {
            let mut insert =
                sqlx::QueryBuilder::new(format!("INSERT INTO file_metas ({FILE_COLUMNS}) "));
            insert.push_values(rows, |mut b, f| {
                b.push_bind(v)
                    .push_bind(f.file_id.as_str())
                    .push_bind(load.workspace_id)
                    .push_bind(format!("{}{}", load.uri_prefix, f.key))
                    .push_bind(f.key.as_str())
                    .push_bind(f.name.as_str())
                    .push_bind(f.dir.as_str())
                    .push_bind(f.size)
                    .push_bind(&f.file_id[..16])
                    .push_bind(f.content_type)
                    .push_bind("image")
                    .push_bind(f.created_at)
                    .push_bind(f.updated_at)
                    .push_bind(f.width)
                    .push_bind(f.height)
                    .push_bind("done")
                    .push_bind(0i64)
                    .push_bind("bench")
                    .push_bind(f.created_at)
                    .push_bind("bench-index")
                    .push_bind(f.updated_at + 3_600_000)
                    .push_bind(f.updated_at + 7_200_000);
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .expect("insert files");
        }
        let sub = Load {
            files: chunk,
            ..*load
        };
        let tags: Vec<_> = sub.tags().collect();
        for rows in tags.chunks(TAGS_PER_STATEMENT) {
            let mut insert =
                sqlx::QueryBuilder::new("INSERT INTO file_tags (version_id, file_id, grp, tag) ");
            insert.push_values(rows, |mut b, (f, group, tag)| {
                b.push_bind(v)
                    .push_bind(f.file_id.as_str())
                    .push_bind(*group)
                    .push_bind(tag.as_str());
            });
            insert.build().execute(&mut *tx).await.expect("insert tags");
        }
        tx.commit().await.expect("commit");
    }
    for index in indexes {
        conn.execute(index.as_str()).await.expect("create index");
    }
    sqlx::query(COUNTS)
        .bind(load.files.len() as i64)
        .bind(load.bytes())
        .bind(load.version_row)
        .execute(&mut conn)
        .await
        .expect("set the version's counts");
    conn.execute("ANALYZE").await.expect("analyze");
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .expect("checkpoint");
    conn.close().await.ok();
}

/// Drops the explicit indexes of the two tables; returns their `CREATE INDEX` statements.
async fn sqlite_drop_indexes(conn: &mut SqliteConnection) -> Vec<String> {
    const SQL: &str =
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL";
    let mut definitions = Vec::new();
    for table in TABLES {
        let found: Vec<(String, String)> = sqlx::query_as(SQL)
            .bind(table)
            .fetch_all(&mut *conn)
            .await
            .expect("list indexes");
        for (name, definition) in found {
            conn.execute(format!("DROP INDEX \"{name}\"").as_str())
                .await
                .expect("drop index");
            definitions.push(definition);
        }
    }
    definitions
}
