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
    vector_database_connections_are_tested_without_leaking_secrets,
    vector_database_settings_are_validated,
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
    app.new_version(&dataset).await;
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

/// The test PostgreSQL as a `VectorDatabase` connection keeps it: the endpoint without
/// credentials, and the user name for `Secrets.Username`.
fn pgvector_endpoint() -> (String, String) {
    let url = loupe_store::testing::postgres_url();
    let (scheme, rest) = url.split_once("://").expect("postgres:// URL");
    let rest = rest.split('?').next().unwrap_or_default();
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            (format!("{scheme}://{host}"), user.to_string())
        }
        None => (format!("{scheme}://{rest}"), "postgres".to_string()),
    }
}

const PG_SECRET: &str = "pg-Secret-9f3c1e";

async fn vector_database_connections_are_tested_without_leaking_secrets(app: &TestApp) {
    let (endpoint, user) = pgvector_endpoint();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let cases = [
        // (name, endpoint, user, reachable, message)
        (
            "vectors",
            endpoint.clone(),
            user.clone(),
            true,
            "pgvector answered",
        ),
        (
            "vectors-down",
            format!("postgres://127.0.0.1:{closed_port}/postgres"),
            user,
            false,
            "unavailable",
        ),
        (
            "vectors-stranger",
            endpoint,
            "loupe_no_such_role".to_string(),
            true,
            "Secrets.Username",
        ),
    ];
    for (name, endpoint, user, reachable, message) in cases {
        let body = json!({
            "ConnectionName": name, "ConnectionType": "VectorDatabase",
            "Configs": {"Engine": "pgvector", "Endpoint": endpoint, "TimeoutSecs": "1", "MaxRetries": "0"},
            "Secrets": {"Username": user, "Password": PG_SECRET}
        });
        let created = app
            .post("/api/v1/connections", &app.owner_key, body)
            .await
            .ok();
        assert_eq!(created["ConnectionType"], "VectorDatabase");
        assert_eq!(created["SecretNames"], json!(["Password", "Username"]));
        let id = created["ConnectionId"].as_str().unwrap();
        let url = format!("/api/v1/connections/{id}/action/test");
        let result = app.post(&url, &app.owner_key, json!({})).await.ok();
        assert_eq!(result["Reachable"], reachable, "{name}: {result}");
        assert_eq!(result["CanList"], false, "{name}: {result}");
        let said = result["Message"].as_str().unwrap();
        assert!(said.contains(message), "{name}: {said}");
        let read = app
            .get(&format!("/api/v1/connections/{id}"), &app.owner_key)
            .await
            .ok();
        for text in [created.to_string(), result.to_string(), read.to_string()] {
            assert!(!text.contains(PG_SECRET), "{name}: {text}");
            assert!(!text.contains("loupe_no_such_role"), "{name}: {text}");
        }
    }
    let listed = app
        .get("/api/v1/connections?MaxResults=100", &app.owner_key)
        .await
        .ok();
    assert!(!listed.to_string().contains(PG_SECRET));
}

async fn vector_database_settings_are_validated(app: &TestApp) {
    let base = json!({
        "ConnectionName": "vdb", "ConnectionType": "VectorDatabase",
        "Configs": {"Engine": "pgvector", "Endpoint": "postgres://db.internal:5432/vectors"},
        "Secrets": {"Username": "loupe", "Password": PG_SECRET}
    });
    let cases = [
        (
            "/Configs",
            json!({"Endpoint": "postgres://h/db"}),
            "Configs.Engine is required",
        ),
        (
            "/Configs",
            json!({"Engine": "faiss", "Endpoint": "postgres://h/db"}),
            "Configs.Engine 'faiss'",
        ),
        (
            "/Configs",
            json!({"Engine": "pgvector", "Endpoint": "http://h:9200"}),
            "Configs.Endpoint",
        ),
        (
            "/Configs",
            json!({"Engine": "pgvector", "Endpoint": "postgres://loupe:pw@h/db"}),
            "must not hold credentials",
        ),
        (
            "/Configs",
            json!({"Engine": "pgvector", "Endpoint": "postgres://h/db", "Database": "no-dashes"}),
            "Configs.Database",
        ),
        (
            "/Configs",
            json!({"Engine": "pgvector", "Endpoint": "postgres://h/db", "TimeoutSecs": "soon"}),
            "Configs.TimeoutSecs",
        ),
        (
            "/Secrets",
            json!({"Password": PG_SECRET}),
            "Secrets.Password needs Secrets.Username",
        ),
        (
            "/Secrets",
            json!({"Token": "t"}),
            "unknown Secrets key 'Token'",
        ),
    ];
    for (field, value, message) in cases {
        let mut body = base.clone();
        *body.pointer_mut(field).unwrap() = value;
        let reply = app.post("/api/v1/connections", &app.owner_key, body).await;
        reply.assert_error(400, "InvalidParameter");
        let said = reply.body["Message"].as_str().unwrap();
        assert!(said.contains(message), "{said}");
        assert!(
            !reply.body.to_string().contains(PG_SECRET),
            "{}",
            reply.body
        );
    }
    let created = app
        .post("/api/v1/connections", &app.owner_key, base)
        .await
        .ok();
    let id = created["ConnectionId"].as_str().unwrap();
    let update = json!({"Configs": {"Engine": "milvus", "Endpoint": "postgres://h/db"}});
    let reply = app
        .put(&format!("/api/v1/connections/{id}"), &app.owner_key, update)
        .await;
    reply.assert_error(400, "InvalidParameter");
    assert!(reply.body["Message"]
        .as_str()
        .unwrap()
        .contains("Configs.Endpoint"));
    // A vector database is no place for a dataset's images.
    let body = json!({"Name": "misplaced", "Uri": "s3://bucket/x", "ConnectionId": id});
    app.post("/api/v1/datasets", &app.owner_key, body)
        .await
        .assert_error(400, "InvalidParameter");
}
