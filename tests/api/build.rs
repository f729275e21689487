//! FileMetaBuild end to end: a local folder or an S3 bucket of images becomes a version
//! of file metas, with progress, failures, increments, limits, stops and links.

use image::ImageFormat;
use loupe_jobs::WorkerOptions;
use loupe_store::each_engine;
use loupe_store::Engine;
use loupe_tests::images::{encode, jpeg_with_orientation_6, write};
use loupe_tests::TestApp;
use md5::{Digest, Md5};
use serde_json::{json, Value};

each_engine!(
    TestApp::start;
    build_registers_images_with_dimensions_and_fingerprints,
    bad_files_become_failures_with_reasons,
    increment_finds_new_changed_and_deleted_files,
    stop_cancels_queued_tasks,
    two_workers_share_one_job_and_run_each_task_once,
    signed_links_serve_files_and_oriented_thumbnails,
    symlinks_out_of_the_root_are_not_registered,
    one_build_at_a_time_per_version,
    build_from_an_s3_bucket_uses_ranged_reads_and_etags,
    unreachable_storage_is_retried_with_the_object_named,
);

mod limited {
    use super::*;

    each_engine!(small_limit; a_version_over_the_limit_fails_and_shows_no_files);
}

async fn small_limit(engine: Engine) -> TestApp {
    TestApp::start_with(engine, |settings| settings.max_files_per_version = 3).await
}

fn options() -> WorkerOptions {
    WorkerOptions {
        chunk_size: 2,
        ..WorkerOptions::default()
    }
}

/// Creates a dataset from `body` and its v1, and returns the dataset and the build job.
async fn dataset_with_version(app: &TestApp, body: Value) -> (String, String) {
    let created = app
        .post("/api/v1/datasets", &app.owner_key, body)
        .await
        .ok();
    let dataset = created["DatasetId"].as_str().unwrap().to_string();
    let versions = format!("/api/v1/datasets/{dataset}/versions");
    app.post(&versions, &app.owner_key, json!({})).await.ok();
    let job = app.first_job(&app.owner_key, &dataset).await;
    (dataset, job)
}

/// Creates a local dataset over `folder` (under the app's local root) and its v1.
async fn local_version(app: &TestApp, folder: &str) -> (String, String) {
    let uri = format!("file://{}/{folder}", app.local_root.display());
    dataset_with_version(app, json!({"Name": folder, "Uri": uri})).await
}

async fn job(app: &TestApp, dataset: &str, job: &str) -> Value {
    app.get(
        &format!("/api/v1/datasets/{dataset}/datasetjobs/{job}"),
        &app.owner_key,
    )
    .await
    .ok()
}

/// A job's `(TotalFileCount, CompletedFileCount, FailedFileCount)`.
fn counts(job: &Value) -> (i64, i64, i64) {
    let count = |field: &str| job[field].as_i64().unwrap_or(-1);
    (
        count("TotalFileCount"),
        count("CompletedFileCount"),
        count("FailedFileCount"),
    )
}

async fn files(app: &TestApp, dataset: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut url =
        format!("/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&MaxResults=2");
    loop {
        let page = app.get(&url, &app.owner_key).await.ok();
        all.extend(page["DatasetFileMetas"].as_array().unwrap().iter().cloned());
        let Some(token) = page["NextToken"].as_str() else {
            break;
        };
        url = format!("/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&MaxResults=2&NextToken={token}");
    }
    all
}

