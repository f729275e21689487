//! Model connections (`EmbeddingModel`, `TaggingModel`) against the protocol test
//! servers of loupe-connectors, and the built-in `local-model` and `embedded-vectors`
//! connections every workspace has.

use std::sync::Arc;

use async_trait::async_trait;
use loupe_connectors::testing::{Backend, ModelServer};
use loupe_core::model::{EmbedInput, Embedder};
use loupe_store::each_engine;
use loupe_tests::models::AllTagger;
use loupe_tests::TestApp;
use serde_json::{json, Value};

each_engine!(
    TestApp::start;
    every_remote_provider_is_created_and_tested_without_leaking_the_key,
    a_refused_key_is_reported_as_reachable_without_the_key,
    model_settings_are_validated_naming_the_setting,
    builtins_are_listed_in_every_workspace_and_read_only,
    local_model_test_action_embeds_with_the_local_model,
);

const KEY: &str = "sk-model-secret-0123456789";
const DIM: usize = 8;

/// Constant unit vectors of [`DIM`] values: enough for a connection test.
struct FlatEmbedder;

#[async_trait]
impl Embedder for FlatEmbedder {
    fn model(&self) -> &str {
        "flat"
    }
    fn dim(&self) -> usize {
        DIM
    }
    async fn embed(&self, inputs: &[EmbedInput]) -> loupe_core::Result<Vec<Vec<f32>>> {
        let value = 1.0 / (DIM as f32).sqrt();
        Ok(inputs.iter().map(|_| vec![value; DIM]).collect())
    }
}

async fn server() -> ModelServer {
    ModelServer::start(Backend {
        embedder: Some(Arc::new(FlatEmbedder)),
        tagger: Some(Arc::new(AllTagger)),
        api_key: Some(KEY.to_string()),
        ..Backend::default()
    })
    .await
}

async fn create(app: &TestApp, body: Value) -> String {
    app.post("/api/v1/connections", &app.owner_key, body)
        .await
        .ok()["ConnectionId"]
        .as_str()
        .expect("ConnectionId")
        .to_string()
}

async fn test_action(app: &TestApp, id: &str) -> Value {
    app.post(
        &format!("/api/v1/connections/{id}/action/test"),
        &app.owner_key,
        json!({}),
    )
    .await
    .ok()
}

fn remote_connections(server: &ModelServer, key: &str) -> Vec<Value> {
    let dim = DIM.to_string();
    vec![
        json!({"ConnectionName": "dashscope", "ConnectionType": "EmbeddingModel",
            "Configs": {"Provider": "dashscope", "BaseUrl": server.dashscope_url(),
                "Model": "tongyi-embedding-vision-plus", "Dimension": dim},
            "Secrets": {"ApiKey": key}}),
        json!({"ConnectionName": "gme", "ConnectionType": "EmbeddingModel",
            "Configs": {"Provider": "pai-eas", "BaseUrl": server.gme_url(), "Dimension": dim},
            "Secrets": {"ApiKey": key}}),
        json!({"ConnectionName": "openai-embed", "ConnectionType": "EmbeddingModel",
            "Configs": {"Provider": "openai", "BaseUrl": server.openai_base(),
                "Model": "gme-qwen2-vl", "Dimension": dim, "MaxConcurrency": "4"},
            "Secrets": {"ApiKey": key}}),
        json!({"ConnectionName": "qwen-vl", "ConnectionType": "TaggingModel",
            "Configs": {"Provider": "openai", "BaseUrl": server.openai_base(), "Model": "qwen-vl-max"},
            "Secrets": {"ApiKey": key}}),
    ]
}

