//! Tag definitions: the guide's example loads as is, changes bump the version, bad
//! definitions are refused with the problem named, viewers cannot write.

use loupe_core::auth::Role;
use loupe_store::each_engine;
use loupe_tests::TestApp;
use serde_json::{json, Value};

each_engine!(
    TestApp::start;
    the_guides_example_loads_and_changes_bump_the_version,
    bad_definitions_are_refused_with_the_problem_named,
);

/// The autonomous-driving example of the seed guide, section 3.4.1, verbatim.
fn guide_example() -> Value {
    serde_json::from_str(include_str!("../fixtures/autonomous-driving-tags.json")).unwrap()
}

async fn the_guides_example_loads_and_changes_bump_the_version(app: &TestApp) {
    let tags = guide_example();
    let created = app
        .post(
            "/api/v1/tagdefinitions",
            &app.owner_key,
            json!({
                "TagDefinitionName": "autonomous-driving",
                "GuidePrompt": "You are a seasoned driver with extensive experience on both highways and urban roads.",
                "TagDefinitions": tags,
            }),
        )
        .await
        .ok();
    let id = created["TagDefinitionId"].as_str().unwrap().to_string();
    assert!(id.starts_with("tagdef-"));
    assert_eq!(created["DefinitionVersion"], 1);
    assert_eq!(created["TagDefinitions"], tags);
    assert_eq!(created["TagDefinitions"].as_object().unwrap().len(), 25);

    let path = format!("/api/v1/tagdefinitions/{id}");
    assert_eq!(app.get(&path, &app.owner_key).await.ok(), created);
    let listed = app.get("/api/v1/tagdefinitions", &app.owner_key).await.ok();
    assert_eq!(listed["TotalCount"], 1);
    assert_eq!(listed["TagDefinitions"][0]["TagDefinitionId"], id.as_str());

    // A new description or name keeps the version; new tags or a new prompt bump it.
    let renamed = app
        .put(
            &path,
            &app.owner_key,
            json!({"TagDefinitionName": "driving", "Description": "fleet"}),
        )
        .await
        .ok();
    assert_eq!(renamed["DefinitionVersion"], 1);
    assert_eq!(renamed["TagDefinitionName"], "driving");
    let mut fewer = tags.as_object().unwrap().clone();
    fewer.remove("Cloudy");
    let changed = app
        .put(&path, &app.owner_key, json!({"TagDefinitions": fewer}))
        .await
        .ok();
    assert_eq!(changed["DefinitionVersion"], 2);
    let same = app
        .put(&path, &app.owner_key, json!({"TagDefinitions": fewer}))
        .await
        .ok();
    assert_eq!(same["DefinitionVersion"], 2, "the same tags are no change");
    let reprompted = app
        .put(
            &path,
            &app.owner_key,
            json!({"GuidePrompt": "You inspect dashcam frames."}),
        )
        .await
        .ok();
    assert_eq!(reprompted["DefinitionVersion"], 3);

    // Viewers read but do not write.
    let viewer = app.key(Role::Viewer).await;
    app.get(&path, &viewer).await.ok();
    app.put(&path, &viewer, json!({"Description": "x"}))
        .await
        .assert_error(403, "PermissionDenied");

    // Names are unique per workspace.
    app.post(
        "/api/v1/tagdefinitions",
        &app.owner_key,
        json!({"TagDefinitionName": "driving", "TagDefinitions": {"Cone": "a cone"}}),
    )
    .await
    .assert_error(409, "TagDefinitionAlreadyExists");

    app.delete(&path, &app.owner_key).await.ok();
    app.get(&path, &app.owner_key)
        .await
        .assert_error(404, "TagDefinitionNotFound");
}

async fn bad_definitions_are_refused_with_the_problem_named(app: &TestApp) {
    let many: serde_json::Map<String, Value> =
        (0..201).map(|i| (format!("tag {i}"), json!("x"))).collect();
    for (body, needle) in [
        (
            json!({"TagDefinitionName": "t", "TagDefinitions": {}}),
            "1 to 200 tags",
        ),
        (
            json!({"TagDefinitionName": "t", "TagDefinitions": many}),
            "1 to 200 tags",
        ),
        (
            json!({"TagDefinitionName": "t", "TagDefinitions": {"Cone": 3}}),
            "TagDefinitions",
        ),
        (
            json!({"TagDefinitionName": "t", "TagDefinitions": ["Cone"]}),
            "TagDefinitions",
        ),
        (
            json!({"TagDefinitionName": "t", "TagDefinitions": {"Cone": "a", "cone": "b"}}),
            "differ only in case",
        ),
        (
            json!({"TagDefinitionName": "t", "TagDefinitions": {" Cone": "a"}}),
            "leading/trailing",
        ),
        (
            json!({"TagDefinitionName": "bad name!", "TagDefinitions": {"Cone": "a"}}),
            "TagDefinitionName",
        ),
        (
            json!({"TagDefinitions": {"Cone": "a"}}),
            "TagDefinitionName",
        ),
        (
            json!({"TagDefinitionName": "t", "TagDefinitions": {"Cone": "a"}, "Color": 1}),
            "Color",
        ),
    ] {
        let reply = app
            .post("/api/v1/tagdefinitions", &app.owner_key, body.clone())
            .await;
        assert_eq!(reply.status.as_u16(), 400, "{body}: {:?}", reply.body);
        let message = reply.body["Message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{body}: {message}");
    }
    assert_eq!(
        app.get("/api/v1/tagdefinitions", &app.owner_key).await.ok()["TotalCount"],
        0,
        "nothing was stored"
    );
}
