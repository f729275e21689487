//! Connections: secrets are sealed at rest, never returned, and checked on use.

use loupe_store::each_engine;
use loupe_tests::TestApp;
use serde_json::json;

each_engine!(
    TestApp::start;
    secrets_are_sealed_at_rest_and_never_returned,
    connection_settings_are_validated,
    test_connection_reports_refused_credentials,
    file_metas_can_be_registered_and_sorted,
);

const SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";

async fn secrets_are_sealed_at_rest_and_never_returned(app: &TestApp) {
    let body = json!({
        "ConnectionName": "fleet", "ConnectionType": "ObjectStorage",
        "Configs": {"Region": "oss-cn-hangzhou", "Endpoint": "https://oss-cn-hangzhou.aliyuncs.com"},
        "Secrets": {"AccessKeyId": "LTAI-example", "AccessKeySecret": SECRET}
    });
    let created = app
        .post("/api/v1/connections", &app.owner_key, body)
        .await
        .ok();
    let id = created["ConnectionId"].as_str().unwrap().to_string();
    assert_eq!(
        created["SecretNames"],
        json!(["AccessKeyId", "AccessKeySecret"])
    );
    let readings = [
        created.to_string(),
        app.get(&format!("/api/v1/connections/{id}"), &app.owner_key)
            .await
            .ok()
            .to_string(),
        app.get("/api/v1/connections?MaxResults=100", &app.owner_key)
            .await
            .ok()
            .to_string(),
    ];
    for text in &readings {
        assert!(
            !text.contains(SECRET) && !text.contains("LTAI-example"),
            "{text}"
        );
    }
    let sealed = app.test_store().raw_connection_secrets(&id).await;
    assert!(
        !sealed.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "not stored in clear"
    );
    assert!(sealed.len() > SECRET.len(), "stored sealed");

    let update = json!({"ConnectionName": "fleet-2", "Secrets": {"AccessKeyId": "a", "AccessKeySecret": "b", "SessionToken": "c"}});
    let changed = app
        .put(&format!("/api/v1/connections/{id}"), &app.owner_key, update)
        .await
        .ok();
    assert_eq!(changed["ConnectionName"], "fleet-2");
    assert_eq!(
        changed["SecretNames"],
        json!(["AccessKeyId", "AccessKeySecret", "SessionToken"])
    );
    assert_eq!(
        changed["Configs"]["Region"], "oss-cn-hangzhou",
        "settings not given stay"
    );

    let viewer = app.key(loupe_core::auth::Role::Viewer).await;
    app.get(&format!("/api/v1/connections/{id}"), &viewer)
        .await
        .ok();
    app.delete(&format!("/api/v1/connections/{id}"), &viewer)
        .await
        .assert_error(403, "PermissionDenied");
    app.delete(&format!("/api/v1/connections/{id}"), &app.owner_key)
        .await
        .ok();
    app.get(&format!("/api/v1/connections/{id}"), &app.owner_key)
        .await
        .assert_error(404, "ConnectionNotFound");
}

async fn connection_settings_are_validated(app: &TestApp) {
    let base = json!({
        "ConnectionName": "x", "ConnectionType": "ObjectStorage", "Configs": {"Region": "us-east-1"},
        "Secrets": {"AccessKeyId": "a", "AccessKeySecret": "b"}
    });
    let cases = [
        ("/Configs", json!({}), "Configs.Region is required"),
        (
            "/Configs",
            json!({"Region": "r", "Endpoint": "ftp://x"}),
            "Endpoint",
        ),
        (
            "/Configs",
            json!({"Region": "r", "AddressingStyle": "sideways"}),
            "AddressingStyle",
        ),
        (
            "/Configs",
            json!({"Region": "r", "Bucket": "b"}),
            "unknown Configs key 'Bucket'",
        ),
        (
            "/Secrets",
            json!({"AccessKeyId": "a"}),
            "Secrets.AccessKeySecret is required",
        ),
    ];
    for (field, value, message) in cases {
        let mut body = base.clone();
        *body.pointer_mut(field).unwrap() = value;
        let reply = app.post("/api/v1/connections", &app.owner_key, body).await;
        reply.assert_error(400, "InvalidParameter");
        assert!(
            reply.body["Message"].as_str().unwrap().contains(message),
            "{:?}",
            reply.body
        );
    }
    app.post("/api/v1/connections", &app.owner_key, base.clone())
        .await
        .ok();
    app.post("/api/v1/connections", &app.owner_key, base)
        .await
        .assert_error(409, "ConnectionAlreadyExists");
    let body = json!({"Name": "needs-one", "Uri": "s3://bucket/x"});
    let reply = app.post("/api/v1/datasets", &app.owner_key, body).await;
    reply.assert_error(400, "InvalidParameter");
    assert!(reply.body["Message"]
        .as_str()
        .unwrap()
        .contains("ConnectionId is required"));
    let body = json!({"Name": "unknown", "Uri": "s3://bucket/x", "ConnectionId": "conn-nope"});
    app.post("/api/v1/datasets", &app.owner_key, body)
        .await
        .assert_error(404, "ConnectionNotFound");
}

