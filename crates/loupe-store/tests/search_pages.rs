//! Search pages over tags on thousands of files: whichever plan the store picks from the
//! tag count (join the tag's files, or walk the sort order and look each file up), and
//! from the in-memory index, paging through every order gives exactly the evaluator's
//! files in that order, each once, with the right total on every page, on PostgreSQL and
//! on SQLite — also when pages alternate between SQL and the index, whose tokens must
//! continue each other. A write is seen at once, and the index follows it.

use std::time::{Duration, Instant};

use loupe_core::file_meta::SortOrder;
use loupe_core::file_tags::{FileTagEdit, GroupTag};
use loupe_core::ids::WorkspaceId;
use loupe_core::page::PageRequest;
use loupe_core::query::{self, SearchableFile, TagGroup};
use loupe_core::search::SearchSort;
use loupe_core::store::{FileMetaStore, TagStore};
use loupe_core::time::Timestamp;
use loupe_store::testing::TestStore;
use loupe_store::{Engine, SqlStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

/// Enough files that a tag on most of them is walked and a rare one joined.
const FILES: usize = 5_000;
const PAGE: u32 = 100;

#[tokio::test]
async fn tag_pages_match_the_evaluator_in_every_order_on_postgres() {
    tag_pages_match_the_evaluator(Engine::Postgres).await;
}

#[tokio::test]
async fn tag_pages_match_the_evaluator_in_every_order_on_sqlite() {
    tag_pages_match_the_evaluator(Engine::Sqlite).await;
}

#[tokio::test]
async fn writes_are_seen_at_once_and_the_index_follows_on_postgres() {
    writes_are_seen_at_once_and_the_index_follows(Engine::Postgres).await;
}

#[tokio::test]
async fn writes_are_seen_at_once_and_the_index_follows_on_sqlite() {
    writes_are_seen_at_once_and_the_index_follows(Engine::Sqlite).await;
}

/// Who answers each page of a paging run.
#[derive(Debug, Clone, Copy)]
enum Reader {
    Sql,
    Memory,
    Alternating,
}

/// A store holding a version of generated files, its row, the files, and a second store
/// on the same database that has the version's index in memory.
struct Fixture {
    store: TestStore,
    version: i64,
    files: Vec<(String, SearchableFile)>,
    indexed: SqlStore,
}

impl Fixture {
    async fn new(engine: Engine, seed: u64) -> Self {
        let store = TestStore::new(engine).await;
        let files = generated(&mut StdRng::seed_from_u64(seed));
        let version = load(&store.url, engine, &files).await;
        let indexed = store.memory_indexing_store().await;
        let index = indexed.warm_memory_index(version).await.unwrap();
        assert_eq!(index.map(|i| i.len()), Some(FILES as u64));
        Self {
            store,
            version,
            files,
            indexed,
        }
    }

    async fn cleanup(self) {
        self.indexed.close().await;
        self.store.cleanup().await;
    }
}

async fn tag_pages_match_the_evaluator(engine: Engine) {
    let fixture = Fixture::new(engine, 0x9a6e5).await;
    let (store, version, files, indexed) = (
        &fixture.store,
        fixture.version,
        &fixture.files,
        &fixture.indexed,
    );
    let ws = WorkspaceId::from_raw("ws-pages");
    let stores = [&*store.store, indexed];
    for expression in [
        r#"Tags.all = "common""#,
        r#"Tags.all = "rare" OR Tags.all = "mid""#,
        r#"Tags.ai = "common" AND Tags.all = "mid""#,
        r#"NOT Tags.all = "mid""#,
        r#"Tags.user = "common""#,
    ] {
        let filter = query::parse(expression).unwrap().filter.unwrap();
        for sort in [
            SearchSort::FileName,
            SearchSort::FileUpdateTime,
            SearchSort::FileCreateTime,
        ] {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                let key = |f: &SearchableFile| match sort {
                    SearchSort::FileName => (f.name.clone(), 0),
                    SearchSort::FileUpdateTime => (String::new(), f.updated_at),
                    SearchSort::FileCreateTime => (String::new(), f.created_at),
                };
                let mut expected: Vec<_> =
                    files.iter().filter(|(_, f)| filter.matches(f)).collect();
                expected.sort_by(|(a, fa), (b, fb)| (key(fa), a).cmp(&(key(fb), b)));
                if order == SortOrder::Desc {
                    expected.reverse();
                }
                let expected: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
                for reader in [Reader::Sql, Reader::Memory, Reader::Alternating] {
                    let (mut seen, mut token, mut pages) = (Vec::new(), None::<String>, 0);
                    loop {
                        let by = match reader {
                            Reader::Sql => stores[0],
                            Reader::Memory => stores[1],
                            Reader::Alternating => stores[pages % 2],
                        };
                        let page =
                            PageRequest::parse(sort.list_name(), Some(PAGE), token.as_deref())
                                .unwrap();
                        let found = by
                            .search_file_metas(&ws, version, Some(&filter), sort, order, &page)
                            .await
                            .unwrap();
                        let at = format!(
                            "{expression} {sort:?} {order:?} {reader:?} after {}",
                            seen.len()
                        );
                        assert_eq!(found.total_count as usize, expected.len(), "{at}");
                        seen.extend(found.items.into_iter().map(|f| f.file_id));
                        pages += 1;
                        match found.next_token {
                            Some(next) => token = Some(next),
                            None => break,
                        }
                    }
                    // The first difference, not two lists of thousands of ids.
                    let at = seen.iter().zip(&expected).position(|(a, b)| a != b);
                    assert!(
                        at.is_none() && seen.len() == expected.len(),
                        "{expression} {sort:?} {order:?} {reader:?}: {} ids, {} expected, first difference at {at:?}",
                        seen.len(),
                        expected.len()
                    );
                }
            }
        }
    }
    // The candidate set of a filtered vector search comes from the index too.
    let filter = query::parse(r#"Tags.all = "rare""#)
        .unwrap()
        .filter
        .unwrap();
    let expected = filter.select(files);
    for by in stores {
        let mut ids = by
            .filtered_file_ids(version, &filter, None, FILES)
            .await
            .unwrap();
        ids.sort();
        assert_eq!(ids, expected);
    }
    fixture.cleanup().await;
}

async fn writes_are_seen_at_once_and_the_index_follows(engine: Engine) {
    let fixture = Fixture::new(engine, 0x5eed).await;
    let (store, version, indexed) = (&fixture.store, fixture.version, &fixture.indexed);
    let ws = WorkspaceId::from_raw("ws-pages");
    assert!(indexed.memory_index_is_current(version).await.unwrap());
    let filter = query::parse(r#"Tags.user = "fresh""#)
        .unwrap()
        .filter
        .unwrap();
    let search = || async {
        let page = PageRequest::parse(SearchSort::FileName.list_name(), Some(PAGE), None).unwrap();
        let found = indexed
            .search_file_metas(
                &ws,
                version,
                Some(&filter),
                SearchSort::FileName,
                SortOrder::Asc,
                &page,
            )
            .await
            .unwrap();
        found
            .items
            .into_iter()
            .map(|f| f.file_id)
            .collect::<Vec<_>>()
    };
    assert!(search().await.is_empty());
    // Through the other store, as another replica or a worker would write.
    let edit = FileTagEdit {
        file_id: "f00042".into(),
        add: vec![GroupTag {
            group: TagGroup::User,
            tag: "fresh".into(),
        }],
        remove: Vec::new(),
    };
    store
        .store
        .edit_tags(version, &[edit], Timestamp::now())
        .await
        .unwrap();
    assert_eq!(search().await, vec!["f00042"], "seen at once, through SQL");
    // The background build catches up, and answers the same.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !indexed.memory_index_is_current(version).await.unwrap() {
        assert!(Instant::now() < deadline, "the index was not rebuilt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(search().await, vec!["f00042"], "from the rebuilt index");
    fixture.cleanup().await;
}

/// Files with repeating names and times (so ties fall to the id), `common` on most of
/// them as an AI tag (sometimes rejected, sometimes given by a user), `mid` on a tenth,
/// `rare` on a few.
fn generated(rng: &mut StdRng) -> Vec<(String, SearchableFile)> {
    (0..FILES)
        .map(|i| {
            let mut file = SearchableFile {
                name: format!("img_{:04}.jpg", rng.gen_range(0..FILES / 2)),
                dir: "d".into(),
                uri: format!("file:///d/{i}"),
                size: 1,
                file_type: "image".into(),
                content_type: "image/jpeg".into(),
                created_at: rng.gen_range(0..500),
                updated_at: rng.gen_range(0..500),
                ..SearchableFile::default()
            };
            for (tag, share) in [("common", 0.7), ("mid", 0.1), ("rare", 0.01)] {
                if rng.gen_bool(share) {
                    file.tags_ai.push(tag.into());
                    if rng.gen_bool(0.05) {
                        file.tags_user_delete_ai_tags.push(tag.into());
                    }
                }
                if rng.gen_bool(share / 10.0) {
                    file.tags_user.push(tag.into());
                }
            }
            (format!("f{i:05}"), file)
        })
        .collect()
}

/// Inserts a workspace, dataset and version holding `files`; returns the version row.
async fn load(url: &str, engine: Engine, files: &[(String, SearchableFile)]) -> i64 {
    let mut statements = vec![
        "INSERT INTO workspaces (id, name, description, created_at) VALUES ('ws-pages', 'pages', '', 0)".to_string(),
        "INSERT INTO datasets (id, workspace_id, name, description, labels, uri, data_type, property, \
         dataset_type, next_version, created_at, modified_at) VALUES ('d-pages', 'ws-pages', 'pages', '', '[]', \
         'file:///d', 'PIC', 'DIRECTORY', 'Premium', 2, 0, 0)"
            .to_string(),
        "INSERT INTO dataset_versions (workspace_id, dataset_id, number, description, state, created_at, \
         modified_at) VALUES ('ws-pages', 'd-pages', 1, '', 'Ready', 0, 0)"
            .to_string(),
    ];
    // Generated values are plain ASCII without quotes: literal SQL keeps the load short.
    for chunk in files.chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|(id, f)| {
                format!(
                    "((SELECT id FROM dataset_versions WHERE dataset_id = 'd-pages'), '{id}', 'ws-pages', '{}', '{id}', \
                     '{}', 'd', 1, '', 'image/jpeg', 'image', {}, {}, 'done', 'test', 0)",
                    f.uri, f.name, f.created_at, f.updated_at
                )
            })
            .collect();
        statements.push(format!(
            "INSERT INTO file_metas (version_id, file_id, workspace_id, uri, file_key, name, dir, size, \
             fingerprint, content_type, file_type, created_at, updated_at, probe_state, listed_by, registered_at) \
             VALUES {}",
            rows.join(", ")
        ));
        let tags: Vec<String> = chunk
            .iter()
            .flat_map(|(id, f)| {
                TagGroup::STORED.into_iter().flat_map(move |group| {
                    f.tags(group).into_iter().map(move |tag| {
                        format!(
                            "((SELECT id FROM dataset_versions WHERE dataset_id = 'd-pages'), '{id}', '{}', '{tag}')",
                            group.as_str()
                        )
                    })
                })
            })
            .collect();
        statements.push(format!(
            "INSERT INTO file_tags (version_id, file_id, grp, tag) VALUES {}",
            tags.join(", ")
        ));
    }
    statements.push("ANALYZE".into());
    const ROW: &str = "SELECT id FROM dataset_versions WHERE dataset_id = 'd-pages'";
    match engine {
        Engine::Postgres => {
            let mut c = PgConnection::connect(url).await.unwrap();
            for s in &statements {
                c.execute(s.as_str()).await.unwrap();
            }
            sqlx::query_scalar(ROW).fetch_one(&mut c).await.unwrap()
        }
        Engine::Sqlite => {
            let mut c = SqliteConnection::connect(url).await.unwrap();
            for s in &statements {
                c.execute(s.as_str()).await.unwrap();
            }
            sqlx::query_scalar(ROW).fetch_one(&mut c).await.unwrap()
        }
    }
}
