//! Search at scale (issue 6's benchmark): a version of FILES generated file metas (default
//! 1,000,000) with about ten tags each from a vocabulary of 1,000, loaded straight into
//! the store's tables, with two vector indexes of the same files in the embedded store —
//! 512-d (ranked through an OpenAI-compatible test server answering with `HashEmbedder`
//! vectors in process) and 384-d (ranked by the local ConSE text encoder). Times tag
//! include-any/all/exclude with a sort and MaxResults=100, a 5-predicate DSL query, a
//! vector top-100 within a tag filter and a text query end to end, through
//! `Loupe::search` in process (one kind also over HTTP), and prints p50/p99 against the
//! issue's targets. Runs on PostgreSQL (`LOUPE_TEST_DATABASE_URL` or the local server) and
//! on SQLite. Used by `tests/bench/search.sh`.
//!
//! usage: search_bench [FILES] [REPS] [ENGINES]   (defaults 1000000, 200, postgres,sqlite)

#[path = "search_bench/data.rs"]
mod data;
#[path = "search_bench/fill.rs"]
mod fill;
#[path = "search_bench/queries.rs"]
mod queries;
#[path = "search_bench/vectors.rs"]
mod vectors;

use std::sync::Arc;
use std::time::Instant;

use loupe_connectors::testing::{Backend, ModelServer};
use loupe_core::ids::DatasetId;
use loupe_core::service::index_set_id;
use loupe_core::version::VersionName;
use loupe_jobs::WorkerOptions;
use loupe_tests::models::HashEmbedder;
use loupe_tests::{Engine, TestApp};
use serde_json::{json, Value};
use sqlx::Connection;

const SEED: u64 = 0x00C0_FFEE;
/// The 512-d index (ranked through the test model server).
const HASH_INDEX: &str = "fleet_hash512";
/// The 384-d index (ranked by the local model).
const CONSE_INDEX: &str = "fleet_conse384";

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let files: usize = args
        .next()
        .map_or(1_000_000, |n| n.parse().expect("FILES is a number"));
    let reps: usize = args
        .next()
        .map_or(200, |n| n.parse().expect("REPS is a number"));
    let engines: Vec<Engine> = args
        .next()
        .unwrap_or_else(|| "postgres,sqlite".into())
        .split(',')
        .map(|e| match e {
            "postgres" => Engine::Postgres,
            "sqlite" => Engine::Sqlite,
            other => panic!("unknown engine {other}: use postgres or sqlite"),
        })
        .collect();
    let mut table = vec![queries::HEADER.to_string()];
    for engine in engines {
        let app = TestApp::start(engine).await;
        table.extend(run(&app, engine, files, reps).await);
        app.cleanup().await;
    }
    println!("{}", table.join("\n"));
}

fn say(what: impl std::fmt::Display) {
    eprintln!("==> {what}");
}