async fn test_connection_reports_refused_credentials(app: &TestApp) {
    let s3 = loupe_storage::testing::S3sFs::start().await;
    s3.put("fleet", "a.png", b"x");
    let body = json!({
        "ConnectionName": "wrong", "ConnectionType": "ObjectStorage",
        "Configs": {"Region": "us-east-1", "Endpoint": s3.endpoint, "AddressingStyle": "path"},
        "Secrets": {"AccessKeyId": loupe_storage::testing::ACCESS_KEY, "AccessKeySecret": "not-the-secret"}
    });
    let created = app
        .post("/api/v1/connections", &app.owner_key, body)
        .await
        .ok();
    let id = created["ConnectionId"].as_str().unwrap();
    let url = format!("/api/v1/connections/{id}/action/test");
    let result = app
        .post(&url, &app.owner_key, json!({"Uri": "s3://fleet"}))
        .await
        .ok();
    assert_eq!(result["CanList"], false, "{result}");
    let message = result["Message"].as_str().unwrap();
    assert!(
        message.contains("s3://fleet") && !message.contains("not-the-secret"),
        "{message}"
    );
    app.post(&url, &app.owner_key, json!({}))
        .await
        .assert_error(400, "InvalidParameter");
    app.post(&url, &app.owner_key, json!({"Uri": "file:///tmp"}))
        .await
        .assert_error(400, "InvalidParameter");
}

async fn file_metas_can_be_registered_and_sorted(app: &TestApp) {
    let dataset = app.dataset(&app.owner_key, "registered").await;
    let files = json!({"DatasetVersion": "v1", "DatasetFileMetas": [
        {"Uri": "s3://bucket/frames/b.jpg", "DataSize": 10, "FileUpdateTime": 3000, "MetaAttributes": {"ImageWidth": 4, "ImageHeight": 3}},
        {"Uri": "s3://bucket/frames/a/c.png", "DataSize": 20, "FileUpdateTime": 1000},
        {"Uri": "s3://bucket/frames/z.webp", "DataSize": 30, "FileUpdateTime": 2000}
    ]});
    let url = format!("/api/v1/datasets/{dataset}/datasetfilemetas");
    app.post(
        &format!("/api/v1/datasets/{dataset}/versions"),
        &app.owner_key,
        json!({}),
    )
    .await
    .ok();
    let created = app.post(&url, &app.owner_key, files.clone()).await.ok();
    assert_eq!(created["DatasetFileMetaIds"].as_array().unwrap().len(), 3);
    app.post(&url, &app.owner_key, files).await.ok(); // registering again is harmless
    let names = |page: serde_json::Value| -> Vec<String> {
        page["DatasetFileMetas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["FileName"].as_str().unwrap().to_string())
            .collect()
    };
    let by_name = app
        .get(&format!("{url}?DatasetVersion=v1"), &app.owner_key)
        .await
        .ok();
    assert_eq!(by_name["TotalCount"], 3);
    assert_eq!(names(by_name), ["b.jpg", "c.png", "z.webp"]);
    let by_time = app
        .get(
            &format!("{url}?DatasetVersion=v1&SortBy=FileUpdateTime&Order=DESC&MaxResults=2"),
            &app.owner_key,
        )
        .await
        .ok();
    let token = by_time["NextToken"].as_str().unwrap().to_string();
    assert_eq!(names(by_time), ["b.jpg", "z.webp"]);
    let rest = app
        .get(&format!("{url}?DatasetVersion=v1&SortBy=FileUpdateTime&Order=DESC&MaxResults=2&NextToken={token}"), &app.owner_key)
        .await
        .ok();
    assert_eq!(names(rest), ["c.png"]);
    app.get(
        &format!("{url}?DatasetVersion=v1&NextToken={token}"),
        &app.owner_key,
    )
    .await
    .assert_error(400, "InvalidNextToken");
    app.get(
        &format!("{url}?DatasetVersion=v1&SortBy=Size"),
        &app.owner_key,
    )
    .await
    .assert_error(400, "InvalidParameter");
    let outside =
        json!({"DatasetVersion": "v1", "DatasetFileMetas": [{"Uri": "s3://other/x.jpg"}]});
    app.post(&url, &app.owner_key, outside)
        .await
        .assert_error(400, "InvalidParameter");
    let text = json!({"DatasetVersion": "v1", "DatasetFileMetas": [{"Uri": "s3://bucket/frames/notes.txt"}]});
    app.post(&url, &app.owner_key, text)
        .await
        .assert_error(400, "InvalidParameter");
}
