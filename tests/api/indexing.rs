//! Semantic indexing end to end: a dataset's `IndexConfig` (defaulting to the built-in
//! `local-model` and `embedded-vectors`), the `SemanticIndex` job in `Full` and
//! `Increment` modes, and the `QueryType=VECTOR` search of the zero-configuration path.

use std::sync::Arc;

use image::ImageFormat;
use loupe_connectors::testing::{Backend, ModelServer};
use loupe_core::ids::{DatasetId, WorkspaceId};
use loupe_core::service::index_set_id;
use loupe_core::store::MetadataStore;
use loupe_core::version::VersionName;
use loupe_jobs::{WorkerOptions, WorkerPool};
use loupe_store::each_engine;
use loupe_tests::images::{encode, write};
use loupe_tests::models::HashEmbedder;
use loupe_tests::TestApp;
use serde_json::{json, Value};

each_engine!(
    TestApp::start;
    zero_config_index_then_vector_query_ranks_by_meaning,
    increment_embeds_new_and_changed_files_and_deletes_vanished_vectors,
    a_model_of_another_dimension_fails_before_any_work,
    index_config_defaults_to_the_builtins_and_is_validated,
    index_and_tag_jobs_need_a_ready_version,
    refresh_now_starts_a_full_index_job,
    workspaces_naming_the_same_index_never_share_it,
);

/// Stamps of distinct ImageNet-like objects, by file name.
pub const STAMPS: &[(&str, &str)] = &[
    ("bear.png", "animals/mammals/bears/bear.png"),
    ("banana.png", "food/fruit/banana.png"),
    ("pineapple.png", "food/fruit/pineapple.png"),
    ("strawberry.png", "food/fruit/strawberry.png"),
    ("garbagetruck.png", "vehicles/garbagetruck.png"),
    ("lemon.png", "food/fruit/lemon.png"),
];

pub fn stamp(rel: &str) -> Vec<u8> {
    std::fs::read(loupe_models::testing::stamps_dir().join(rel)).expect("stamp")
}

pub fn pool(app: &TestApp) -> WorkerPool {
    app.workers(WorkerOptions::default())
}

/// Writes `files` under a new folder, creates a dataset over it and builds its v1.
pub async fn ready_version(app: &TestApp, folder: &str, files: &[(&str, Vec<u8>)]) -> String {
    let dir = app.local_root.join(folder);
    for (name, bytes) in files {
        write(&dir, name, bytes);
    }
    let uri = format!("file://{}", dir.display());
    let created = app
        .post(
            "/api/v1/datasets",
            &app.owner_key,
            json!({"Name": folder, "Uri": uri}),
        )
        .await
        .ok();
    let dataset = created["DatasetId"].as_str().unwrap().to_string();
    app.new_version(&dataset).await;
    app.run_jobs(&pool(app)).await;
    dataset
}

pub fn stamps_files() -> Vec<(&'static str, Vec<u8>)> {
    STAMPS
        .iter()
        .map(|(name, rel)| (*name, stamp(rel)))
        .collect()
}

pub fn assert_counts(job: &Value, status: &str, total: i64, completed: i64, failed: i64) {
    assert_eq!(job["Status"], status, "{job}");
    assert_eq!(job["TotalFileCount"], total, "{job}");
    assert_eq!(job["CompletedFileCount"], completed, "{job}");
    assert_eq!(job["FailedFileCount"], failed, "{job}");
}

pub async fn files(app: &TestApp, dataset: &str) -> Vec<Value> {
    let path =
        format!("/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&MaxResults=100");
    app.get(&path, &app.owner_key).await.ok()["DatasetFileMetas"]
        .as_array()
        .unwrap()
        .clone()
}

async fn vector_query(app: &TestApp, dataset: &str, text: &str, top_k: u32) -> Value {
    let path = format!(
        "/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&QueryType=VECTOR&QueryText={}&TopK={top_k}&MaxResults=100",
        text.replace(' ', "%20")
    );
    app.get(&path, &app.owner_key).await.ok()
}

