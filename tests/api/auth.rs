//! Keys, roles and the routes that need no key.

use loupe_core::auth::Role;
use loupe_store::each_engine;
use loupe_tests::TestApp;
use reqwest::Method;
use serde_json::json;

each_engine!(
    TestApp::start;
    probes_and_docs_need_no_key,
    every_api_route_needs_a_key,
    revoked_keys_fail_at_once,
    roles_limit_what_a_key_may_do,
    keys_are_listed_without_their_tokens,
    workspace_is_read_by_any_key_and_changed_by_owners,
);

async fn probes_and_docs_need_no_key(app: &TestApp) {
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let reply = app.call(Method::GET, path, None, None).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.request_id.is_some(), "{path} carries x-request-id");
    }
    let docs = reqwest::get(format!("{}/docs/", app.base)).await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "the docs page is Swagger UI"
    );
}

async fn every_api_route_needs_a_key(app: &TestApp) {
    let spec = loupe_api::openapi();
    for (path, item) in &spec.paths.paths {
        if !path.starts_with("/api/") {
            continue;
        }
        for method in crate::spec::methods(item) {
            let url = path.replace('{', "x").replace('}', "");
            let reply = app.call(method.clone(), &url, None, None).await;
            reply.assert_error(401, "MissingApiKey");
            let reply = app
                .call(
                    method.clone(),
                    &url,
                    Some("lp_wrongwrongwrongwrongwrongwrongwrongwron"),
                    None,
                )
                .await;
            reply.assert_error(401, "InvalidApiKey");
            let reply = app.call(method, &url, Some("not-even-a-token"), None).await;
            reply.assert_error(401, "InvalidApiKey");
        }
    }
}

async fn revoked_keys_fail_at_once(app: &TestApp) {
    let created = app
        .post(
            "/api/v1/apikeys",
            &app.owner_key,
            json!({"Role": "viewer", "Name": "ci"}),
        )
        .await
        .ok();
    let key = created["Key"].as_str().unwrap().to_string();
    assert!(key.starts_with("lp_"));
    app.get("/api/v1/datasets", &key).await.ok();
    let key_id = created["KeyId"].as_str().unwrap();
    app.delete(&format!("/api/v1/apikeys/{key_id}"), &app.owner_key)
        .await
        .ok();
    app.get("/api/v1/datasets", &key)
        .await
        .assert_error(401, "InvalidApiKey");
}

async fn roles_limit_what_a_key_may_do(app: &TestApp) {
    let viewer = app.key(Role::Viewer).await;
    let editor = app.key(Role::Editor).await;
    let admin = app.key(Role::Admin).await;
    let id = app.dataset(&editor, "frames").await;

    app.get(&format!("/api/v1/datasets/{id}"), &viewer)
        .await
        .ok();
    let body = json!({"Name": "nope", "Uri": "s3://bucket/x"});
    app.post("/api/v1/datasets", &viewer, body)
        .await
        .assert_error(403, "PermissionDenied");
    app.delete(&format!("/api/v1/datasets/{id}"), &viewer)
        .await
        .assert_error(403, "PermissionDenied");
    app.post(
        &format!("/api/v1/datasets/{id}/versions"),
        &viewer,
        json!({}),
    )
    .await
    .assert_error(403, "PermissionDenied");

    app.get("/api/v1/apikeys", &editor)
        .await
        .assert_error(403, "PermissionDenied");
    app.post("/api/v1/apikeys", &editor, json!({"Role": "viewer"}))
        .await
        .assert_error(403, "PermissionDenied");
    app.post("/api/v1/apikeys", &admin, json!({"Role": "admin"}))
        .await
        .ok();
    app.post("/api/v1/apikeys", &admin, json!({"Role": "owner"}))
        .await
        .assert_error(403, "PermissionDenied");
    app.put("/api/v1/workspace", &admin, json!({"Description": "x"}))
        .await
        .assert_error(403, "PermissionDenied");
}

async fn keys_are_listed_without_their_tokens(app: &TestApp) {
    let created = app
        .post(
            "/api/v1/apikeys",
            &app.owner_key,
            json!({"Role": "editor", "Name": "labelling"}),
        )
        .await
        .ok();
    let token = created["Key"].as_str().unwrap();
    let list = app
        .get("/api/v1/apikeys?MaxResults=100", &app.owner_key)
        .await
        .ok();
    let text = list.to_string();
    assert!(!text.contains(token), "tokens are never listed");
    let keys = list["ApiKeys"].as_array().unwrap();
    let listed = keys
        .iter()
        .find(|k| k["KeyId"] == created["KeyId"])
        .unwrap();
    assert_eq!(listed["Name"], "labelling");
    assert_eq!(listed["Role"], "editor");
    assert!(token.starts_with(listed["KeyPrefix"].as_str().unwrap()));
}

async fn workspace_is_read_by_any_key_and_changed_by_owners(app: &TestApp) {
    let viewer = app.key(Role::Viewer).await;
    let ws = app.get("/api/v1/workspace", &viewer).await.ok();
    assert_eq!(ws["Name"], "default");
    let changed = app
        .put(
            "/api/v1/workspace",
            &app.owner_key,
            json!({"Description": "fleet data"}),
        )
        .await
        .ok();
    assert_eq!(changed["Description"], "fleet data");
}
