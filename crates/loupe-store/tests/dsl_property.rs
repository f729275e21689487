//! The DSL's SQL agrees with its in-memory evaluator: on small random versions (with
//! awkward strings: quotes, `%`, `_`, backslashes, unicode, SQL fragments), every random
//! query selects the same files through the compiled SQL on PostgreSQL and on SQLite as
//! `Expr::matches` does, and so does the in-memory index loaded from that database. A
//! second version holds the same file ids with other contents and tags, so a subquery
//! that forgot the version would be caught.

use loupe_core::file_tags::AggregateBy;
use loupe_core::ids::WorkspaceId;
use loupe_core::query::{
    self, compile, compile_tag_count, Dialect, MemoryIndex, SearchableFile, SqlValue, TagGroup,
};
use loupe_core::store::TagStore;
use loupe_store::testing::TestStore;
use loupe_store::{Engine, SqlStore};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgConnection, SqliteConnection};

/// Strings for names, dirs, tags and job ids, chosen to break naive SQL.
const AWKWARD: &[&str] = &[
    "cat",
    "Cat",
    "CAT",
    "black cat",
    "lane line",
    "barrier gate",
    "rainy days",
    "50%",
    "100%_off",
    "a_b",
    "a%b",
    "axb",
    r"back\slash",
    r"\\",
    "quote\"d",
    "it's",
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "É",
    "é",
    "Élan",
    "élan",
    "straße",
    "STRASSE",
    "日本",
    "😀",
    " ",
    "a b",
    "x'y",
    "tab\there",
    "new\nline",
    "$1",
    "?",
    "--",
    "/*",
    "NULL",
];

const INSTANTS: &[i64] = &[
    0,
    1_740_700_800_000,
    1_740_700_800_123,
    1_748_597_249_000,
    1_748_597_249_999,
];

/// One version's rows: file id and what the evaluator sees.
type Files = Vec<(String, SearchableFile)>;

#[tokio::test]
async fn dsl_sql_matches_the_evaluator_on_postgres() {
    sql_matches_the_evaluator(Engine::Postgres).await;
}

#[tokio::test]
async fn dsl_sql_matches_the_evaluator_on_sqlite() {
    sql_matches_the_evaluator(Engine::Sqlite).await;
}

#[tokio::test]
async fn tag_filters_and_their_counts_match_the_evaluator_on_postgres() {
    tag_filters_match_the_evaluator(Engine::Postgres).await;
}

#[tokio::test]
async fn tag_filters_and_their_counts_match_the_evaluator_on_sqlite() {
    tag_filters_match_the_evaluator(Engine::Sqlite).await;
}

#[tokio::test]
async fn pai_example_runs_on_postgres() {
    pai_example_runs(Engine::Postgres).await;
}

#[tokio::test]
async fn pai_example_runs_on_sqlite() {
    pai_example_runs(Engine::Sqlite).await;
}

async fn sql_matches_the_evaluator(engine: Engine) {
    let store = TestStore::new(engine).await;
    let mut db = Db::connect(engine, &store.url).await;
    let mut rng = StdRng::seed_from_u64(0x10_0b_e5);
    let indexing = store.memory_indexing_store().await;
    let (mut queries, mut selective, mut in_memory) = (0, 0, 0);
    for round in 0..6 {
        let (searched, other) = db.versions(&format!("round{round}")).await;
        let files = random_files(&mut rng, 12);
        db.insert(searched, &files).await;
        db.insert(other, &random_files(&mut rng, 12)).await;
        let index = indexing.warm_memory_index(searched).await.unwrap().unwrap();
        for _ in 0..250 {
            let expression = random_expression(&mut rng, &files, 3);
            let (selected, from_memory) =
                check(&mut db, searched, &files, &expression, &index).await;
            in_memory += usize::from(from_memory);
            if queries % 5 == 0 {
                same_statistics(&store.store, &indexing, searched, &expression).await;
            }
            queries += 1;
            if selected > 0 && selected < files.len() {
                selective += 1;
            }
        }
    }
    // Queries that select all or nothing prove little; most must split the files.
    assert!(
        selective * 3 > queries,
        "{selective} of {queries} queries split the files"
    );
    // Only filters on `Uri` are left to SQL.
    assert!(
        in_memory * 2 > queries,
        "{in_memory} of {queries} queries answered in memory"
    );
    indexing.close().await;
    drop(db);
    store.cleanup().await;
}

