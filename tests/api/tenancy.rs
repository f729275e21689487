//! A key of one workspace can never read, change or even detect another workspace's
//! data. The walk covers every route in the OpenAPI document.

use loupe_store::each_engine;
use loupe_tests::TestApp;
use serde_json::{json, Value};

use crate::spec::{body_for, operations, PathIds};

each_engine!(
    TestApp::start;
    other_workspaces_are_invisible_on_every_route,
    workspace_id_parameter_of_another_workspace_is_404_on_every_route,
);

async fn other_workspaces_are_invisible_on_every_route(app: &TestApp) {
    let b_key = app.workspace("team-b").await;
    let b = PathIds::create(app, &b_key).await;
    let b_dataset = app
        .get(&format!("/api/v1/datasets/{}", b.dataset), &b_key)
        .await
        .ok();
    let b_workspace = app.get("/api/v1/workspace", &b_key).await.ok();
    let b_name = b_dataset["Name"].as_str().unwrap().to_string();
    let b_workspace_id = b_workspace["WorkspaceId"].as_str().unwrap().to_string();
    let mut b_secrets: Vec<String> = b.all().iter().map(|s| s.to_string()).collect();
    b_secrets.push(b_workspace_id);

    let missing = PathIds::missing();
    let a_key = &app.owner_key;
    let spec = loupe_api::openapi();
    let mut walked = 0;
    for (path, item) in &spec.paths.paths {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, op) in operations(item) {
            let id = op.operation_id.clone().unwrap_or_default();
            if path.contains('{') {
                // Another workspace's ids must answer exactly like ids that exist nowhere.
                let body = op.request_body.as_ref().map(|_| body_for(&id, &b, &b_name));
                let theirs = app
                    .call(method.clone(), &b.fill(path), Some(a_key), body.clone())
                    .await;
                let nowhere = app
                    .call(method.clone(), &missing.fill(path), Some(a_key), body)
                    .await;
                assert_eq!(
                    theirs.status, 404,
                    "{id} on another workspace's ids: {:?}",
                    theirs.body
                );
                assert_eq!(
                    anonymised(&theirs.body, &b),
                    anonymised(&nowhere.body, &missing),
                    "{id}: another workspace's resource is indistinguishable from a missing one"
                );
            } else {
                let body = op.request_body.as_ref().map(|_| body_for(&id, &b, &b_name));
                let reply = app.call(method.clone(), path, Some(a_key), body).await;
                assert!(
                    reply.status.is_success(),
                    "{id} in own workspace: {:?}",
                    reply.body
                );
                let text = reply.body.to_string();
                for secret in &b_secrets {
                    assert!(
                        !text.contains(secret.as_str()),
                        "{id} leaked {secret}: {text}"
                    );
                }
            }
            walked += 1;
        }
    }
    assert!(walked >= 25, "the walk covered {walked} operations");

    // Nothing of B changed.
    let after = app
        .get(&format!("/api/v1/datasets/{}", b.dataset), &b_key)
        .await
        .ok();
    assert_eq!(after, b_dataset);
    app.get(
        &format!("/api/v1/datasets/{}/versions/v1", b.dataset),
        &b_key,
    )
    .await
    .ok();
    assert_eq!(app.get("/api/v1/workspace", &b_key).await.ok(), b_workspace);
    let keys = app.get("/api/v1/apikeys?MaxResults=100", &b_key).await.ok();
    let b_listed = keys["ApiKeys"].as_array().unwrap();
    assert!(
        b_listed.iter().all(|k| k["GmtRevokeTime"].is_null()),
        "no key of B was revoked"
    );
}

/// The body with the request id dropped and the ids the caller sent replaced by
/// placeholders, so two answers can be compared.
fn anonymised(body: &Value, ids: &PathIds) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("RequestId");
    }
    let mut text = body.to_string();
    for id in ids.all() {
        text = text.replace(id, "<id>");
    }
    serde_json::from_str(&text).unwrap()
}

async fn workspace_id_parameter_of_another_workspace_is_404_on_every_route(app: &TestApp) {
    let b_key = app.workspace("team-b").await;
    let b_workspace = app.get("/api/v1/workspace", &b_key).await.ok();
    let b_id = b_workspace["WorkspaceId"].as_str().unwrap();
    let a = PathIds::create(app, &app.owner_key).await;
    let a_workspace = app.get("/api/v1/workspace", &app.owner_key).await.ok();
    let a_id = a_workspace["WorkspaceId"].as_str().unwrap();

    let spec = loupe_api::openapi();
    for (path, item) in &spec.paths.paths {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, op) in operations(item) {
            let url = format!("{}&WorkspaceId={b_id}", a.fill(path));
            let body = op.request_body.as_ref().map(|_| json!({}));
            let reply = app
                .call(method.clone(), &url, Some(&app.owner_key), body)
                .await;
            reply.assert_error(404, "WorkspaceNotFound");
        }
    }
    // Naming one's own workspace is fine, as PAI clients do.
    app.get(
        &format!("/api/v1/datasets?WorkspaceId={a_id}"),
        &app.owner_key,
    )
    .await
    .ok();
    let body = json!({"Name": "x", "DatasetType": "Logical", "WorkspaceId": b_id});
    app.post("/api/v1/datasets", &app.owner_key, body)
        .await
        .assert_error(404, "WorkspaceNotFound");
}