async fn every_remote_provider_is_created_and_tested_without_leaking_the_key(app: &TestApp) {
    let server = server().await;
    let mut readings = Vec::new();
    for body in remote_connections(&server, KEY) {
        let name = body["ConnectionName"].clone();
        let created = app
            .post("/api/v1/connections", &app.owner_key, body)
            .await
            .ok();
        assert_eq!(created["SecretNames"], json!(["ApiKey"]), "{created}");
        assert_eq!(created["BuiltIn"], false);
        let id = created["ConnectionId"].as_str().unwrap().to_string();
        let result = test_action(app, &id).await;
        assert_eq!(result["Reachable"], true, "{name}: {result}");
        let message = result["Message"].as_str().unwrap();
        assert!(message.contains("answered"), "{name}: {message}");
        readings.push(created.to_string());
        readings.push(result.to_string());
        readings.push(
            app.get(&format!("/api/v1/connections/{id}"), &app.owner_key)
                .await
                .ok()
                .to_string(),
        );
        let sealed = app.test_store().raw_connection_secrets(&id).await;
        assert!(
            !sealed.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "{name}: the key is sealed at rest"
        );
    }
    readings.push(
        app.get("/api/v1/connections?MaxResults=100", &app.owner_key)
            .await
            .ok()
            .to_string(),
    );
    for text in &readings {
        assert!(!text.contains(KEY), "{text}");
    }
    // The embedding test embedded one text; the tagging test sent one image.
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.path == "/v1/chat/completions"),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.path != "/v1/chat/completions")
            .count()
            >= 3
    );
}

async fn a_refused_key_is_reported_as_reachable_without_the_key(app: &TestApp) {
    let server = server().await;
    let wrong = "sk-wrong-key-9876543210";
    for body in remote_connections(&server, wrong) {
        let name = body["ConnectionName"].clone();
        let id = create(app, body).await;
        let result = test_action(app, &id).await;
        let message = result["Message"].as_str().unwrap();
        assert_eq!(result["Reachable"], true, "{name}: {result}");
        assert!(
            !message.contains(wrong) && !message.contains(KEY),
            "{message}"
        );
        assert!(
            !message.contains("answered:"),
            "{name}: not a success: {message}"
        );
    }
}

async fn model_settings_are_validated_naming_the_setting(app: &TestApp) {
    let cases = [
        (
            json!({"Provider": "dashscope", "BaseUrl": "https://dashscope.aliyuncs.com/api/v1", "Model": "m"}),
            "EmbeddingModel",
            json!({"ApiKey": "k"}),
            "Configs.Dimension",
        ),
        (
            json!({"Provider": "dashscope", "BaseUrl": "https://x.example", "Model": "m", "Dimension": "8"}),
            "EmbeddingModel",
            json!({}),
            "Secrets.ApiKey",
        ),
        (
            json!({"Provider": "nope"}),
            "EmbeddingModel",
            json!({}),
            "Configs.Provider",
        ),
        (
            json!({"Provider": "dashscope", "BaseUrl": "https://x.example", "Model": "m"}),
            "TaggingModel",
            json!({"ApiKey": "k"}),
            "Configs.Provider",
        ),
        (
            json!({"Provider": "openai", "BaseUrl": "ftp://x", "Model": "m"}),
            "TaggingModel",
            json!({}),
            "Configs.BaseUrl",
        ),
        (
            json!({"Provider": "openai", "BaseUrl": "http://x/v1", "Model": "m", "Dimension": "8"}),
            "TaggingModel",
            json!({}),
            "Configs.Dimension",
        ),
        (
            json!({"Provider": "local", "Colour": "red"}),
            "EmbeddingModel",
            json!({}),
            "Colour",
        ),
        (
            json!({"Engine": "embedded"}),
            "VectorDatabase",
            json!({}),
            "embedded-vectors",
        ),
    ];
    for (configs, kind, secrets, named) in cases {
        let body = json!({"ConnectionName": "bad", "ConnectionType": kind,
            "Configs": configs, "Secrets": secrets});
        let reply = app.post("/api/v1/connections", &app.owner_key, body).await;
        reply.assert_error(400, "InvalidParameter");
        let message = reply.body["Message"].as_str().unwrap();
        assert!(message.contains(named), "{named}: {message}");
    }
    // An update is checked the same way.
    let id = create(
        app,
        json!({"ConnectionName": "local-2", "ConnectionType": "EmbeddingModel",
            "Configs": {"Provider": "local"}}),
    )
    .await;
    let reply = app
        .put(
            &format!("/api/v1/connections/{id}"),
            &app.owner_key,
            json!({"Configs": {"Provider": "openai"}}),
        )
        .await;
    reply.assert_error(400, "InvalidParameter");
    assert!(reply.body["Message"]
        .as_str()
        .unwrap()
        .contains("Configs.BaseUrl"));
}