/// Filters of exact tags alone (tag lists, and the DSL's `Tags.G = …` combined): the
/// files they select, and the count taken from the tag index alone, both agree with
/// the evaluator.
async fn tag_filters_match_the_evaluator(engine: Engine) {
    let store = TestStore::new(engine).await;
    let mut db = Db::connect(engine, &store.url).await;
    let mut rng = StdRng::seed_from_u64(0x7a9_5e75);
    let indexing = store.memory_indexing_store().await;
    let mut counted = 0;
    for round in 0..4 {
        let (searched, other) = db.versions(&format!("tags{round}")).await;
        let files = random_files(&mut rng, 12);
        db.insert(searched, &files).await;
        db.insert(other, &random_files(&mut rng, 12)).await;
        let index = indexing.warm_memory_index(searched).await.unwrap().unwrap();
        for _ in 0..150 {
            let expression = random_tag_expression(&mut rng, &files, 3);
            let (selected, from_memory) =
                check(&mut db, searched, &files, &expression, &index).await;
            assert!(from_memory, "tag filters are answered in memory");
            let filter = query::parse(&expression).unwrap().filter.unwrap();
            if let Some(count) = compile_tag_count(&filter, db.dialect(), 2) {
                let n = db.count(&count.sql, searched, &count.params).await;
                assert_eq!(
                    usize::try_from(n).unwrap(),
                    selected,
                    "\nexpression: {expression}\nsql: {}",
                    count.sql
                );
                counted += 1;
            }
        }
    }
    assert!(counted > 150, "{counted} of 600 filters counted from tags");
    indexing.close().await;
    drop(db);
    store.cleanup().await;
}

/// `Tags.G = "…"` clauses under AND, OR and NOT.
fn random_tag_expression(rng: &mut StdRng, files: &Files, depth: usize) -> String {
    if depth == 0 || rng.gen_bool(0.3) {
        let group = *[
            TagGroup::Ai,
            TagGroup::User,
            TagGroup::UserDeleteAiTags,
            TagGroup::All,
        ]
        .choose(rng)
        .expect("groups");
        let candidates: Vec<String> = files
            .iter()
            .flat_map(|(_, f)| f.tags(group).into_iter().map(str::to_string))
            .collect();
        let value = text_value(rng, &candidates);
        return format!("{} = {}", group.field_name(), literal(rng, &value));
    }
    match rng.gen_range(0..5) {
        0 => format!("NOT ({})", random_tag_expression(rng, files, depth - 1)),
        _ => {
            let keyword = pick(rng, &["AND", "OR"]);
            let operands: Vec<String> = (0..rng.gen_range(2..4))
                .map(|_| {
                    let inner = random_tag_expression(rng, files, depth - 1);
                    match rng.gen_bool(0.3) {
                        true => format!("NOT ({inner})"),
                        false => format!("({inner})"),
                    }
                })
                .collect();
            operands.join(&format!(" {keyword} "))
        }
    }
}

/// Facet counts within the expression's filter, by every aggregation and with a bucket
/// limit that cuts ties, agree between SQL (`sql`) and the in-memory index (`memory`).
async fn same_statistics(sql: &SqlStore, memory: &SqlStore, version: i64, expression: &str) {
    let filter = query::parse(expression).unwrap().filter.unwrap();
    let ws = WorkspaceId::from_raw("ws-dsl");
    let mut by: Vec<Option<AggregateBy>> = vec![
        None,
        Some(AggregateBy::FileDir),
        Some(AggregateBy::FileType),
    ];
    by.extend(
        [
            TagGroup::Ai,
            TagGroup::User,
            TagGroup::UserDeleteAiTags,
            TagGroup::All,
        ]
        .map(|g| Some(AggregateBy::Tags(g))),
    );
    for by in by {
        for limit in [2, 1000] {
            let mut answers = Vec::new();
            for store in [sql, memory] {
                let answer = store
                    .file_meta_statistics(&ws, version, by, Some(&filter), limit)
                    .await
                    .unwrap();
                answers.push(answer);
            }
            let (a, b) = (&answers[0], &answers[1]);
            assert_eq!(
                (a.total_count, &a.buckets),
                (b.total_count, &b.buckets),
                "\nstatistics by {by:?} (limit {limit}), SQL then memory, for {expression}"
            );
        }
    }
}

