//! Datasets and versions through the API, as PAI's dataset API shapes them.

use loupe_core::auth::Role;
use loupe_store::each_engine;
use loupe_tests::TestApp;
use serde_json::json;

each_engine!(
    TestApp::start;
    dataset_lifecycle,
    dataset_list_pages_with_next_token,
    local_datasets_must_live_under_local_roots,
    logical_datasets_need_no_uri,
    version_lifecycle,
    version_body_may_be_omitted,
    unknown_ids_are_404,
);

async fn dataset_lifecycle(app: &TestApp) {
    let key = app.key(Role::Editor).await;
    let body = json!({
        "Name": "dashcam-night", "Uri": "s3://fleet/frames/night", "DataType": "PIC", "ConnectionId": app.connection_id,
        "Property": "DIRECTORY", "Description": "night frames",
        "Labels": [{"Key": "team", "Value": "perception"}]
    });
    let created = app.post("/api/v1/datasets", &key, body).await.ok();
    let id = created["DatasetId"].as_str().unwrap().to_string();
    assert!(id.starts_with("d-"));
    assert!(created["RequestId"].is_string());

    let path = format!("/api/v1/datasets/{id}");
    let got = app.get(&path, &key).await.ok();
    assert_eq!(got["Name"], "dashcam-night");
    assert_eq!(got["Uri"], "s3://fleet/frames/night");
    assert_eq!(got["DatasetType"], "Premium");
    assert_eq!(got["Labels"][0]["Value"], "perception");
    assert!(got["GmtCreateTime"].as_str().unwrap().ends_with('Z'));

    let changed = app
        .put(
            &path,
            &key,
            json!({"Name": "dashcam-night-2", "Labels": []}),
        )
        .await
        .ok();
    assert_eq!(changed["Name"], "dashcam-night-2");
    assert_eq!(
        changed["Description"], "night frames",
        "untouched fields stay"
    );
    assert_eq!(changed["Labels"], json!([]));

    app.post(
        "/api/v1/datasets",
        &key,
        json!({"Name": "other", "Uri": "oss://bucket-1/x", "ConnectionId": app.connection_id}),
    )
    .await
    .ok();
    app.put(&path, &key, json!({"Name": "other"}))
        .await
        .assert_error(409, "DatasetAlreadyExists");
    app.post(
        "/api/v1/datasets",
        &key,
        json!({"Name": "other", "Uri": "s3://bucket/y", "ConnectionId": app.connection_id}),
    )
    .await
    .assert_error(409, "DatasetAlreadyExists");

    app.delete(&path, &key).await.ok();
    app.get(&path, &key)
        .await
        .assert_error(404, "DatasetNotFound");
}

async fn dataset_list_pages_with_next_token(app: &TestApp) {
    let key = app.key(Role::Viewer).await;
    for i in 0..5 {
        app.dataset(&app.owner_key, &format!("set-{i}")).await;
    }
    let mut names = Vec::new();
    let mut url = "/api/v1/datasets?MaxResults=2".to_string();
    loop {
        let page = app.get(&url, &key).await.ok();
        assert_eq!(page["TotalCount"], 5);
        for d in page["Datasets"].as_array().unwrap() {
            names.push(d["Name"].as_str().unwrap().to_string());
        }
        match page["NextToken"].as_str() {
            Some(token) => url = format!("/api/v1/datasets?MaxResults=2&NextToken={token}"),
            None => break,
        }
    }
    names.sort();
    assert_eq!(names, ["set-0", "set-1", "set-2", "set-3", "set-4"]);
    let filtered = app.get("/api/v1/datasets?Name=SET-3", &key).await.ok();
    assert_eq!(filtered["TotalCount"], 1);
}

