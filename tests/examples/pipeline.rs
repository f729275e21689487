//! Pipeline overhead of `SemanticIndex`: a version of small images indexed through the
//! OpenAI-compatible test server answering each image in a fixed 20 ms, one image per
//! request, `MaxConcurrency` 32 — so the model alone allows 32 / 0.020 s = 1,600 files/s.
//! Prints the files/s the job reached from its start to its finish time and the share
//! of the theoretical rate, beside the ceiling the same connector and server reach with
//! no job at all (32 callers embedding one image each, back to back, for 3 s), so the
//! share the pipeline itself costs is the gap between the two. Runs on PostgreSQL (`LOUPE_TEST_DATABASE_URL` or the local
//! server) and on SQLite. Used by `tests/bench/pipeline.sh`.
//!
//! usage: pipeline [FILES] (default 9600)

use std::sync::Arc;
use std::time::{Duration, Instant};

use image::ImageFormat;
use loupe_connectors::open_embedder;
use loupe_connectors::testing::{Backend, ModelServer};
use loupe_core::model::EmbedInput;
use loupe_core::modelconn::{ImageMode, ModelKind, ModelSettings, Provider};
use loupe_jobs::WorkerOptions;
use loupe_tests::images::{encode, write};
use loupe_tests::models::HashEmbedder;
use loupe_tests::{Engine, TestApp};
use serde_json::json;

const LATENCY: Duration = Duration::from_millis(20);
const CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() {
    let files: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("FILES is a number"))
        .unwrap_or(9600);
    let theoretical = CONCURRENCY as f64 / LATENCY.as_secs_f64();
    let ceiling = connector_alone().await;
    println!(
        "connector alone\t\t\t{ceiling:.0}\t{:.1} %",
        100.0 * ceiling / theoretical
    );
    println!(
        "engine\tfiles\tseconds\tfiles/s\tof {theoretical:.0} files/s\tof the connector alone"
    );
    for engine in [Engine::Postgres, Engine::Sqlite] {
        let app = TestApp::start(engine).await;
        let rate = run(&app, files).await;
        app.cleanup().await;
        println!(
            "{engine:?}\t{files}\t{:.2}\t{rate:.0}\t{:.1} %\t{:.1} %",
            files as f64 / rate,
            100.0 * rate / theoretical,
            100.0 * rate / ceiling
        );
    }
}

/// Files/s of `CONCURRENCY` callers embedding one small image each through the
/// OpenAI-compatible connector against the same test server, with no job around them.
async fn connector_alone() -> f64 {
    let server = ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder { dim: 512 })),
        latency: LATENCY,
        ..Backend::default()
    })
    .await;
    let settings = ModelSettings {
        kind: ModelKind::Embedding,
        provider: Provider::OpenAi,
        base_url: Some(server.openai_base()),
        model: Some("hash".into()),
        dimension: Some(512),
        timeout: Duration::from_secs(30),
        max_retries: 0,
        max_concurrency: CONCURRENCY,
        max_batch: 1,
        image_mode: ImageMode::Base64,
        max_image_bytes: 1 << 20,
        api_key: Some("sk-bench".into()),
    };
    let embedder = open_embedder(&settings).expect("an OpenAI embedder");
    let image = Arc::new(encode(40, 40, ImageFormat::Png));
    let started = Instant::now();
    let callers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (embedder, image) = (Arc::clone(&embedder), Arc::clone(&image));
            tokio::spawn(async move {
                let mut calls = 0_u32;
                while started.elapsed() < Duration::from_secs(3) {
                    let input = EmbedInput::Image(Arc::clone(&image));
                    embedder.embed_each(&[input]).await.expect("an embedding");
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    let mut calls = 0;
    for caller in callers {
        calls += caller.await.expect("a caller");
    }
    f64::from(calls) / started.elapsed().as_secs_f64()
}

async fn run(app: &TestApp, files: usize) -> f64 {
    let server = ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder { dim: 512 })),
        latency: LATENCY,
        ..Backend::default()
    })
    .await;
    let dir = app.local_root.join("frames");
    for i in 0..files {
        let png = encode(
            8 + (i % 64) as u32,
            8 + (i / 64 % 64) as u32,
            ImageFormat::Png,
        );
        write(&dir, &format!("{:02}/{i:06}.png", i % 32), &png);
    }
    let uri = format!("file://{}", dir.display());
    let dataset = app
        .post(
            "/api/v1/datasets",
            &app.owner_key,
            json!({"Name": "frames", "Uri": uri}),
        )
        .await
        .ok()["DatasetId"]
        .as_str()
        .unwrap()
        .to_string();
    app.new_version(&dataset).await;
    let pool = app.workers(WorkerOptions::default());
    app.run_jobs(&pool).await;
    let connection = app
        .post(
            "/api/v1/connections",
            &app.owner_key,
            json!({"ConnectionName": "model", "ConnectionType": "EmbeddingModel",
                "Configs": {"Provider": "openai", "BaseUrl": server.openai_base(), "Model": "hash",
                    "Dimension": "512", "MaxBatchSize": "1", "MaxConcurrency": CONCURRENCY.to_string()},
                "Secrets": {"ApiKey": "sk-bench"}}),
        )
        .await
        .ok();
    app.put(
        &format!("/api/v1/datasets/{dataset}"),
        &app.owner_key,
        json!({"IndexConfig": {"EmbeddingConnectionId": connection["ConnectionId"]}}),
    )
    .await
    .ok();
    let job = app
        .create_job(
            &dataset,
            json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex", "JobSpec": {"MaxConcurrency": CONCURRENCY}}),
        )
        .await;
    // The server's in-process workers: two task loops, as `loupe serve` runs by default.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = tokio::spawn(pool.run(async move {
        let _ = stopped.await;
    }));
    let ended = loop {
        let read = app.job(&dataset, &job).await;
        if read["FinishTime"].is_string() {
            break read;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = stop.send(());
    workers.await.unwrap();
    assert_eq!(ended["Status"], "Succeeded", "{ended}");
    assert_eq!(ended["CompletedFileCount"], files, "{ended}");
    assert!(server.max_in_flight() <= CONCURRENCY, "MaxConcurrency held");
    let millis = |field: &str| {
        let text = ended[field].as_str().unwrap();
        chrono_millis(text)
    };
    let seconds = (millis("FinishTime") - millis("StartTime")) as f64 / 1000.0;
    files as f64 / seconds
}

/// Milliseconds of an RFC 3339 UTC time as the API writes it (`…Z`).
fn chrono_millis(text: &str) -> i64 {
    loupe_core::time::Timestamp::parse_rfc3339(text)
        .unwrap_or_else(|| panic!("not a time: {text}"))
        .millis()
}