async fn build_registers_images_with_dimensions_and_fingerprints(app: &TestApp) {
    let root = app.local_root.join("frames");
    let wide = encode(64, 32, ImageFormat::Png);
    write(&root, "a.png", &wide);
    write(&root, "b.png", &encode(16, 48, ImageFormat::Png));
    write(&root, "night/c.jpg", &encode(40, 30, ImageFormat::Jpeg));
    write(&root, "night/d.JPEG", &encode(8, 8, ImageFormat::Jpeg));
    write(&root, "e.gif", &encode(5, 7, ImageFormat::Gif));
    write(&root, "notes.txt", b"not an image");
    let (dataset, job_id) = local_version(app, "frames").await;
    let pending = job(app, &dataset, &job_id).await;
    assert_eq!(pending["Status"], "Pending");
    assert_eq!(pending["JobAction"], "FileMetaBuild");

    app.run_jobs(&app.workers(options())).await;

    let done = job(app, &dataset, &job_id).await;
    assert_eq!(done["Status"], "Succeeded", "{done}");
    assert_eq!(counts(&done), (5, 5, 0));
    assert!(done["FinishTime"].is_string());
    let version = app
        .get(
            &format!("/api/v1/datasets/{dataset}/versions/v1"),
            &app.owner_key,
        )
        .await
        .ok();
    assert_eq!(version["State"], "Ready");
    assert_eq!(version["DataCount"], 5);

    let files = files(app, &dataset).await;
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["FileName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["a.png", "b.png", "c.jpg", "d.JPEG", "e.gif"],
        "sorted by name, every file once"
    );
    let a = &files[0];
    assert_eq!(
        a["MetaAttributes"],
        json!({"ImageWidth": 64, "ImageHeight": 32})
    );
    assert_eq!(a["ContentType"], "image/png");
    assert_eq!(a["FileFingerPrint"], hex::encode(Md5::digest(&wide)));
    assert_eq!(a["DataSize"], wide.len());
    assert!(a["Uri"].as_str().unwrap().ends_with("/frames/a.png"));
    assert_eq!(files[2]["FileDir"], "night");
    assert_eq!(files[2]["MetaAttributes"]["ImageWidth"], 40);
    let size: i64 = files.iter().map(|f| f["DataSize"].as_i64().unwrap()).sum();
    assert_eq!(version["DataSize"], size);

    let logs = app
        .get(
            &format!("/api/v1/datasets/{dataset}/datasetjobs/{job_id}/logs"),
            &app.owner_key,
        )
        .await
        .ok();
    let text = logs["Logs"].to_string();
    assert!(
        text.contains("listed 5 images") && text.contains("1 other files skipped"),
        "{text}"
    );
}