fn names(hits: &Value) -> Vec<String> {
    hits["DatasetFileMetas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FileName"].as_str().unwrap().to_string())
        .collect()
}

async fn workspace_id(app: &TestApp) -> WorkspaceId {
    app.loupe
        .workspace_by_name("default")
        .await
        .expect("default workspace")
        .workspace_id
}

/// Vectors of the dataset's v1 in its configured index (0 before the index exists).
pub async fn vector_count(app: &TestApp, dataset: &str) -> usize {
    let ws = workspace_id(app).await;
    let id = DatasetId::from_raw(dataset);
    let record = app.test_store().store.get_dataset(&ws, &id).await.unwrap();
    let target = app.loupe.index_target(&ws, &record).await.unwrap();
    let set = index_set_id(&id, VersionName::from_number(1));
    target.vectors.count(&target.index, &set).await.unwrap_or(0)
}

async fn zero_config_index_then_vector_query_ranks_by_meaning(app: &TestApp) {
    let dataset = ready_version(app, "stamps", &stamps_files()).await;
    // No connection, no IndexConfig, no JobSpec: the built-ins do it.
    let job = app
        .run_job(
            &pool(app),
            &dataset,
            json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex"}),
        )
        .await;
    assert_counts(&job, "Succeeded", 6, 6, 0);
    let job_id = job["DatasetJobId"].as_str().unwrap();
    for file in files(app, &dataset).await {
        assert_eq!(file["SemanticIndexJobId"], job_id, "{file}");
        assert!(file["SemanticIndexUpdateTime"].is_string(), "{file}");
        assert!(
            file.get("Score").is_none(),
            "a listing has no score: {file}"
        );
    }
    assert_eq!(vector_count(app, &dataset).await, 6);

    for (query, expected) in [
        ("a photo of a bear", "bear.png"),
        ("a banana", "banana.png"),
        ("a garbage truck", "garbagetruck.png"),
    ] {
        let hits = vector_query(app, &dataset, query, 3).await;
        assert_eq!(hits["TotalCount"], 3, "{hits}");
        let ranked = names(&hits);
        assert_eq!(ranked[0], expected, "{query}: {ranked:?}");
        let scores: Vec<f64> = hits["DatasetFileMetas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["Score"].as_f64().expect("every hit has a Score"))
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        assert!(hits["DatasetFileMetas"][0]["DownloadUrl"].is_string());
    }

    // TopK bounds the ranking, MaxResults pages through it.
    let path = format!(
        "/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&QueryType=VECTOR&QueryText=fruit&TopK=5&MaxResults=2"
    );
    let (mut seen, mut next) = (Vec::new(), None::<String>);
    loop {
        let url = match &next {
            Some(token) => format!("{path}&NextToken={token}"),
            None => path.clone(),
        };
        let page = app.get(&url, &app.owner_key).await.ok();
        assert_eq!(page["TotalCount"], 5);
        seen.extend(names(&page));
        match page["NextToken"].as_str() {
            Some(token) => next = Some(token.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(
        seen.iter().collect::<std::collections::BTreeSet<_>>().len(),
        5
    );

    // Bad vector queries say what to fix.
    let base =
        format!("/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&QueryType=VECTOR");
    app.get(&base, &app.owner_key)
        .await
        .assert_error(400, "InvalidParameter");
    app.get(&format!("{base}&QueryText=x&TopK=0"), &app.owner_key)
        .await
        .assert_error(400, "InvalidParameter");
    app.get(&format!("{base}&QueryText=x&TopK=5000"), &app.owner_key)
        .await
        .assert_error(400, "InvalidParameter");
    app.get(
        &format!("{base}&QueryText=x&NextToken=garbage"),
        &app.owner_key,
    )
    .await
    .assert_error(400, "InvalidNextToken");
}

async fn increment_embeds_new_and_changed_files_and_deletes_vanished_vectors(app: &TestApp) {
    let initial: Vec<(&str, Vec<u8>)> = (0..5)
        .map(|i| {
            (
                ["a.png", "b.png", "c.png", "d.png", "e.png"][i],
                encode(8 + i as u32, 8, ImageFormat::Png),
            )
        })
        .collect();
    let dataset = ready_version(app, "incr", &initial).await;
    let index = json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex"});
    let full = app.run_job(&pool(app), &dataset, index.clone()).await;
    assert_counts(&full, "Succeeded", 5, 5, 0);
    assert_eq!(vector_count(app, &dataset).await, 5);

    // Nothing changed: nothing to do.
    let mut increment = index.clone();
    increment["JobMode"] = json!("Increment");
    let idle = app.run_job(&pool(app), &dataset, increment.clone()).await;
    assert_counts(&idle, "Succeeded", 0, 0, 0);

    // One new, one changed, one deleted; the build sees it, then the index.
    let dir = app.local_root.join("incr");
    write(&dir, "f.png", &encode(20, 9, ImageFormat::Png));
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&dir, "a.png", &encode(30, 30, ImageFormat::Png));
    std::fs::remove_file(dir.join("b.png")).unwrap();
    let rebuild = app
        .run_job(
            &pool(app),
            &dataset,
            json!({"DatasetVersion": "v1", "JobAction": "FileMetaBuild", "JobMode": "Increment"}),
        )
        .await;
    assert_eq!(rebuild["Status"], "Succeeded", "{rebuild}");
    let job = app.run_job(&pool(app), &dataset, increment).await;
    assert_counts(&job, "Succeeded", 2, 2, 0);
    assert_eq!(
        vector_count(app, &dataset).await,
        5,
        "b.png's vector is gone, f.png's is there"
    );
    let job_id = job["DatasetJobId"].as_str().unwrap();
    let stamped: Vec<String> = files(app, &dataset)
        .await
        .into_iter()
        .filter(|f| f["SemanticIndexJobId"] == job_id)
        .map(|f| f["FileName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stamped, vec!["a.png", "f.png"]);

    // Full redoes everything.
    let again = app.run_job(&pool(app), &dataset, index).await;
    assert_counts(&again, "Succeeded", 5, 5, 0);
}

async fn embedding_connection(app: &TestApp, server: &ModelServer, dim: usize) -> String {
    let body = json!({"ConnectionName": format!("hash-{dim}"), "ConnectionType": "EmbeddingModel",
        "Configs": {"Provider": "openai", "BaseUrl": server.openai_base(), "Model": "hash",
            "Dimension": dim.to_string(), "MaxRetries": "0"},
        "Secrets": {"ApiKey": "sk-test"}});
    app.post("/api/v1/connections", &app.owner_key, body)
        .await
        .ok()["ConnectionId"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn hash_server(dim: usize) -> ModelServer {
    ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder { dim })),
        ..Backend::default()
    })
    .await
}

async fn a_model_of_another_dimension_fails_before_any_work(app: &TestApp) {
    let dataset = ready_version(
        app,
        "dims",
        &[
            ("a.png", encode(8, 8, ImageFormat::Png)),
            ("b.png", encode(9, 9, ImageFormat::Png)),
        ],
    )
    .await;
    let server = hash_server(8).await;
    let eight = embedding_connection(app, &server, 8).await;
    let path = format!("/api/v1/datasets/{dataset}");
    app.put(
        &path,
        &app.owner_key,
        json!({"IndexConfig": {"IndexName": "shared"}}),
    )
    .await
    .ok();
    // The local model (384 values) fills the index first.
    let index = json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex"});
    let first = app.run_job(&pool(app), &dataset, index.clone()).await;
    assert_counts(&first, "Succeeded", 2, 2, 0);
    app.put(
        &path,
        &app.owner_key,
        json!({"IndexConfig": {"EmbeddingConnectionId": eight}}),
    )
    .await
    .ok();
    let requests_before = server.requests().len();
    let job = app.run_job(&pool(app), &dataset, index).await;
    assert_eq!(job["Status"], "Failed", "{job}");
    assert_eq!(job["CompletedFileCount"], 0, "{job}");
    assert_eq!(job["FailedFileCount"], 0, "{job}");
    let message = job["Message"].as_str().unwrap();
    assert!(
        message.contains("384") && message.contains('8') && message.contains("'shared'"),
        "{message}"
    );
    assert!(
        !message.contains("ws-"),
        "the message shows the user's index name: {message}"
    );
    assert_eq!(
        server.requests().len(),
        requests_before,
        "no image was sent"
    );
}

async fn index_config_defaults_to_the_builtins_and_is_validated(app: &TestApp) {
    let dataset = ready_version(app, "config", &[("a.png", encode(8, 8, ImageFormat::Png))]).await;
    let path = format!("/api/v1/datasets/{dataset}");
    let read = app.get(&path, &app.owner_key).await.ok();
    let config = &read["IndexConfig"];
    assert!(
        config["EmbeddingConnectionId"]
            .as_str()
            .unwrap()
            .starts_with("conn-local-model-"),
        "{config}"
    );
    assert!(
        config["VectorConnectionId"]
            .as_str()
            .unwrap()
            .starts_with("conn-embedded-vectors-"),
        "{config}"
    );
    assert!(
        config["IndexName"]
            .as_str()
            .unwrap()
            .starts_with("loupe_d_"),
        "{config}"
    );

    let server = hash_server(8).await;
    let eight = embedding_connection(app, &server, 8).await;
    let changed = app
        .put(
            &path,
            &app.owner_key,
            json!({"IndexConfig": {"EmbeddingConnectionId": eight, "IndexName": "frames_v2"}}),
        )
        .await
        .ok();
    assert_eq!(changed["IndexConfig"]["EmbeddingConnectionId"], eight);
    assert_eq!(changed["IndexConfig"]["IndexName"], "frames_v2");
    assert_eq!(
        changed["IndexConfig"]["VectorConnectionId"],
        config["VectorConnectionId"]
    );
    // "" puts a field back to its default.
    let reset = app
        .put(
            &path,
            &app.owner_key,
            json!({"IndexConfig": {"IndexName": ""}}),
        )
        .await
        .ok();
    assert_eq!(reset["IndexConfig"]["IndexName"], config["IndexName"]);
    assert_eq!(reset["IndexConfig"]["EmbeddingConnectionId"], eight);

    let bad = [
        (
            json!({"IndexConfig": {"IndexName": "no spaces"}}),
            400,
            "InvalidName",
        ),
        (
            json!({"IndexConfig": {"EmbeddingConnectionId": "conn-nope"}}),
            404,
            "ConnectionNotFound",
        ),
        (
            json!({"IndexConfig": {"EmbeddingConnectionId": config["VectorConnectionId"]}}),
            400,
            "InvalidParameter",
        ),
        (
            json!({"IndexConfig": {"VectorConnectionId": app.connection_id}}),
            400,
            "InvalidParameter",
        ),
        (
            json!({"IndexConfig": {"Colour": "red"}}),
            400,
            "InvalidBody",
        ),
    ];
    for (body, status, code) in bad {
        app.put(&path, &app.owner_key, body)
            .await
            .assert_error(status, code);
    }
}

async fn index_and_tag_jobs_need_a_ready_version(app: &TestApp) {
    let dir = app.local_root.join("pending");
    write(&dir, "a.png", &encode(8, 8, ImageFormat::Png));
    let uri = format!("file://{}", dir.display());
    let created = app
        .post(
            "/api/v1/datasets",
            &app.owner_key,
            json!({"Name": "pending", "Uri": uri}),
        )
        .await
        .ok();
    let dataset = created["DatasetId"].as_str().unwrap();
    app.new_version(&dataset).await;
    // The build has not run: the version is Pending.
    let jobs = format!("/api/v1/datasets/{dataset}/datasetjobs");
    let reply = app
        .post(
            &jobs,
            &app.owner_key,
            json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex"}),
        )
        .await;
    reply.assert_error(409, "VersionNotReady");
    assert!(
        reply.body["Message"]
            .as_str()
            .unwrap()
            .contains("FileMetaBuild"),
        "{}",
        reply.body
    );
    app.post(
        &jobs,
        &app.owner_key,
        json!({"DatasetVersion": "v2", "JobAction": "SemanticIndex"}),
    )
    .await
    .assert_error(404, "DatasetVersionNotFound");
    app.post(&jobs, &app.owner_key, json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex", "JobSpec": {"MaxConcurrency": 0}}))
        .await
        .assert_error(400, "InvalidParameter");
}

async fn refresh_now_starts_a_full_index_job(app: &TestApp) {
    let dataset = ready_version(app, "refresh", &[("a.png", encode(8, 8, ImageFormat::Png))]).await;
    let action = format!("/api/v1/datasets/{dataset}/action/refreshindex");
    let reply = app
        .post(&action, &app.owner_key, json!({"DatasetVersion": "v1"}))
        .await
        .ok();
    let job_id = reply["DatasetJobId"].as_str().unwrap().to_string();
    app.run_jobs(&pool(app)).await;
    let job = app.job(&dataset, &job_id).await;
    assert_eq!(job["JobAction"], "SemanticIndex");
    assert_eq!(job["JobMode"], "Full");
    assert_counts(&job, "Succeeded", 1, 1, 0);
    app.post(
        &action,
        &app.owner_key,
        json!({"DatasetVersion": "v1", "Extra": 1}),
    )
    .await
    .assert_error(400, "InvalidBody");
}

async fn workspaces_naming_the_same_index_never_share_it(app: &TestApp) {
    // Workspace A indexes 384-d vectors under the name "shared"; workspace B names the
    // same index for 8-d vectors. Both succeed: the embedded store keeps them apart.
    let a = ready_version(
        app,
        "tenant-a",
        &[("a.png", encode(8, 8, ImageFormat::Png))],
    )
    .await;
    app.put(
        &format!("/api/v1/datasets/{a}"),
        &app.owner_key,
        json!({"IndexConfig": {"IndexName": "shared"}}),
    )
    .await
    .ok();
    let index = json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex"});
    let job = app.run_job(&pool(app), &a, index.clone()).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");

    let key_b = app.workspace("tenant-b").await;
    let dir = app.local_root.join("tenant-b");
    write(&dir, "b.png", &encode(9, 9, ImageFormat::Png));
    let created = app
        .post(
            "/api/v1/datasets",
            &key_b,
            json!({"Name": "b", "Uri": format!("file://{}", dir.display())}),
        )
        .await
        .ok();
    let b = created["DatasetId"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/datasets/{b}/versions"), &key_b, json!({}))
        .await
        .ok();
    app.run_jobs(&pool(app)).await;
    let server = hash_server(8).await;
    let conn = app
        .post("/api/v1/connections", &key_b, json!({"ConnectionName": "hash", "ConnectionType": "EmbeddingModel",
            "Configs": {"Provider": "openai", "BaseUrl": server.openai_base(), "Model": "hash", "Dimension": "8"},
            "Secrets": {"ApiKey": "sk-test"}}))
        .await
        .ok()["ConnectionId"]
        .as_str()
        .unwrap()
        .to_string();
    app.put(
        &format!("/api/v1/datasets/{b}"),
        &key_b,
        json!({"IndexConfig": {"IndexName": "shared", "EmbeddingConnectionId": conn}}),
    )
    .await
    .ok();
    let created = app
        .post(&format!("/api/v1/datasets/{b}/datasetjobs"), &key_b, index)
        .await
        .ok();
    app.run_jobs(&pool(app)).await;
    let job_b = app
        .get(
            &format!(
                "/api/v1/datasets/{b}/datasetjobs/{}",
                created["DatasetJobId"].as_str().unwrap()
            ),
            &key_b,
        )
        .await
        .ok();
    assert_eq!(job_b["Status"], "Succeeded", "{job_b}");
    // A's search still answers from A's vectors only.
    let hits = vector_query(app, &a, "anything", 10).await;
    assert_eq!(names(&hits), vec!["a.png"]);
}