/// Checks one expression through SQL and, unless it names `Uri`, through `index`; the
/// number of files selected, and whether the index answered.
async fn check(
    db: &mut Db,
    version: i64,
    files: &Files,
    expression: &str,
    index: &MemoryIndex,
) -> (usize, bool) {
    let parsed = query::parse(expression)
        .unwrap_or_else(|e| panic!("{expression:?} does not parse: {}", e.message()));
    let filter = parsed.filter.expect("generated expressions have a filter");
    let expected = filter.select(files);
    let compiled = compile(&filter, db.dialect(), 2);
    let version_param = match db.dialect() {
        Dialect::Postgres => "$1",
        Dialect::Sqlite => "?1",
    };
    let sql = format!(
        "SELECT f.file_id FROM file_metas f WHERE f.version_id = {version_param} AND {} ORDER BY f.file_id",
        compiled.sql
    );
    let mut actual = db.select_ids(&sql, version, &compiled.params).await;
    actual.sort();
    assert_eq!(
        actual, expected,
        "\nexpression: {expression}\nsql: {sql}\nparams: {:?}",
        compiled.params
    );
    let from_memory = index.evaluate(&filter).map(|selected| {
        let mut ids: Vec<String> = selected
            .iter()
            .map(|n| index.file_id(n).to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, expected, "\nin memory, expression: {expression}");
    });
    (actual.len(), from_memory.is_some())
}

async fn pai_example_runs(engine: Engine) {
    let store = TestStore::new(engine).await;
    let mut db = Db::connect(engine, &store.url).await;
    let (version, _) = db.versions("pai").await;
    let matching = SearchableFile {
        name: "corolla.jpg".into(),
        dir: "cars/Blue_Car".into(),
        updated_at: 1_745_000_000_000,
        semantic_index_job_id: Some("job-1".into()),
        tags_ai: vec!["lane line".into(), "barrier gate".into()],
        ..plain_file()
    };
    let excluded = [
        SearchableFile {
            name: "toyota.jpg".into(),
            ..matching.clone()
        },
        SearchableFile {
            semantic_index_job_id: None,
            ..matching.clone()
        },
        SearchableFile {
            tags_user: vec!["rainy days".into()],
            tags_user_delete_ai_tags: vec!["barrier gate".into()],
            ..matching.clone()
        },
        SearchableFile {
            updated_at: 1_748_597_249_000,
            ..matching.clone()
        },
    ];
    let mut files = vec![("match".to_string(), matching)];
    files.extend(
        excluded
            .into_iter()
            .enumerate()
            .map(|(i, f)| (format!("miss{i}"), f)),
    );
    db.insert(version, &files).await;
    let example = r#"(FileUpdateTime > "2025-02-28T00:00:00Z" AND FileUpdateTime < "2025-05-30T09:27:29Z") AND FileDir:"blue_car" AND NOT FileName="toyota.jpg" AND (( Tags.all="lane line" AND Tags.all="barrier gate") OR NOT Tags.user="rainy days" ) AND HAS SemanticIndexJobId AND Content:"a fallen water horse" AND TopK=100 AND SignMode="PUBLIC""#;
    let indexing = store.memory_indexing_store().await;
    let index = indexing.warm_memory_index(version).await.unwrap().unwrap();
    let (selected, from_memory) = check(&mut db, version, &files, example, &index).await;
    assert_eq!((selected, from_memory), (1, true));
    indexing.close().await;
    drop(db);
    store.cleanup().await;
}