fn builtins(list: &Value) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = list["Connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["BuiltIn"] == true)
        .map(|c| {
            (
                c["ConnectionName"].as_str().unwrap().to_string(),
                c["ConnectionType"].as_str().unwrap().to_string(),
                c["ConnectionId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

async fn builtins_are_listed_in_every_workspace_and_read_only(app: &TestApp) {
    let list = app
        .get("/api/v1/connections?MaxResults=100", &app.owner_key)
        .await
        .ok();
    let ours = builtins(&list);
    let names: Vec<_> = ours
        .iter()
        .map(|(n, t, _)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("embedded-vectors", "VectorDatabase"),
            ("local-model", "EmbeddingModel")
        ]
    );
    let other_key = app.workspace("second").await;
    let theirs = builtins(
        &app.get("/api/v1/connections?MaxResults=100", &other_key)
            .await
            .ok(),
    );
    assert_eq!(theirs.len(), 2);
    for ((_, _, mine), (_, _, other)) in ours.iter().zip(&theirs) {
        assert_ne!(mine, other, "ids differ per workspace");
        app.get(&format!("/api/v1/connections/{other}"), &app.owner_key)
            .await
            .assert_error(404, "ConnectionNotFound");
        app.delete(&format!("/api/v1/connections/{other}"), &app.owner_key)
            .await
            .assert_error(404, "ConnectionNotFound");
    }
    for (name, _, id) in &ours {
        let path = format!("/api/v1/connections/{id}");
        let read = app.get(&path, &app.owner_key).await.ok();
        assert_eq!(read["ConnectionName"], name.as_str());
        assert_eq!(read["SecretNames"], json!([]));
        app.delete(&path, &app.owner_key)
            .await
            .assert_error(409, "ConnectionReadOnly");
        app.put(&path, &app.owner_key, json!({"ConnectionName": "renamed"}))
            .await
            .assert_error(409, "ConnectionReadOnly");
        app.put(
            &path,
            &app.owner_key,
            json!({"Configs": {"Provider": "local"}}),
        )
        .await
        .assert_error(409, "ConnectionReadOnly");
        assert_eq!(
            app.get(&path, &app.owner_key).await.ok()["ConnectionName"],
            name.as_str()
        );
    }
    // A user connection cannot take a built-in's name.
    app.post(
        "/api/v1/connections",
        &app.owner_key,
        json!({"ConnectionName": "local-model", "ConnectionType": "EmbeddingModel",
            "Configs": {"Provider": "local"}}),
    )
    .await
    .assert_error(409, "ConnectionAlreadyExists");
    let (_, _, vectors) = ours
        .iter()
        .find(|(n, _, _)| n == "embedded-vectors")
        .unwrap();
    let result = test_action(app, vectors).await;
    assert_eq!(result["Reachable"], true, "{result}");
    assert!(
        result["Message"].as_str().unwrap().contains("embedded"),
        "{result}"
    );
}

async fn local_model_test_action_embeds_with_the_local_model(app: &TestApp) {
    let list = app
        .get("/api/v1/connections?MaxResults=100", &app.owner_key)
        .await
        .ok();
    let (_, _, id) = builtins(&list)
        .into_iter()
        .find(|(n, _, _)| n == "local-model")
        .expect("local-model");
    let result = test_action(app, &id).await;
    assert_eq!(result["Reachable"], true, "{result}");
    let message = result["Message"].as_str().unwrap();
    assert!(
        message.contains("local") && message.contains("384 values"),
        "{message}"
    );
    // The same connection is the zero-shot tagger.
    let ws = app
        .loupe
        .workspace_by_name("default")
        .await
        .expect("default workspace")
        .workspace_id;
    let tagger = app
        .loupe
        .tagger(&ws, &loupe_core::ids::ConnectionId::from_raw(id), None)
        .await
        .expect("local-model tags");
    assert_eq!(tagger.model(), loupe_models::MODEL_NAME);
}