async fn local_datasets_must_live_under_local_roots(app: &TestApp) {
    let inside = format!("file://{}/cats", app.local_root.display());
    app.post(
        "/api/v1/datasets",
        &app.owner_key,
        json!({"Name": "cats", "Uri": inside}),
    )
    .await
    .ok();
    let reply = app
        .post(
            "/api/v1/datasets",
            &app.owner_key,
            json!({"Name": "etc", "Uri": "file:///etc"}),
        )
        .await;
    reply.assert_error(400, "LocalPathNotAllowed");
    assert!(reply.body["Message"]
        .as_str()
        .unwrap()
        .contains("LOUPE_LOCAL_ROOTS"));
    let escape = format!("file://{}/../../etc", app.local_root.display());
    app.post(
        "/api/v1/datasets",
        &app.owner_key,
        json!({"Name": "esc", "Uri": escape}),
    )
    .await
    .assert_error(400, "InvalidUri");
}

async fn logical_datasets_need_no_uri(app: &TestApp) {
    let created = app
        .post(
            "/api/v1/datasets",
            &app.owner_key,
            json!({"Name": "picked", "DatasetType": "Logical"}),
        )
        .await
        .ok();
    let id = created["DatasetId"].as_str().unwrap();
    let got = app
        .get(&format!("/api/v1/datasets/{id}"), &app.owner_key)
        .await
        .ok();
    assert_eq!(got["DatasetType"], "Logical");
    app.post("/api/v1/datasets", &app.owner_key, json!({"Name": "nouri"}))
        .await
        .assert_error(400, "InvalidUri");
}

async fn version_lifecycle(app: &TestApp) {
    let key = app.key(Role::Editor).await;
    let id = app.dataset(&key, "frames").await;
    let versions = format!("/api/v1/datasets/{id}/versions");
    let v1 = app
        .post(&versions, &key, json!({"Description": "first cut"}))
        .await
        .ok();
    assert_eq!(v1["VersionName"], "v1");
    let v2 = app.post(&versions, &key, json!({})).await.ok();
    assert_eq!(v2["VersionName"], "v2");

    let got = app.get(&format!("{versions}/v1"), &key).await.ok();
    assert_eq!(got["Description"], "first cut");
    assert_eq!(got["State"], "Pending");
    assert_eq!(got["DataCount"], 0);
    assert_eq!(got["DataSize"], 0);
    assert_eq!(got["DatasetId"], id.as_str());

    let changed = app
        .put(
            &format!("{versions}/v1"),
            &key,
            json!({"Description": "renamed"}),
        )
        .await
        .ok();
    assert_eq!(changed["Description"], "renamed");

    app.delete(&format!("{versions}/v2"), &key).await.ok();
    let v3 = app.post(&versions, &key, json!({})).await.ok();
    assert_eq!(
        v3["VersionName"], "v3",
        "a deleted version's name is never reused"
    );

    let list = app
        .get(&format!("{versions}?MaxResults=1"), &key)
        .await
        .ok();
    assert_eq!(list["TotalCount"], 2);
    assert_eq!(list["DatasetVersions"][0]["VersionName"], "v1");
    let token = list["NextToken"].as_str().unwrap();
    let rest = app
        .get(&format!("{versions}?MaxResults=1&NextToken={token}"), &key)
        .await
        .ok();
    assert_eq!(rest["DatasetVersions"][0]["VersionName"], "v3");
    assert!(rest["NextToken"].is_null());
}

async fn version_body_may_be_omitted(app: &TestApp) {
    let id = app.dataset(&app.owner_key, "frames").await;
    let reply = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/datasets/{id}/versions"),
            Some(&app.owner_key),
            None,
        )
        .await
        .ok();
    assert_eq!(reply["VersionName"], "v1");
}

async fn unknown_ids_are_404(app: &TestApp) {
    let key = &app.owner_key;
    app.get("/api/v1/datasets/d-nope", key)
        .await
        .assert_error(404, "DatasetNotFound");
    app.get("/api/v1/datasets/d-nope/versions", key)
        .await
        .assert_error(404, "DatasetNotFound");
    let id = app.dataset(key, "frames").await;
    for name in ["v1", "v0", "latest", "v99999999999999999999999"] {
        app.get(&format!("/api/v1/datasets/{id}/versions/{name}"), key)
            .await
            .assert_error(404, "DatasetVersionNotFound");
    }
    app.delete("/api/v1/apikeys/ak-nope", key)
        .await
        .assert_error(404, "ApiKeyNotFound");
}
