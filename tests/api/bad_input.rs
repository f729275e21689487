//! Bad input of any kind is a 4xx with a stable code and a message that says what to
//! fix; never a 500. The body checks walk every route that takes a body.

use loupe_store::each_engine;
use loupe_tests::{TestApp, TEST_BODY_LIMIT};
use serde_json::json;

use crate::spec::{operations, PathIds};

each_engine!(
    TestApp::start;
    every_body_taking_route_rejects_malformed_bodies,
    invalid_values_are_rejected_with_what_to_fix,
    list_parameters_are_validated,
);

async fn every_body_taking_route_rejects_malformed_bodies(app: &TestApp) {
    let ids = PathIds::create(app, &app.owner_key).await;
    let key = &app.owner_key;
    let spec = loupe_api::openapi();
    let mut walked = 0;
    for (path, item) in &spec.paths.paths {
        for (method, op) in operations(item) {
            if op.request_body.is_none() {
                continue;
            }
            let id = op.operation_id.clone().unwrap_or_default();
            let url = ids.fill(path);
            let json_type = Some("application/json");
            let cases: [(Option<&str>, Vec<u8>, u16, &str); 6] = [
                (json_type, b"{\"Name\": ".to_vec(), 400, "MalformedJson"),
                (json_type, b"{,}".to_vec(), 400, "MalformedJson"),
                (json_type, b"{\"Bogus\": 1}".to_vec(), 400, "InvalidBody"),
                (json_type, b"\"a string\"".to_vec(), 400, "InvalidBody"),
                (
                    Some("text/plain"),
                    b"{}".to_vec(),
                    415,
                    "UnsupportedMediaType",
                ),
                (json_type, oversized_body(), 413, "PayloadTooLarge"),
            ];
            for (content_type, body, status, code) in cases {
                let reply = app
                    .call_raw(method.clone(), &url, key, content_type, body)
                    .await;
                assert_eq!(reply.status.as_u16(), status, "{id}: {:?}", reply.body);
                reply.assert_error(status, code);
            }
            walked += 1;
        }
    }
    assert!(walked >= 6, "walked {walked} body-taking operations");
}

/// A syntactically valid JSON body just over the server's limit.
fn oversized_body() -> Vec<u8> {
    let filler = "x".repeat(TEST_BODY_LIMIT);
    serde_json::to_vec(&json!({ "Description": filler })).unwrap()
}

async fn invalid_values_are_rejected_with_what_to_fix(app: &TestApp) {
    let key = &app.owner_key;
    let cases = [
        (json!({"Name": "", "Uri": "s3://bucket/x"}), "InvalidName"),
        (
            json!({"Name": "has space", "Uri": "s3://bucket/x"}),
            "InvalidName",
        ),
        (
            json!({"Name": "-dash", "Uri": "s3://bucket/x"}),
            "InvalidName",
        ),
        (
            json!({"Name": "x".repeat(129), "Uri": "s3://bucket/x"}),
            "InvalidName",
        ),
        (
            json!({"Name": "a", "Uri": "http://example.com/x"}),
            "InvalidUri",
        ),
        (json!({"Name": "a", "Uri": "s3://UPPER/x"}), "InvalidUri"),
        (json!({"Name": "a", "Uri": "file://relative"}), "InvalidUri"),
        (
            json!({"Name": "a", "Uri": "s3://bucket/a\u{0}b"}),
            "InvalidUri",
        ),
        (
            json!({"Name": "a", "Uri": "s3://bucket/x", "DataType": "VIDEO"}),
            "InvalidBody",
        ),
        (
            json!({"Name": "a", "Uri": "s3://bucket/x", "Property": "FILE"}),
            "InvalidBody",
        ),
        (
            json!({"Name": "a", "Uri": "s3://bucket/x", "DatasetType": "Other"}),
            "InvalidBody",
        ),
        (
            json!({"Name": "a", "Uri": "s3://bucket/x", "Description": "d".repeat(1025)}),
            "InvalidParameter",
        ),
        (
            json!({"Name": "a", "Uri": "s3://bucket/x", "Labels": [{"Key": ""}]}),
            "InvalidParameter",
        ),
        (
            json!({"Name": "a", "Uri": "s3://bucket/x", "Labels": (0..33).map(|i| json!({"Key": i.to_string()})).collect::<Vec<_>>()}),
            "InvalidParameter",
        ),
        (
            json!({"Name": "a", "Uri": "s3://bucket/x", "ConnectionId": ""}),
            "InvalidParameter",
        ),
        (json!({"Name": 7}), "InvalidBody"),
        (json!({"Uri": "s3://bucket/x"}), "InvalidBody"),
    ];
    for (body, code) in cases {
        let reply = app.post("/api/v1/datasets", key, body.clone()).await;
        assert_eq!(reply.code(), code, "{body}: {:?}", reply.body);
        reply.assert_error(400, code);
    }
    let id = app.dataset(key, "ok").await;
    app.put(
        &format!("/api/v1/datasets/{id}"),
        key,
        json!({"Name": "bad name"}),
    )
    .await
    .assert_error(400, "InvalidName");
    app.put(
        &format!("/api/v1/datasets/{id}"),
        key,
        json!({"Uri": "s3://bucket/moved"}),
    )
    .await
    .assert_error(400, "InvalidBody");
    app.post(
        &format!("/api/v1/datasets/{id}/versions"),
        key,
        json!({"Description": 5}),
    )
    .await
    .assert_error(400, "InvalidBody");
    app.post("/api/v1/apikeys", key, json!({"Role": "superuser"}))
        .await
        .assert_error(400, "InvalidBody");
    app.post(
        "/api/v1/apikeys",
        key,
        json!({"Role": "viewer", "Name": "a\u{7}b"}),
    )
    .await
    .assert_error(400, "InvalidParameter");
}

async fn list_parameters_are_validated(app: &TestApp) {
    let key = &app.owner_key;
    let id = app.dataset(key, "ok").await;
    for list in [
        "/api/v1/datasets",
        "/api/v1/apikeys",
        &format!("/api/v1/datasets/{id}/versions"),
    ] {
        for query in [
            "MaxResults=0",
            "MaxResults=101",
            "MaxResults=abc",
            "MaxResults=-1",
        ] {
            app.get(&format!("{list}?{query}"), key)
                .await
                .assert_error(400, "InvalidParameter");
        }
        app.get(&format!("{list}?NextToken=garbage"), key)
            .await
            .assert_error(400, "InvalidNextToken");
    }
    // A token of one list is refused by another.
    for i in 0..3 {
        app.dataset(key, &format!("more-{i}")).await;
    }
    let page = app.get("/api/v1/datasets?MaxResults=1", key).await.ok();
    let token = page["NextToken"].as_str().unwrap();
    app.get(&format!("/api/v1/apikeys?NextToken={token}"), key)
        .await
        .assert_error(400, "InvalidNextToken");
}
