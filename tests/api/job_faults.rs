//! Index jobs under every fault the protocol test servers inject: each job ends with
//! exact counts, every file done (with its vector) or failed with a reason. And a job
//! stopped mid-way leaves consistent files that a later `Increment` run completes.

use std::time::Duration;

use image::ImageFormat;
use loupe_connectors::testing::{Fault, ModelServer};
use loupe_jobs::WorkerOptions;
use loupe_store::each_engine;
use loupe_tests::images::encode;
use loupe_tests::TestApp;
use serde_json::{json, Value};

use crate::indexing::{files, hash_server, pool, ready_version, vector_count};

each_engine!(
    TestApp::start;
    faults_end_with_every_file_done_or_failed,
    a_stopped_index_job_is_finished_by_increment,
);

const FILES: u32 = 6;

/// A version of [`FILES`] small images indexed through `configs` on the test server.
async fn dataset_on(app: &TestApp, name: &str, server: &ModelServer, configs: Value) -> String {
    let files: Vec<(String, Vec<u8>)> = (0..FILES)
        .map(|i| (format!("{i}.png"), encode(8 + i, 8, ImageFormat::Png)))
        .collect();
    let borrowed: Vec<(&str, Vec<u8>)> =
        files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let dataset = ready_version(app, name, &borrowed).await;
    let mut all = json!({"Model": "hash", "Dimension": "8", "MaxRetries": "0"});
    for (k, v) in configs.as_object().unwrap() {
        all[k] = v.clone();
    }
    let provider = all["Provider"].as_str().unwrap_or("openai").to_string();
    all["Provider"] = json!(provider);
    all["BaseUrl"] = json!(match provider.as_str() {
        "pai-eas" => server.gme_url(),
        "dashscope" => server.dashscope_url(),
        _ => server.openai_base(),
    });
    let connection = app
        .post(
            "/api/v1/connections",
            &app.owner_key,
            json!({"ConnectionName": name, "ConnectionType": "EmbeddingModel", "Configs": all,
                "Secrets": {"ApiKey": "sk-test"}}),
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
    dataset
}

/// Every file is done or failed with a reason; done files have a vector and a stamp.
async fn assert_exact(app: &TestApp, dataset: &str, job: &Value) -> (i64, i64) {
    let (total, completed, failed) = (
        job["TotalFileCount"].as_i64().unwrap(),
        job["CompletedFileCount"].as_i64().unwrap(),
        job["FailedFileCount"].as_i64().unwrap(),
    );
    assert_eq!(total, i64::from(FILES), "{job}");
    assert_eq!(
        completed + failed,
        total,
        "every file is done or failed: {job}"
    );
    let id = job["DatasetJobId"].as_str().unwrap();
    let failures = app
        .get(
            &format!("/api/v1/datasets/{dataset}/datasetjobs/{id}/failures?MaxResults=100"),
            &app.owner_key,
        )
        .await
        .ok();
    assert_eq!(failures["TotalCount"], failed, "{failures}");
    for failure in failures["Failures"].as_array().unwrap() {
        assert!(!failure["Reason"].as_str().unwrap().is_empty(), "{failure}");
    }
    let stamped = files(app, dataset)
        .await
        .iter()
        .filter(|f| f["SemanticIndexJobId"] == id)
        .count();
    assert_eq!(stamped as i64, completed, "{job}");
    assert_eq!(
        vector_count(app, dataset).await as i64,
        completed,
        "one vector per done file"
    );
    (completed, failed)
}

async fn run(app: &TestApp, dataset: &str) -> Value {
    let job = app
        .create_job(
            dataset,
            json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex"}),
        )
        .await;
    app.run_until_final(&pool(app), dataset, &job).await
}

async fn faults_end_with_every_file_done_or_failed(app: &TestApp) {
    let server = hash_server(8).await;

    // Throttling and a server error, retried by the connector.
    let dataset = dataset_on(
        app,
        "transient",
        &server,
        json!({"MaxRetries": "2", "MaxBatchSize": "1"}),
    )
    .await;
    server.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    server.push_fault(Fault::ServerError);
    let job = run(app, &dataset).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(assert_exact(app, &dataset, &job).await, (6, 0));

    // A timeout, retried by the connector.
    let dataset = dataset_on(
        app,
        "timeout",
        &server,
        json!({"MaxRetries": "1", "TimeoutSecs": "1"}),
    )
    .await;
    server.push_fault(Fault::Delay(Duration::from_secs(3)));
    let job = run(app, &dataset).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(assert_exact(app, &dataset, &job).await, (6, 0));

    // An outage longer than the connector's retries: the task is retried after a backoff.
    let dataset = dataset_on(app, "outage", &server, json!({})).await;
    server.push_fault(Fault::ServerError);
    let job = run(app, &dataset).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(assert_exact(app, &dataset, &job).await, (6, 0));

    // GME's partial success: the failed input fails alone, with the server's message.
    let dataset = dataset_on(
        app,
        "partial",
        &server,
        json!({"Provider": "pai-eas", "MaxBatchSize": "6"}),
    )
    .await;
    server.push_fault(Fault::FailInputs(vec![2]));
    let job = run(app, &dataset).await;
    assert_eq!(job["Status"], "PartiallySucceeded", "{job}");
    assert_eq!(assert_exact(app, &dataset, &job).await, (5, 1));

    // Malformed JSON and vectors of the wrong length: every file fails with the reason.
    for (name, fault, needle) in [
        ("malformed", Fault::MalformedJson, "JSON"),
        ("wrong-dim", Fault::WrongDimension(5), "5"),
    ] {
        let dataset = dataset_on(app, name, &server, json!({})).await;
        server.set_standing_fault(Some(fault));
        let job = run(app, &dataset).await;
        server.set_standing_fault(None);
        assert_eq!(job["Status"], "Failed", "{job}");
        assert_eq!(assert_exact(app, &dataset, &job).await, (0, 6));
        let id = job["DatasetJobId"].as_str().unwrap();
        let failures = app
            .get(
                &format!("/api/v1/datasets/{dataset}/datasetjobs/{id}/failures"),
                &app.owner_key,
            )
            .await
            .ok();
        let reason = failures["Failures"][0]["Reason"].as_str().unwrap();
        assert!(reason.contains(needle), "{name}: {reason}");
        // Increment retries the failed files once the model behaves.
        let retry = app
            .create_job(&dataset, json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex", "JobMode": "Increment"}))
            .await;
        let retry = app.run_until_final(&pool(app), &dataset, &retry).await;
        assert_eq!(retry["Status"], "Succeeded", "{retry}");
        assert_eq!(retry["CompletedFileCount"], 6, "{retry}");
    }
}

async fn a_stopped_index_job_is_finished_by_increment(app: &TestApp) {
    // One image at a time, 200 ms each: the job takes over two seconds.
    let server = ModelServer::start(loupe_connectors::testing::Backend {
        embedder: Some(std::sync::Arc::new(loupe_tests::models::HashEmbedder {
            dim: 8,
        })),
        latency: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let dataset = dataset_on(app, "stoppable", &server, json!({"MaxBatchSize": "1"})).await;
    let job = app
        .create_job(
            &dataset,
            json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex", "JobSpec": {"MaxConcurrency": 1}}),
        )
        .await;
    // A short lease, so the heartbeat brings the stop request quickly.
    let workers = app.workers(WorkerOptions {
        lease: Duration::from_millis(600),
        poll: Duration::from_millis(50),
        ..WorkerOptions::default()
    });
    let (stop_workers, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(workers.run(async move {
        let _ = stopped.await;
    }));
    // Stop once the model has answered some images.
    let started = std::time::Instant::now();
    while server.requests().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.put(
        &format!("/api/v1/datasets/{dataset}/datasetjobs/{job}/action/stop"),
        &app.owner_key,
        json!({}),
    )
    .await
    .ok();
    let ended = loop {
        let read = app.job(&dataset, &job).await;
        if read["FinishTime"].is_string() {
            break read;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job never ended: {read}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = stop_workers.send(());
    running.await.unwrap();
    assert_eq!(ended["Status"], "Stopped", "{ended}");
    let done = ended["CompletedFileCount"].as_i64().unwrap();
    assert!(
        (1..i64::from(FILES)).contains(&done),
        "stopped mid-way: {ended}"
    );
    assert_eq!(ended["FailedFileCount"], 0, "{ended}");
    let stamped = files(app, &dataset)
        .await
        .iter()
        .filter(|f| f["SemanticIndexJobId"] == job.as_str())
        .count() as i64;
    assert_eq!(stamped, done, "the processed files are consistent");
    assert_eq!(vector_count(app, &dataset).await as i64, done);

    let rest = app
        .create_job(
            &dataset,
            json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex", "JobMode": "Increment"}),
        )
        .await;
    let rest = app.run_until_final(&pool(app), &dataset, &rest).await;
    assert_eq!(rest["Status"], "Succeeded", "{rest}");
    assert_eq!(rest["TotalFileCount"], i64::from(FILES) - done, "{rest}");
    assert_eq!(vector_count(app, &dataset).await, FILES as usize);
}