async fn bad_files_become_failures_with_reasons(app: &TestApp) {
    let root = app.local_root.join("bad");
    let png = encode(32, 32, ImageFormat::Png);
    write(&root, "good.png", &png);
    write(&root, "empty.jpg", b"");
    write(&root, "text.jpg", b"hello, this is not a jpeg at all");
    write(&root, "cut.png", &png[..png.len() / 2]);
    write(&root, "wrong.jpg", &png);
    let (dataset, job_id) = local_version(app, "bad").await;
    app.run_jobs(&app.workers(options())).await;

    let done = job(app, &dataset, &job_id).await;
    assert_eq!(done["Status"], "PartiallySucceeded", "{done}");
    assert_eq!((counts(&done).1, counts(&done).2), (1, 4));
    let failures = app
        .get(
            &format!("/api/v1/datasets/{dataset}/datasetjobs/{job_id}/failures?MaxResults=10"),
            &app.owner_key,
        )
        .await
        .ok();
    let reasons: Vec<(String, String)> = failures["Failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let uri = f["Uri"].as_str().unwrap();
            (
                uri.rsplit('/').next().unwrap().to_string(),
                f["Reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |name: &str| {
        reasons
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    assert!(reason("empty.jpg").contains("empty"), "{reasons:?}");
    assert!(reason("text.jpg").contains("not an image"), "{reasons:?}");
    assert!(reason("cut.png").contains("truncated"), "{reasons:?}");
    assert!(
        reason("wrong.jpg").contains("PNG") && reason("wrong.jpg").contains(".jpg"),
        "{reasons:?}"
    );
    let names: Vec<Value> = files(app, &dataset)
        .await
        .iter()
        .map(|f| f["FileName"].clone())
        .collect();
    assert_eq!(
        names,
        [json!("good.png")],
        "failed files are not file metas"
    );
}

async fn increment_finds_new_changed_and_deleted_files(app: &TestApp) {
    let root = app.local_root.join("inc");
    // Sorted, the unchanged a1 and a2 fill the first chunk of two; change and new the second.
    for name in ["a1.png", "a2.png", "change.png", "drop.png"] {
        write(&root, name, &encode(10, 10, ImageFormat::Png));
    }
    let (dataset, _) = local_version(app, "inc").await;
    let pool = app.workers(options());
    app.run_jobs(&pool).await;

    std::fs::remove_file(root.join("drop.png")).unwrap();
    write(&root, "change.png", &encode(20, 30, ImageFormat::Png));
    write(&root, "new.png", &encode(7, 9, ImageFormat::Png));
    let body =
        json!({"DatasetVersion": "v1", "JobAction": "FileMetaBuild", "JobMode": "Increment"});
    let created = app
        .post(
            &format!("/api/v1/datasets/{dataset}/datasetjobs"),
            &app.owner_key,
            body,
        )
        .await
        .ok();
    let job_id = created["DatasetJobId"].as_str().unwrap();
    app.run_jobs(&pool).await;

    let done = job(app, &dataset, job_id).await;
    assert_eq!(done["Status"], "Succeeded", "{done}");
    let files = files(app, &dataset).await;
    let summary: Vec<(String, i64)> = files
        .iter()
        .map(|f| {
            (
                f["FileName"].as_str().unwrap().to_string(),
                f["MetaAttributes"]["ImageHeight"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("a1.png", 10),
        ("a2.png", 10),
        ("change.png", 30),
        ("new.png", 9),
    ];
    assert_eq!(
        summary,
        expected.map(|(name, height)| (name.to_string(), height))
    );
    let states = app.test_store().task_states(job_id).await;
    let probes = states
        .iter()
        .filter(|(key, _, _)| key.starts_with("probe"))
        .count();
    assert_eq!(
        probes, 1,
        "only the chunk with changed files is probed again: {states:?}"
    );
}

async fn a_version_over_the_limit_fails_and_shows_no_files(app: &TestApp) {
    let root = app.local_root.join("big");
    for i in 0..5 {
        write(&root, &format!("{i}.png"), &encode(4, 4, ImageFormat::Png));
    }
    let (dataset, job_id) = local_version(app, "big").await;
    app.run_jobs(&app.workers(options())).await;
    let done = job(app, &dataset, &job_id).await;
    assert_eq!(done["Status"], "Failed");
    let message = done["Message"].as_str().unwrap();
    assert!(
        message.contains("more than 3") && message.contains("found 4"),
        "{message}"
    );
    let version = app
        .get(
            &format!("/api/v1/datasets/{dataset}/versions/v1"),
            &app.owner_key,
        )
        .await
        .ok();
    assert_eq!(version["State"], "Failed");
    assert_eq!(version["DataCount"], 0);
    assert!(
        files(app, &dataset).await.is_empty(),
        "no half-registered version"
    );
}

async fn stop_cancels_queued_tasks(app: &TestApp) {
    let root = app.local_root.join("stop");
    for i in 0..6 {
        write(&root, &format!("{i}.png"), &encode(4, 4, ImageFormat::Png));
    }
    let (dataset, job_id) = local_version(app, "stop").await;
    let pool = app.workers(options());
    assert!(pool.run_one().await.unwrap(), "the listing runs");
    let stopped = app
        .put(
            &format!("/api/v1/datasets/{dataset}/datasetjobs/{job_id}/action/stop"),
            &app.owner_key,
            json!({}),
        )
        .await
        .ok();
    assert_eq!(stopped["DatasetJobId"], job_id.as_str());
    app.run_jobs(&pool).await;
    let done = job(app, &dataset, &job_id).await;
    assert_eq!(done["Status"], "Stopped", "{done}");
    let states = app.test_store().task_states(&job_id).await;
    let cancelled = states
        .iter()
        .filter(|(_, state, _)| state == "cancelled")
        .count();
    assert_eq!(cancelled, 3, "the three probe chunks never ran: {states:?}");
    let version = app
        .get(
            &format!("/api/v1/datasets/{dataset}/versions/v1"),
            &app.owner_key,
        )
        .await
        .ok();
    assert_eq!(
        version["State"], "Failed",
        "a stopped build leaves no ready version"
    );
    app.delete(
        &format!("/api/v1/datasets/{dataset}/datasetjobs/{job_id}"),
        &app.owner_key,
    )
    .await
    .ok();
    app.get(
        &format!("/api/v1/datasets/{dataset}/datasetjobs/{job_id}"),
        &app.owner_key,
    )
    .await
    .assert_error(404, "DatasetJobNotFound");
}

async fn two_workers_share_one_job_and_run_each_task_once(app: &TestApp) {
    let root = app.local_root.join("shared");
    for i in 0..40 {
        write(
            &root,
            &format!("{i:03}.png"),
            &encode(3 + i % 5, 4, ImageFormat::Png),
        );
    }
    let (dataset, job_id) = local_version(app, "shared").await;
    let first = app.workers(options());
    let second = app.workers(options());
    tokio::join!(app.run_jobs(&first), app.run_jobs(&second));
    app.run_jobs(&first).await;

    let done = job(app, &dataset, &job_id).await;
    assert_eq!(done["Status"], "Succeeded", "{done}");
    assert_eq!((counts(&done).0, counts(&done).1), (40, 40));
    let states = app.test_store().task_states(&job_id).await;
    assert_eq!(
        states.len(),
        1 + 20 + 1,
        "list, 20 probe chunks, finalize: {states:?}"
    );
    for (key, state, attempt) in &states {
        assert_eq!(
            (state.as_str(), *attempt),
            ("succeeded", 1),
            "task {key} ran to completion exactly once"
        );
    }
    assert_eq!(files(app, &dataset).await.len(), 40);
}

async fn signed_links_serve_files_and_oriented_thumbnails(app: &TestApp) {
    let root = app.local_root.join("links");
    let rotated = jpeg_with_orientation_6(40, 20);
    write(&root, "rotated.jpg", &rotated);
    let (dataset, _) = local_version(app, "links").await;
    app.run_jobs(&app.workers(options())).await;
    let file = &files(app, &dataset).await[0];
    let id = file["DatasetFileMetaId"].as_str().unwrap();
    let one = app
        .get(
            &format!("/api/v1/datasets/{dataset}/datasetfilemetas/{id}?DatasetVersion=v1"),
            &app.owner_key,
        )
        .await
        .ok();
    let download = one["DownloadUrl"].as_str().unwrap();
    let bytes = reqwest::get(download).await.unwrap().bytes().await.unwrap();
    assert_eq!(
        bytes.as_ref(),
        rotated.as_slice(),
        "the download link serves the file, no key needed"
    );

    let thumb = one["ThumbnailUrl"].as_str().unwrap();
    let fetch = |url: String| async move {
        let response = reqwest::get(url).await.unwrap();
        (response.status().as_u16(), response.bytes().await.unwrap())
    };
    let (status, jpeg) = fetch(format!("{thumb}&Width=100&Height=100")).await;
    assert_eq!(status, 200);
    let image = image::load_from_memory(&jpeg).unwrap();
    assert_eq!(
        (image.width(), image.height()),
        (50, 100),
        "EXIF orientation applied, aspect kept"
    );
    let (_, cover) = fetch(format!("{thumb}&Width=30&Height=30&Fit=cover")).await;
    let cover = image::load_from_memory(&cover).unwrap();
    assert_eq!((cover.width(), cover.height()), (30, 30));
    // The cache holds one file per size and fit; mark them to see the next answers come from it.
    let cached: Vec<_> = std::fs::read_dir(&app.thumbnail_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 2);
    for path in &cached {
        std::fs::write(path, b"from the cache").unwrap();
    }
    let (_, again) = fetch(format!("{thumb}&Width=100&Height=100")).await;
    assert_eq!(
        again.as_ref(),
        b"from the cache",
        "the second request is served from the cache"
    );

    let (status, _) = fetch(format!("{thumb}&Width=5000")).await;
    assert_eq!(status, 400);
    let tampered = thumb.replace("Signature=", "Signature=00");
    assert_eq!(fetch(tampered).await.0, 403);
    let other_file = download.replace(id, "000000000000000000000000");
    assert_eq!(
        fetch(other_file).await.0,
        403,
        "a signature covers exactly one file"
    );
}

async fn symlinks_out_of_the_root_are_not_registered(app: &TestApp) {
    let root = app.local_root.join("links-out");
    write(&root, "inside.png", &encode(4, 4, ImageFormat::Png));
    let outside = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "secret.png",
        &encode(4, 4, ImageFormat::Png),
    );
    std::os::unix::fs::symlink(outside.path().join("secret.png"), root.join("escape.png")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("escape-dir")).unwrap();
    let (dataset, _) = local_version(app, "links-out").await;
    app.run_jobs(&app.workers(options())).await;
    let names: Vec<Value> = files(app, &dataset)
        .await
        .iter()
        .map(|f| f["FileName"].clone())
        .collect();
    assert_eq!(names, [json!("inside.png")]);

    let escape = json!({"DatasetVersion": "v1", "DatasetFileMetas": [
        {"Uri": format!("file://{}/links-out/../../etc/passwd.png", app.local_root.display())}]});
    app.post(
        &format!("/api/v1/datasets/{dataset}/datasetfilemetas"),
        &app.owner_key,
        escape,
    )
    .await
    .assert_error(400, "InvalidParameter");
}

async fn one_build_at_a_time_per_version(app: &TestApp) {
    std::fs::create_dir_all(app.local_root.join("once")).unwrap();
    let (dataset, _) = local_version(app, "once").await;
    let body = json!({"DatasetVersion": "v1", "JobAction": "FileMetaBuild"});
    let url = format!("/api/v1/datasets/{dataset}/datasetjobs");
    app.post(&url, &app.owner_key, body.clone())
        .await
        .assert_error(409, "JobConflict");
    app.run_jobs(&app.workers(options())).await;
    // Retries with the same Idempotency-Key give the same job.
    let send = || async {
        let response = reqwest::Client::new()
            .post(format!("{}{url}", app.base))
            .bearer_auth(&app.owner_key)
            .header("Idempotency-Key", "rebuild-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()["DatasetJobId"].clone()
    };
    let first = send().await;
    assert!(first.is_string());
    assert_eq!(send().await, first);
    let spec = json!({"DatasetVersion": "v1", "JobAction": "FileMetaBuild", "JobSpec": {"x": 1}});
    app.post(&url, &app.owner_key, spec)
        .await
        .assert_error(400, "InvalidParameter");
    let missing = json!({"DatasetVersion": "v9", "JobAction": "FileMetaBuild"});
    app.post(&url, &app.owner_key, missing)
        .await
        .assert_error(404, "DatasetVersionNotFound");
}

async fn build_from_an_s3_bucket_uses_ranged_reads_and_etags(app: &TestApp) {
    let s3 = loupe_storage::testing::S3sFs::start().await;
    let png = encode(33, 22, ImageFormat::Png);
    s3.put("fleet", "frames/one.png", &png);
    s3.put(
        "fleet",
        "frames/sub/two.jpg",
        &encode(12, 34, ImageFormat::Jpeg),
    );
    s3.put("fleet", "frames/bad.jpg", b"oops");
    s3.put("fleet", "other/three.png", &png);
    let connection = json!({
        "ConnectionName": "s3s", "ConnectionType": "ObjectStorage",
        "Configs": {"Region": "us-east-1", "Endpoint": s3.endpoint, "AddressingStyle": "path"},
        "Secrets": {"AccessKeyId": loupe_storage::testing::ACCESS_KEY, "AccessKeySecret": loupe_storage::testing::SECRET_KEY}
    });
    let connection = app
        .post("/api/v1/connections", &app.owner_key, connection)
        .await
        .ok();
    let connection_id = connection["ConnectionId"].as_str().unwrap();
    assert_eq!(
        connection["SecretNames"],
        json!(["AccessKeyId", "AccessKeySecret"])
    );
    assert!(!connection
        .to_string()
        .contains(loupe_storage::testing::SECRET_KEY));
    let tested = app
        .post(
            &format!("/api/v1/connections/{connection_id}/action/test"),
            &app.owner_key,
            json!({"Uri": "s3://fleet/frames"}),
        )
        .await
        .ok();
    assert_eq!(
        (tested["Reachable"].as_bool(), tested["CanList"].as_bool()),
        (Some(true), Some(true)),
        "{tested}"
    );

    let body = json!({"Name": "fleet", "Uri": "s3://fleet/frames", "ConnectionId": connection_id});
    let (dataset, job_id) = dataset_with_version(app, body).await;
    app.run_jobs(&app.workers(options())).await;

    let done = job(app, &dataset, &job_id).await;
    assert_eq!(done["Status"], "PartiallySucceeded", "{done}");
    let files = files(app, &dataset).await;
    let summary: Vec<(String, String, i64)> = files
        .iter()
        .map(|f| {
            (
                f["Uri"].as_str().unwrap().to_string(),
                f["FileDir"].as_str().unwrap().to_string(),
                f["MetaAttributes"]["ImageWidth"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("s3://fleet/frames/one.png".to_string(), String::new(), 33),
            (
                "s3://fleet/frames/sub/two.jpg".to_string(),
                "sub".to_string(),
                12
            ),
        ]
    );
    assert!(
        !files[0]["FileFingerPrint"].as_str().unwrap().is_empty(),
        "the ETag is the fingerprint"
    );
    let presigned = files[0]["DownloadUrl"].as_str().unwrap();
    assert!(
        presigned.starts_with(&s3.endpoint),
        "object stores presign their own links"
    );
    let bytes = reqwest::get(presigned)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), png.as_slice());
}

async fn unreachable_storage_is_retried_with_the_object_named(app: &TestApp) {
    // The app's default connection points at a port where nothing listens.
    let dataset = app.dataset(&app.owner_key, "unreachable").await;
    app.new_version(&dataset).await;
    let job_id = app.first_job(&app.owner_key, &dataset).await;
    let pool = app.workers(options());
    assert!(pool.run_one().await.unwrap());
    assert!(
        !pool.run_one().await.unwrap(),
        "the retry waits for its backoff"
    );

    let running = job(app, &dataset, &job_id).await;
    assert_eq!(
        running["Status"], "Running",
        "a temporary fault does not fail the job: {running}"
    );
    let states = app.test_store().task_states(&job_id).await;
    assert_eq!(
        states,
        [("list".to_string(), "queued".to_string(), 1)],
        "queued again after attempt 1"
    );
    let logs = app
        .get(
            &format!("/api/v1/datasets/{dataset}/datasetjobs/{job_id}/logs"),
            &app.owner_key,
        )
        .await
        .ok();
    let line = &logs["Logs"][0];
    assert_eq!(line["Level"], "warn");
    let message = line["Message"].as_str().unwrap();
    assert!(
        message.contains("s3://bucket/frames") && message.contains("temporary failure"),
        "{message}"
    );
    let stopped = app
        .put(
            &format!("/api/v1/datasets/{dataset}/datasetjobs/{job_id}/action/stop"),
            &app.owner_key,
            json!({}),
        )
        .await
        .ok();
    assert_eq!(stopped["Status"], "Running");
    app.run_jobs(&pool).await;
    assert_eq!(job(app, &dataset, &job_id).await["Status"], "Stopped");
}
