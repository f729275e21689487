//! Walking the OpenAPI document, so route-wide tests cover every route, including the
//! ones later issues add.

use loupe_store::each_engine;
use loupe_tests::TestApp;
use reqwest::Method;
use serde_json::json;
use utoipa::openapi::path::{Operation, PathItem};

/// The methods a path serves, with their operations.
pub fn operations(item: &PathItem) -> Vec<(Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::POST, &item.post),
        (Method::PUT, &item.put),
        (Method::DELETE, &item.delete),
        (Method::PATCH, &item.patch),
        (Method::HEAD, &item.head),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_ref().map(|op| (method, op)))
    .collect()
}

/// The methods a path serves.
pub fn methods(item: &PathItem) -> Vec<Method> {
    operations(item).into_iter().map(|(m, _)| m).collect()
}

/// Real ids to put in a path, by parameter name.
pub struct PathIds {
    /// `{DatasetId}`.
    pub dataset: String,
    /// `{VersionName}`.
    pub version: String,
    /// `{KeyId}`.
    pub key: String,
}

impl PathIds {
    /// Creates a dataset with a version `v1`, and a viewer key, in the key's workspace.
    pub async fn create(app: &TestApp, owner_key: &str) -> Self {
        let dataset = app.dataset(owner_key, "walked").await;
        app.post(
            &format!("/api/v1/datasets/{dataset}/versions"),
            owner_key,
            json!({}),
        )
        .await
        .ok();
        let key = app
            .post("/api/v1/apikeys", owner_key, json!({"Role": "viewer"}))
            .await
            .ok();
        Self {
            dataset,
            version: "v1".into(),
            key: key["KeyId"].as_str().unwrap().to_string(),
        }
    }

    /// The path with every `{Param}` replaced. A parameter this does not know fails the
    /// test, so a new route cannot slip past the route-wide tests.
    pub fn fill(&self, path: &str) -> String {
        let mut filled = path
            .replace("{DatasetId}", &self.dataset)
            .replace("{VersionName}", &self.version)
            .replace("{KeyId}", &self.key);
        if let Some(start) = filled.find('{') {
            filled.truncate(
                filled[start..]
                    .find('}')
                    .map_or(filled.len(), |end| start + end + 1),
            );
            panic!(
                "route {path} has path parameter {} that the route-wide tests cannot fill: teach PathIds about it",
                &filled[start..]
            );
        }
        filled
    }
}

each_engine!(TestApp::start; every_operation_is_named_and_documented);

async fn every_operation_is_named_and_documented(_app: &TestApp) {
    let spec = loupe_api::openapi();
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["openapi"], "3.1.0");
    assert!(json["components"]["securitySchemes"]["bearer"].is_object());
    for (path, item) in &spec.paths.paths {
        for (method, op) in operations(item) {
            let id = op.operation_id.as_deref().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has an operationId");
            let op_json = serde_json::to_value(op).unwrap();
            // Named schemas make generated SDKs usable: every JSON body is a $ref.
            for body in [&op_json["requestBody"], &op_json["responses"]["200"]] {
                if let Some(schema) = body["content"]["application/json"]["schema"].as_object() {
                    assert!(
                        schema.contains_key("$ref"),
                        "{id}: body schema is named: {schema:?}"
                    );
                }
            }
            if path.starts_with("/api/") {
                assert!(
                    op_json["responses"]["401"].is_object(),
                    "{id} documents 401"
                );
            }
        }
    }
}