fn plain_file() -> SearchableFile {
    SearchableFile {
        name: "a.jpg".into(),
        dir: String::new(),
        uri: "s3://bucket/a.jpg".into(),
        size: 1,
        file_type: "image".into(),
        content_type: "image/jpeg".into(),
        created_at: 0,
        updated_at: 0,
        ..SearchableFile::default()
    }
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

fn maybe<T>(rng: &mut StdRng, value: T) -> Option<T> {
    rng.gen_bool(0.7).then_some(value)
}

fn random_tags(rng: &mut StdRng, from: &[&str]) -> Vec<String> {
    let count = rng.gen_range(0..4);
    let mut tags: Vec<String> = from
        .choose_multiple(rng, count)
        .map(|t| t.to_string())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

fn random_files(rng: &mut StdRng, count: usize) -> Files {
    // A few tags recur so that `all` sees ai tags that users rejected or re-added.
    let common = ["cat", "lane line", "50%", "É", "' OR 1=1 --"];
    (0..count)
        .map(|i| {
            let name = format!("{}{}", pick(rng, AWKWARD), pick(rng, &[".jpg", ".PNG", ""]));
            let dir = format!("{}/{}", pick(rng, AWKWARD), pick(rng, AWKWARD));
            let width = rng.gen_range(0..3000);
            let height = rng.gen_range(0..3000);
            let job = pick(rng, AWKWARD).to_string();
            let [created, updated, indexed, tagged] =
                [(); 4].map(|()| *INSTANTS.choose(rng).unwrap_or(&0));
            let ai_from: &[&str] = if rng.gen() { &common } else { AWKWARD };
            let user_from: &[&str] = if rng.gen() { &common } else { AWKWARD };
            let file = SearchableFile {
                uri: format!("s3://bucket/{dir}/{name}"),
                name,
                dir,
                size: rng.gen_range(0..5000),
                file_type: pick(rng, &["image", "Image", "video"]).into(),
                content_type: pick(rng, &["image/jpeg", "image/png", "IMAGE/PNG"]).into(),
                created_at: created,
                updated_at: updated,
                width: maybe(rng, width),
                height: maybe(rng, height),
                semantic_index_job_id: maybe(rng, job),
                semantic_index_update_time: maybe(rng, indexed),
                tag_update_time: maybe(rng, tagged),
                tags_ai: random_tags(rng, ai_from),
                tags_user: random_tags(rng, user_from),
                tags_user_delete_ai_tags: random_tags(rng, &common),
            };
            (format!("file{i:02}"), file)
        })
        .collect()
}

/// A DSL string literal, escaped; non-ASCII sometimes written as `\uXXXX`.
fn literal(rng: &mut StdRng, text: &str) -> String {
    let as_unicode_escapes = rng.gen_bool(0.3);
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if !c.is_ascii() && as_unicode_escapes => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string likely to hit: a piece of some file's value, case-shuffled, or any awkward one.
fn text_value(rng: &mut StdRng, candidates: &[String]) -> String {
    let base = match candidates.choose(rng) {
        Some(value) if rng.gen_bool(0.7) => value.clone(),
        _ => pick(rng, AWKWARD).to_string(),
    };
    let chars: Vec<char> = base.chars().collect();
    let piece = if rng.gen_bool(0.5) || chars.is_empty() {
        base
    } else {
        let start = rng.gen_range(0..chars.len());
        let end = rng.gen_range(start..=chars.len());
        chars[start..end].iter().collect()
    };
    match rng.gen_range(0..3) {
        0 => piece.to_ascii_uppercase(),
        1 => piece.to_ascii_lowercase(),
        _ => piece,
    }
}

fn time_literal(rng: &mut StdRng) -> String {
    let millis = *INSTANTS.choose(rng).unwrap_or(&0) + rng.gen_range(-1..=1);
    let time = chrono::DateTime::from_timestamp_millis(millis).expect("in range");
    let text = match rng.gen_range(0..4) {
        0 => time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        1 => time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        2 => time
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string(),
        _ => time.format("%Y-%m-%d").to_string(),
    };
    format!("\"{text}\"")
}

fn random_clause(rng: &mut StdRng, files: &Files) -> String {
    let text_op = |rng: &mut StdRng| pick(rng, &["=", ":", " = ", " : "]);
    let range_op = |rng: &mut StdRng| pick(rng, &["=", ">", ">=", "<", "<="]);
    let values = |get: fn(&SearchableFile) -> Option<String>| -> Vec<String> {
        files.iter().filter_map(|(_, f)| get(f)).collect()
    };
    match rng.gen_range(0..9) {
        0 | 1 => {
            let (field, candidates) = match rng.gen_range(0..6) {
                0 => ("FileName", values(|f| Some(f.name.clone()))),
                1 => ("FileDir", values(|f| Some(f.dir.clone()))),
                2 => ("Uri", values(|f| Some(f.uri.clone()))),
                3 => ("FileType", values(|f| Some(f.file_type.clone()))),
                4 => ("ContentType", values(|f| Some(f.content_type.clone()))),
                _ => (
                    "SemanticIndexJobId",
                    values(|f| f.semantic_index_job_id.clone()),
                ),
            };
            let value = text_value(rng, &candidates);
            format!("{field}{}{}", text_op(rng), literal(rng, &value))
        }
        2 | 3 => {
            let group = *[
                TagGroup::Ai,
                TagGroup::User,
                TagGroup::UserDeleteAiTags,
                TagGroup::All,
            ]
            .choose(rng)
            .expect("groups");
            let candidates: Vec<String> = files
                .iter()
                .flat_map(|(_, f)| f.tags(group).into_iter().map(str::to_string))
                .collect();
            let value = text_value(rng, &candidates);
            format!(
                "{}{}{}",
                group.field_name(),
                text_op(rng),
                literal(rng, &value)
            )
        }
        4 => {
            let field = pick(
                rng,
                &[
                    "FileName",
                    "DataSize",
                    "ImageWidth",
                    "ImageHeight",
                    "TagUpdateTime",
                    "SemanticIndexUpdateTime",
                    "SemanticIndexJobId",
                    "Tags.ai",
                    "Tags.user",
                    "Tags.user-delete-ai-tags",
                    "Tags.all",
                ],
            );
            format!("HAS {field}")
        }
        5 | 6 => {
            let field = pick(rng, &["DataSize", "ImageWidth", "ImageHeight"]);
            let anchor = files
                .choose(rng)
                .map(|(_, f)| match field {
                    "DataSize" => f.size,
                    "ImageWidth" => f.width.unwrap_or(0),
                    _ => f.height.unwrap_or(0),
                })
                .unwrap_or(0);
            let value = match rng.gen_range(0..3) {
                0 => format!("{anchor}"),
                1 => format!("{}.5", anchor - 1),
                _ => format!("{}", rng.gen_range(-10..5000)),
            };
            format!("{field} {} {value}", range_op(rng))
        }
        _ => {
            let field = pick(
                rng,
                &[
                    "FileCreateTime",
                    "FileUpdateTime",
                    "TagUpdateTime",
                    "SemanticIndexUpdateTime",
                ],
            );
            format!("{field} {} {}", range_op(rng), time_literal(rng))
        }
    }
}

fn random_expression(rng: &mut StdRng, files: &Files, depth: usize) -> String {
    if depth == 0 || rng.gen_bool(0.3) {
        return random_clause(rng, files);
    }
    match rng.gen_range(0..4) {
        0 => format!("NOT {}", random_expression(rng, files, depth - 1)),
        1 => format!("({})", random_expression(rng, files, depth - 1)),
        _ => {
            let keyword = pick(rng, &["AND", "OR", "and", "Or"]);
            let operands: Vec<String> = (0..rng.gen_range(2..4))
                .map(|_| {
                    let inner = random_expression(rng, files, depth - 1);
                    format!("({inner})")
                })
                .collect();
            operands.join(&format!(" {keyword} "))
        }
    }
}

/// A direct connection to the test store, for rows the API cannot make yet.
enum Db {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the connection of either engine.
macro_rules! on_db {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            Db::Postgres($c) => $body,
            Db::Sqlite($c) => $body,
        }
    };
}

/// Binds the compiled values in order.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                SqlValue::Text(s) => query.bind(s.clone()),
                SqlValue::Int(i) => query.bind(*i),
                SqlValue::Float(f) => query.bind(*f),
            };
        }
        query
    }};
}

