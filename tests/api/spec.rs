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
    /// `{ConnectionId}`.
    pub connection: String,
    /// `{DatasetJobId}`.
    pub job: String,
    /// `{DatasetFileMetaId}`.
    pub file: String,
    /// `{TagDefinitionId}`.
    pub tag_definition: String,
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
        let connection = app.connection(owner_key, "walked-connection").await;
        let jobs = app
            .get(
                &format!("/api/v1/datasets/{dataset}/datasetjobs"),
                owner_key,
            )
            .await
            .ok();
        let job = jobs["DatasetJobs"][0]["DatasetJobId"]
            .as_str()
            .unwrap()
            .to_string();
        let files = json!({"DatasetVersion": "v1", "DatasetFileMetas": [{"Uri": "s3://bucket/frames/a.jpg"}]});
        let files = app
            .post(
                &format!("/api/v1/datasets/{dataset}/datasetfilemetas"),
                owner_key,
                files,
            )
            .await
            .ok();
        let tag_definition = app
            .post(
                "/api/v1/tagdefinitions",
                owner_key,
                json!({"TagDefinitionName": "walked", "TagDefinitions": {"Cone": "a traffic cone"}}),
            )
            .await
            .ok();
        Self {
            tag_definition: tag_definition["TagDefinitionId"]
                .as_str()
                .unwrap()
                .to_string(),
            dataset,
            version: "v1".into(),
            key: key["KeyId"].as_str().unwrap().to_string(),
            connection,
            job,
            file: files["DatasetFileMetaIds"][0].as_str().unwrap().to_string(),
        }
    }

    /// Ids that exist nowhere.
    pub fn missing() -> Self {
        Self {
            dataset: "d-00000000000000000000".into(),
            version: "v1".into(),
            key: "ak-00000000000000000000".into(),
            connection: "conn-00000000000000000000".into(),
            job: "dsjob-00000000000000000000".into(),
            file: "000000000000000000000000".into(),
            tag_definition: "tagdef-00000000000000000000".into(),
        }
    }

    /// Every id, to replace in answers before comparing them.
    pub fn all(&self) -> [&str; 6] {
        [
            &self.dataset,
            &self.key,
            &self.connection,
            &self.job,
            &self.file,
            &self.tag_definition,
        ]
    }

    /// The path with every `{Param}` replaced. A parameter this does not know fails the
    /// test, so a new route cannot slip past the route-wide tests.
    pub fn fill(&self, path: &str) -> String {
        let mut filled = path
            .replace("{DatasetId}", &self.dataset)
            .replace("{VersionName}", &self.version)
            .replace("{KeyId}", &self.key)
            .replace("{ConnectionId}", &self.connection)
            .replace("{DatasetJobId}", &self.job)
            .replace("{DatasetFileMetaId}", &self.file)
            .replace("{TagDefinitionId}", &self.tag_definition);
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
        // Routes that need the version as a query parameter get it; the others ignore it.
        format!("{filled}?DatasetVersion={}", self.version)
    }
}

/// A valid body for each operation that takes one, so the walks reach the service.
pub fn body_for(operation_id: &str, ids: &PathIds, other_name: &str) -> serde_json::Value {
    match operation_id {
        // Reusing another workspace's dataset name must not clash: names are per workspace.
        "CreateDataset" => json!({"Name": other_name, "DatasetType": "Logical"}),
        "CreateApiKey" => json!({"Role": "viewer"}),
        "UpdateWorkspace" => json!({"Description": "mine"}),
        "CreateConnection" => json!({
            "ConnectionName": other_name, "ConnectionType": "ObjectStorage", "Configs": {"Region": "r1"},
            "Secrets": {"AccessKeyId": "a", "AccessKeySecret": "b"}
        }),
        "CreateDatasetJob" => json!({"DatasetVersion": ids.version, "JobAction": "FileMetaBuild"}),
        "CreateDatasetFileMetas" => {
            json!({"DatasetVersion": ids.version, "DatasetFileMetas": [{"Uri": "s3://bucket/frames/b.jpg"}]})
        }
        "UpdateDatasetFileMetas" => json!({"DatasetVersion": ids.version,
            "DatasetFileMetas": [{"DatasetFileMetaId": ids.file, "Tags": {"user": {"add": ["walked"]}}}]}),
        "TestConnection" => json!({"Uri": "s3://bucket/frames"}),
        "RefreshDatasetIndex" | "SearchDatasetFileMetas" => {
            json!({"DatasetVersion": ids.version})
        }
        "CreateTagDefinition" => {
            json!({"TagDefinitionName": other_name, "TagDefinitions": {"Cone": "a cone"}})
        }
        _ => json!({}),
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
