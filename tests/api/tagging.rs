//! Smart tagging end to end: the `IntelligentTag` job with the built-in local zero-shot
//! tagger and with a remote VLM (the OpenAI-compatible chat test server), `Increment`
//! by fingerprint, model and definition version, and `IntelligentTagRevert`.

use std::sync::Arc;

use image::ImageFormat;
use loupe_connectors::testing::{Backend, Fault, ModelServer};
use loupe_store::each_engine;
use loupe_tests::images::encode;
use loupe_tests::models::AllTagger;
use loupe_tests::TestApp;
use serde_json::{json, Value};

use crate::indexing::{assert_counts, files, pool, ready_version, stamps_files};

each_engine!(
    TestApp::start;
    zero_config_tagging_writes_ai_tags_and_increment_follows_the_definition,
    a_remote_tagger_drops_and_counts_undefined_tags,
    revert_removes_exactly_the_jobs_tags,
    tag_jobs_check_their_inputs,
);

async fn definition(app: &TestApp, name: &str, tags: Value) -> String {
    let body = json!({"TagDefinitionName": name, "GuidePrompt": "Tag the main object.", "TagDefinitions": tags});
    app.post("/api/v1/tagdefinitions", &app.owner_key, body)
        .await
        .ok()["TagDefinitionId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn tag_job(definition: &str) -> Value {
    json!({"DatasetVersion": "v1", "JobAction": "IntelligentTag", "JobSpec": {"TagDefinitionId": definition}})
}

fn ai_tags(file: &Value) -> Vec<String> {
    file["Tags"]["ai"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

async fn tags_by_name(app: &TestApp, dataset: &str) -> Vec<(String, Vec<String>)> {
    files(app, dataset)
        .await
        .iter()
        .map(|f| (f["FileName"].as_str().unwrap().to_string(), ai_tags(f)))
        .collect()
}

async fn zero_config_tagging_writes_ai_tags_and_increment_follows_the_definition(app: &TestApp) {
    let dataset = ready_version(app, "tagged", &stamps_files()).await;
    let def = definition(
        app,
        "objects",
        json!({"bear": "a photo of a bear", "banana": "a photo of a banana", "truck": "a photo of a truck"}),
    )
    .await;
    // Only the definition: the built-in local-model tags zero-shot.
    let job = app.run_job(&pool(app), &dataset, tag_job(&def)).await;
    assert_counts(&job, "Succeeded", 6, 6, 0);
    let tagged = tags_by_name(app, &dataset).await;
    let of = |name: &str| tagged.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert!(of("bear.png").contains(&"bear".to_string()), "{tagged:?}");
    assert!(
        of("banana.png").contains(&"banana".to_string()),
        "{tagged:?}"
    );
    assert!(
        of("garbagetruck.png").contains(&"truck".to_string()),
        "{tagged:?}"
    );
    for (name, tags) in &tagged {
        for tag in tags {
            assert!(
                ["bear", "banana", "truck"].contains(&tag.as_str()),
                "{name}: {tag}"
            );
        }
    }
    for file in files(app, &dataset).await {
        assert!(file["TagUpdateTime"].is_string(), "{file}");
        assert_eq!(file["Tags"]["user"], json!([]));
    }

    // Unchanged files, model and definition: Increment has nothing to do.
    let mut increment = tag_job(&def);
    increment["JobMode"] = json!("Increment");
    let idle = app.run_job(&pool(app), &dataset, increment.clone()).await;
    assert_counts(&idle, "Succeeded", 0, 0, 0);

    // A new definition version makes every file due again.
    let path = format!("/api/v1/tagdefinitions/{def}");
    let updated = app
        .put(
            &path,
            &app.owner_key,
            json!({"GuidePrompt": "Tag the main object only."}),
        )
        .await
        .ok();
    assert_eq!(updated["DefinitionVersion"], 2, "{updated}");
    let redo = app.run_job(&pool(app), &dataset, increment).await;
    assert_counts(&redo, "Succeeded", 6, 6, 0);
    assert_eq!(
        tags_by_name(app, &dataset).await,
        tagged,
        "the same model gives the same tags"
    );
}

async fn chat_connection(app: &TestApp, server: &ModelServer) -> String {
    let body = json!({"ConnectionName": "vlm", "ConnectionType": "TaggingModel",
        "Configs": {"Provider": "openai", "BaseUrl": server.openai_base(), "Model": "qwen-vl-max", "MaxRetries": "0"},
        "Secrets": {"ApiKey": "sk-test"}});
    app.post("/api/v1/connections", &app.owner_key, body)
        .await
        .ok()["ConnectionId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn vlm(latency_ms: u64) -> ModelServer {
    ModelServer::start(Backend {
        tagger: Some(Arc::new(AllTagger)),
        latency: std::time::Duration::from_millis(latency_ms),
        ..Backend::default()
    })
    .await
}

fn png_files(n: u32) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| (format!("f{i:02}.png"), encode(8 + i, 8, ImageFormat::Png)))
        .collect()
}

async fn version_of(app: &TestApp, folder: &str, n: u32) -> String {
    let owned = png_files(n);
    let borrowed: Vec<(&str, Vec<u8>)> =
        owned.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    ready_version(app, folder, &borrowed).await
}

async fn a_remote_tagger_drops_and_counts_undefined_tags(app: &TestApp) {
    let dataset = version_of(app, "vlm", 6).await;
    let server = vlm(50).await;
    let connection = chat_connection(app, &server).await;
    let def = definition(
        app,
        "lanes",
        json!({"lane line": "painted lane markings", "barrier gate": "a barrier"}),
    )
    .await;
    server.set_standing_fault(Some(Fault::UndefinedTags(vec!["unicorn".to_string()])));
    let job = app
        .run_job(
            &pool(app),
            &dataset,
            json!({"DatasetVersion": "v1", "JobAction": "IntelligentTag", "JobSpec": {
                "TagDefinitionId": def, "ConnectionId": connection, "ModelName": "qwen-vl-plus", "MaxConcurrency": 2}}),
        )
        .await;
    assert_counts(&job, "Succeeded", 6, 6, 0);
    let message = job["Message"].as_str().unwrap();
    assert!(
        message.contains("6 tag names") && message.contains("dropped"),
        "{message}"
    );
    for (name, tags) in tags_by_name(app, &dataset).await {
        assert_eq!(tags, vec!["barrier gate", "lane line"], "{name}");
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 6);
    assert!(
        requests.iter().all(|r| r.body["model"] == "qwen-vl-plus"),
        "ModelName replaces the connection's Model"
    );
    let prompt = requests[0].body.to_string();
    assert!(
        prompt.contains("lane line") && prompt.contains("barrier gate"),
        "{prompt}"
    );
    assert!(
        server.max_in_flight() <= 2,
        "MaxConcurrency 2, saw {}",
        server.max_in_flight()
    );

    // Prose instead of JSON: each file fails with the reason; nothing is stored.
    server.set_standing_fault(Some(Fault::ProseReply));
    let mut again = json!({"DatasetVersion": "v1", "JobAction": "IntelligentTag", "JobSpec": {
        "TagDefinitionId": def, "ConnectionId": connection}});
    again["JobMode"] = json!("Full");
    let failed = app.run_job(&pool(app), &dataset, again).await;
    assert_counts(&failed, "Failed", 6, 0, 6);
    let id = failed["DatasetJobId"].as_str().unwrap();
    let failures = app
        .get(
            &format!("/api/v1/datasets/{dataset}/datasetjobs/{id}/failures?MaxResults=100"),
            &app.owner_key,
        )
        .await
        .ok();
    assert_eq!(failures["TotalCount"], 6);
    assert!(
        failures["Failures"][0]["Reason"]
            .as_str()
            .unwrap()
            .contains("JSON"),
        "{failures}"
    );
    // The earlier tags stay.
    for (name, tags) in tags_by_name(app, &dataset).await {
        assert_eq!(tags.len(), 2, "{name}");
    }
}

async fn revert_removes_exactly_the_jobs_tags(app: &TestApp) {
    let dataset = version_of(app, "revert", 4).await;
    let server = vlm(0).await;
    let connection = chat_connection(app, &server).await;
    let weather = definition(app, "weather", json!({"rain": "rain", "snow": "snow"})).await;
    let objects = definition(app, "objects", json!({"cone": "a traffic cone"})).await;
    let spec = |def: &str| {
        json!({"DatasetVersion": "v1", "JobAction": "IntelligentTag",
        "JobSpec": {"TagDefinitionId": def, "ConnectionId": connection}})
    };
    let first = app.run_job(&pool(app), &dataset, spec(&weather)).await;
    let second = app.run_job(&pool(app), &dataset, spec(&objects)).await;
    assert_eq!(second["Status"], "Succeeded", "{second}");
    // `ai` is the union over definitions.
    for (name, tags) in tags_by_name(app, &dataset).await {
        assert_eq!(tags, vec!["cone", "rain", "snow"], "{name}");
    }
    let before = files(app, &dataset).await[0]["TagUpdateTime"].clone();
    let revert = app
        .run_job(
            &pool(app),
            &dataset,
            json!({"DatasetVersion": "v1", "JobAction": "IntelligentTagRevert",
                "JobSpec": {"TagJobId": first["DatasetJobId"]}}),
        )
        .await;
    assert_counts(&revert, "Succeeded", 4, 4, 0);
    for (name, tags) in tags_by_name(app, &dataset).await {
        assert_eq!(tags, vec!["cone"], "{name}");
    }
    assert_ne!(files(app, &dataset).await[0]["TagUpdateTime"], before);
    // The reverted files are due again for the weather definition.
    let redo = app
        .run_job(&pool(app), &dataset, {
            let mut s = spec(&weather);
            s["JobMode"] = json!("Increment");
            s
        })
        .await;
    assert_counts(&redo, "Succeeded", 4, 4, 0);
}

async fn tag_jobs_check_their_inputs(app: &TestApp) {
    let dataset = version_of(app, "inputs", 1).await;
    let jobs = format!("/api/v1/datasets/{dataset}/datasetjobs");
    let build = app.first_job(&app.owner_key, &dataset).await;
    let def = definition(app, "d", json!({"a": "a"})).await;
    let cases = [
        (json!({"JobSpec": {}}), 400, "InvalidParameter"),
        (
            json!({"JobSpec": {"TagDefinitionId": "tagdef-missing"}}),
            404,
            "TagDefinitionNotFound",
        ),
        (
            json!({"JobSpec": {"TagDefinitionId": def, "ConnectionId": "conn-missing"}}),
            404,
            "ConnectionNotFound",
        ),
        (
            json!({"JobSpec": {"TagDefinitionId": def, "ConnectionId": app.connection_id}}),
            400,
            "InvalidParameter",
        ),
        (
            json!({"JobSpec": {"TagDefinitionId": def, "MaxConcurrency": 1000}}),
            400,
            "InvalidParameter",
        ),
    ];
    for (extra, status, code) in cases {
        let mut body = json!({"DatasetVersion": "v1", "JobAction": "IntelligentTag"});
        body["JobSpec"] = extra["JobSpec"].clone();
        app.post(&jobs, &app.owner_key, body)
            .await
            .assert_error(status, code);
    }
    // Only an IntelligentTag job can be reverted.
    app.post(&jobs, &app.owner_key, json!({"DatasetVersion": "v1", "JobAction": "IntelligentTagRevert", "JobSpec": {"TagJobId": build}}))
        .await
        .assert_error(400, "InvalidParameter");
    app.post(&jobs, &app.owner_key, json!({"DatasetVersion": "v1", "JobAction": "IntelligentTagRevert", "JobSpec": {"TagJobId": "dsjob-missing"}}))
        .await
        .assert_error(404, "DatasetJobNotFound");
}