const INSERT_FILE: &str = "INSERT INTO file_metas (version_id, file_id, workspace_id, uri, file_key, name, dir, size, \
     fingerprint, content_type, file_type, created_at, updated_at, width, height, probe_state, listed_by, \
     registered_at, semantic_index_job_id, semantic_index_update_time, tag_update_time) \
     VALUES ($1, $2, 'ws-dsl', $3, $4, $5, $6, $7, 'etag', $8, $9, $10, $11, $12, $13, 'done', 'test', 0, $14, $15, $16)";

const INSERT_TAG: &str =
    "INSERT INTO file_tags (version_id, file_id, grp, tag) VALUES ($1, $2, $3, $4)";

impl Db {
    async fn connect(engine: Engine, url: &str) -> Self {
        match engine {
            Engine::Postgres => Db::Postgres(PgConnection::connect(url).await.expect("connect")),
            Engine::Sqlite => Db::Sqlite(SqliteConnection::connect(url).await.expect("connect")),
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            Db::Postgres(_) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Two versions of a fresh dataset: the one searched and another one.
    async fn versions(&mut self, dataset: &str) -> (i64, i64) {
        const WORKSPACE: &str = "INSERT INTO workspaces (id, name, description, created_at) \
             VALUES ('ws-dsl', 'dsl', '', 0) ON CONFLICT DO NOTHING";
        const DATASET: &str = "INSERT INTO datasets (id, workspace_id, name, description, labels, uri, \
             data_type, property, dataset_type, next_version, created_at, modified_at) \
             VALUES ($1, 'ws-dsl', $1, '', '[]', 'file:///data', 'PIC', 'DIRECTORY', 'Premium', 3, 0, 0)";
        const VERSION: &str = "INSERT INTO dataset_versions (workspace_id, dataset_id, number, description, \
             state, created_at, modified_at) VALUES ('ws-dsl', $1, $2, '', 'Ready', 0, 0) RETURNING id";
        on_db!(self, c => {
            sqlx::query(WORKSPACE).execute(&mut *c).await.expect("insert workspace");
            sqlx::query(DATASET).bind(dataset).execute(&mut *c).await.expect("insert dataset");
            let mut ids = [0i64; 2];
            for (number, id) in ids.iter_mut().enumerate() {
                *id = sqlx::query_scalar(VERSION)
                    .bind(dataset)
                    .bind(number as i64 + 1)
                    .fetch_one(&mut *c)
                    .await
                    .expect("insert version");
            }
            (ids[0], ids[1])
        })
    }

    async fn insert(&mut self, version: i64, files: &Files) {
        for (id, file) in files {
            on_db!(self, c => {
                sqlx::query(INSERT_FILE)
                    .bind(version)
                    .bind(id)
                    .bind(&file.uri)
                    .bind(format!("{}/{}", file.dir, file.name))
                    .bind(&file.name)
                    .bind(&file.dir)
                    .bind(file.size)
                    .bind(&file.content_type)
                    .bind(&file.file_type)
                    .bind(file.created_at)
                    .bind(file.updated_at)
                    .bind(file.width)
                    .bind(file.height)
                    .bind(&file.semantic_index_job_id)
                    .bind(file.semantic_index_update_time)
                    .bind(file.tag_update_time)
                    .execute(&mut *c)
                    .await
                    .expect("insert file meta");
            });
            for group in TagGroup::STORED {
                for tag in file.tags(group) {
                    on_db!(self, c => {
                        sqlx::query(INSERT_TAG)
                            .bind(version)
                            .bind(id)
                            .bind(group.as_str())
                            .bind(tag)
                            .execute(&mut *c)
                            .await
                            .expect("insert tag");
                    });
                }
            }
        }
    }

    async fn count(&mut self, sql: &str, version: i64, params: &[SqlValue]) -> i64 {
        on_db!(self, c => {
            let query = bind_values!(sqlx::query_scalar(sql).bind(version), params);
            query
                .fetch_one(&mut *c)
                .await
                .unwrap_or_else(|e| panic!("{sql}\n{params:?}\n{e}"))
        })
    }

    async fn select_ids(&mut self, sql: &str, version: i64, params: &[SqlValue]) -> Vec<String> {
        on_db!(self, c => {
            let query = bind_values!(sqlx::query_scalar(sql).bind(version), params);
            query
                .fetch_all(&mut *c)
                .await
                .unwrap_or_else(|e| panic!("{sql}\n{params:?}\n{e}"))
        })
    }
}