async fn run(app: &TestApp, engine: Engine, files: usize, reps: usize) -> Vec<String> {
    let name = format!("{engine:?}");
    let (dataset, folder) = empty_ready_version(app).await;
    let ctx = app
        .loupe
        .authenticate(&app.owner_key)
        .await
        .expect("owner key");
    let ws = ctx.workspace_id().clone();
    let uri_prefix = format!("file://{}/", folder.display());
    let started = Instant::now();
    let generated = data::files(&dataset, files, SEED);
    say(format!(
        "{name}: generated {files} files in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    let started = Instant::now();
    let version_row = version_row(app, &dataset).await;
    let load = fill::Load {
        version_row,
        workspace_id: ws.as_str(),
        uri_prefix: &uri_prefix,
        files: &generated,
    };
    let tags = fill::load(engine, &app.test_store().url, &load).await;
    say(format!(
        "{name}: loaded {files} file metas and {tags} tags, indexed and analyzed in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    let server = ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder { dim: 512 })),
        ..Backend::default()
    })
    .await;
    let hash = app
        .post(
            "/api/v1/connections",
            &app.owner_key,
            json!({"ConnectionName": "hash-512", "ConnectionType": "EmbeddingModel",
                "Configs": {"Provider": "openai", "BaseUrl": server.openai_base(), "Model": "hash",
                    "Dimension": "512"},
                "Secrets": {"ApiKey": "sk-bench"}}),
        )
        .await
        .ok()["ConnectionId"]
        .as_str()
        .expect("ConnectionId")
        .to_string();
    let set = index_set_id(&dataset, VersionName::from_number(1));
    for (connection, index) in [("", CONSE_INDEX), (hash.as_str(), HASH_INDEX)] {
        let started = Instant::now();
        index_config(app, &dataset, connection, index).await;
        let stored = app
            .loupe
            .get_dataset(&ctx, &dataset)
            .await
            .expect("dataset");
        let target = app
            .loupe
            .index_target(&ws, &stored)
            .await
            .expect("index target");
        vectors::write(
            &target,
            &set,
            dataset.as_str(),
            &uri_prefix,
            &generated,
            SEED,
        )
        .await;
        say(format!(
            "{name}: wrote {files} {}-d vectors to {index} in {:.1} s",
            target.embedder.dim(),
            started.elapsed().as_secs_f64()
        ));
    }
    drop(generated);
    // Searches answer through SQL until the version's in-memory index is built (in the
    // background at the first search); the benchmark builds it first and says how long
    // that took.
    let started = Instant::now();
    let index = app
        .test_store()
        .store
        .warm_memory_index(version_row)
        .await
        .expect("in-memory index");
    let index = index.expect("a million files are indexed in memory");
    say(format!(
        "{name}: built the in-memory search index of {} files in {:.1} s, about {} MB",
        index.len(),
        started.elapsed().as_secs_f64(),
        index.approximate_bytes() >> 20
    ));
    if std::env::var_os("SEARCH_BENCH_PAUSE").is_some() {
        say(format!("{name}: paused; store at {}; dataset {dataset}, version row {version_row}; press enter", app.test_store().url));
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).ok();
    }

    let mut rows = Vec::new();
    for kind in queries::filtered_kinds() {
        let m = queries::measure(app, &ctx, &dataset, &kind, reps / kind.reps_divisor).await;
        let line = queries::row(&name, &kind, &m);
        say(&line);
        rows.push(line);
    }
    index_config(app, &dataset, "", CONSE_INDEX).await;
    for kind in queries::text_kinds() {
        let m = queries::measure(app, &ctx, &dataset, &kind, reps / kind.reps_divisor).await;
        let line = queries::row(&name, &kind, &m);
        say(&line);
        rows.push(line);
    }
    rows
}

/// A dataset over an empty local folder and its built (empty, Ready) v1.
async fn empty_ready_version(app: &TestApp) -> (DatasetId, std::path::PathBuf) {
    let folder = app.local_root.join("fleet");
    std::fs::create_dir_all(&folder).expect("dataset folder");
    let created = app
        .post(
            "/api/v1/datasets",
            &app.owner_key,
            json!({"Name": "fleet", "Uri": format!("file://{}", folder.display())}),
        )
        .await
        .ok();
    let dataset = DatasetId::from_raw(created["DatasetId"].as_str().expect("DatasetId"));
    app.new_version(&dataset).await;
    app.run_jobs(&app.workers(WorkerOptions::default())).await;
    let version: Value = app
        .get(
            &format!("/api/v1/datasets/{dataset}/versions/v1"),
            &app.owner_key,
        )
        .await
        .ok();
    assert_eq!(version["State"], "Ready", "{version}");
    (dataset, folder)
}

/// Points the dataset's index at a connection (`""`: the local model) and index name.
async fn index_config(app: &TestApp, dataset: &DatasetId, connection: &str, index: &str) {
    app.put(
        &format!("/api/v1/datasets/{dataset}"),
        &app.owner_key,
        json!({"IndexConfig": {"EmbeddingConnectionId": connection, "IndexName": index}}),
    )
    .await
    .ok();
}

/// The store's row id of v1.
async fn version_row(app: &TestApp, dataset: &DatasetId) -> i64 {
    const SQL: &str = "SELECT id FROM dataset_versions WHERE dataset_id = $1 AND number = 1";
    let url = &app.test_store().url;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
        sqlx::query_scalar(SQL)
            .bind(dataset.as_str())
            .fetch_one(&mut conn)
            .await
            .expect("version row")
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
        sqlx::query_scalar(SQL)
            .bind(dataset.as_str())
            .fetch_one(&mut conn)
            .await
            .expect("version row")
    }
}
