//! `ImageMode=url` end to end: for a dataset in an object store, index and tag jobs hand
//! the model presigned links and the provider fetches the original files itself; a
//! local folder has no such links, so its images still go as base64.

use std::sync::Arc;

use image::ImageFormat;
use loupe_connectors::testing::{Backend, ModelServer, Recorded};
use loupe_core::ids::DatasetId;
use loupe_core::model::{EmbedInput, Embedder};
use loupe_core::service::index_set_id;
use loupe_core::store::MetadataStore;
use loupe_core::vector::VectorQuery;
use loupe_core::version::VersionName;
use loupe_storage::testing::{S3sFs, ACCESS_KEY, SECRET_KEY};
use loupe_store::each_engine;
use loupe_tests::images::encode;
use loupe_tests::models::{AllTagger, HashEmbedder};
use loupe_tests::TestApp;
use serde_json::{json, Value};

use crate::indexing::{assert_counts, files, pool, ready_version};

each_engine!(
    TestApp::start;
    url_mode_hands_the_model_presigned_links_to_s3_objects,
    url_mode_sends_base64_for_a_local_folder,
);

const DIM: usize = 8;
/// `MaxImageBytes` of a `pai-eas` connection by default.
const MAX_IMAGE_BYTES: usize = 3_000_000;

/// Distinct images, so distinct vectors; names relative to the dataset's folder.
fn images() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("one.png", encode(12, 9, ImageFormat::Png)),
        ("two.jpg", encode(9, 14, ImageFormat::Jpeg)),
        ("sub/three.png", encode(20, 20, ImageFormat::Png)),
    ]
}

async fn model_server() -> ModelServer {
    ModelServer::start(Backend {
        embedder: Some(Arc::new(HashEmbedder { dim: DIM })),
        tagger: Some(Arc::new(AllTagger)),
        ..Backend::default()
    })
    .await
}

/// A GME embedding connection (or an OpenAI-compatible chat tagging one) to `server`.
async fn connection(app: &TestApp, server: &ModelServer, kind: &str, mode: &str) -> String {
    let configs = match kind {
        "EmbeddingModel" => json!({"Provider": "pai-eas", "BaseUrl": server.gme_url(),
            "Dimension": DIM.to_string(), "ImageMode": mode, "MaxRetries": "0"}),
        _ => json!({"Provider": "openai", "BaseUrl": server.openai_base(), "Model": "vlm",
            "ImageMode": mode, "MaxRetries": "0"}),
    };
    let body = json!({"ConnectionName": format!("{kind}-{mode}"), "ConnectionType": kind,
        "Configs": configs, "Secrets": {"ApiKey": "sk-test"}});
    app.post("/api/v1/connections", &app.owner_key, body)
        .await
        .ok()["ConnectionId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A dataset over `s3://shots/cam` holding [`images`], with its v1 built.
async fn s3_version(app: &TestApp, s3: &S3sFs) -> String {
    for (name, bytes) in images() {
        s3.put("shots", &format!("cam/{name}"), &bytes);
    }
    let storage = json!({"ConnectionName": "shots", "ConnectionType": "ObjectStorage",
        "Configs": {"Region": "us-east-1", "Endpoint": s3.endpoint, "AddressingStyle": "path"},
        "Secrets": {"AccessKeyId": ACCESS_KEY, "AccessKeySecret": SECRET_KEY}});
    let storage = app
        .post("/api/v1/connections", &app.owner_key, storage)
        .await
        .ok();
    let body = json!({"Name": "shots", "Uri": "s3://shots/cam",
        "ConnectionId": storage["ConnectionId"]});
    let dataset = app
        .post("/api/v1/datasets", &app.owner_key, body)
        .await
        .ok()["DatasetId"]
        .as_str()
        .unwrap()
        .to_string();
    let versions = format!("/api/v1/datasets/{dataset}/versions");
    app.post(&versions, &app.owner_key, json!({})).await.ok();
    app.run_jobs(&pool(app)).await;
    dataset
}

/// Runs a `Full` index job with the dataset's index set to `embedder`.
async fn index_with(app: &TestApp, dataset: &str, embedder: &str) -> Value {
    app.put(
        &format!("/api/v1/datasets/{dataset}"),
        &app.owner_key,
        json!({"IndexConfig": {"EmbeddingConnectionId": embedder}}),
    )
    .await
    .ok();
    app.run_job(
        &pool(app),
        dataset,
        json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex", "JobMode": "Full"}),
    )
    .await
}

/// Runs a tag job with `tagger`; the test tagger gives every image every tag.
async fn tag_with(app: &TestApp, dataset: &str, tagger: &str) -> Value {
    let definition = json!({"TagDefinitionName": format!("d-{tagger}"), "GuidePrompt": "Tag it.",
        "TagDefinitions": {"frame": "a camera frame"}});
    let definition = app
        .post("/api/v1/tagdefinitions", &app.owner_key, definition)
        .await
        .ok();
    app.run_job(
        &pool(app),
        dataset,
        json!({"DatasetVersion": "v1", "JobAction": "IntelligentTag", "JobSpec": {
            "TagDefinitionId": definition["TagDefinitionId"], "ConnectionId": tagger}}),
    )
    .await
}

/// The image references (`image` of GME contents, `image_url.url` of chat parts) that
/// the model server received.
fn image_refs(requests: &[Recorded]) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("image" | "url", Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    requests.iter().for_each(|r| walk(&r.body, &mut out));
    out
}

async fn hash_of(bytes: Vec<u8>) -> Vec<f32> {
    let input = EmbedInput::Image(Arc::new(bytes));
    HashEmbedder { dim: DIM }
        .embed(&[input])
        .await
        .unwrap()
        .remove(0)
}

/// The vector of each file as the model made it from these bytes: the index's nearest
/// neighbour of that vector is the file itself, at a score of 1.
async fn assert_vectors(app: &TestApp, dataset: &str, expected: Vec<(&str, Vec<u8>)>) {
    let ws = app
        .loupe
        .workspace_by_name("default")
        .await
        .unwrap()
        .workspace_id;
    let id = DatasetId::from_raw(dataset);
    let record = app.test_store().store.get_dataset(&ws, &id).await.unwrap();
    let target = app.loupe.index_target(&ws, &record).await.unwrap();
    let set = index_set_id(&id, VersionName::from_number(1));
    let listed = files(app, dataset).await;
    for (name, bytes) in expected {
        let file = listed
            .iter()
            .find(|f| f["Uri"].as_str().unwrap().ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("{name} in the version"));
        let vector = hash_of(bytes).await;
        let query = VectorQuery {
            index_set_id: &set,
            vector: &vector,
            k: 1,
            candidates: None,
        };
        let hits = target.vectors.search(&target.index, &query).await.unwrap();
        assert_eq!(
            hits[0].file_meta_id, file["DatasetFileMetaId"],
            "{name}: {hits:?}"
        );
        assert!((hits[0].score - 1.0).abs() < 1e-4, "{name}: {hits:?}");
    }
}

/// What base64 mode sends: every image re-encoded as an upright JPEG.
fn reencoded(images: Vec<(&'static str, Vec<u8>)>) -> Vec<(&'static str, Vec<u8>)> {
    images
        .into_iter()
        .map(|(name, bytes)| {
            let jpeg = loupe_connectors::image::fit_jpeg(&bytes, MAX_IMAGE_BYTES).unwrap();
            (name, jpeg)
        })
        .collect()
}

async fn url_mode_hands_the_model_presigned_links_to_s3_objects(app: &TestApp) {
    let s3 = S3sFs::start().await;
    let dataset = s3_version(app, &s3).await;
    let server = model_server().await;

    let by_url = connection(app, &server, "EmbeddingModel", "url").await;
    let job = index_with(app, &dataset, &by_url).await;
    assert_counts(&job, "Succeeded", 3, 3, 0);
    let refs = image_refs(&server.requests());
    assert_eq!(refs.len(), 3, "{refs:?}");
    for link in &refs {
        assert!(
            link.starts_with(&format!("{}/shots/cam/", s3.endpoint))
                && link.contains("X-Amz-Signature="),
            "a presigned link to the object, not its bytes: {}",
            &link[..link.len().min(60)]
        );
    }
    // The provider fetched the original objects.
    assert_vectors(app, &dataset, images()).await;

    // The same dataset and server in base64 mode: Loupe reads the objects and sends
    // them re-encoded, so the vectors are of other bytes.
    let before = server.requests().len();
    let inline = connection(app, &server, "EmbeddingModel", "base64").await;
    let job = index_with(app, &dataset, &inline).await;
    assert_counts(&job, "Succeeded", 3, 3, 0);
    let refs = image_refs(&server.requests()[before..]);
    assert_eq!(refs.len(), 3);
    assert!(
        refs.iter()
            .all(|r| r.starts_with("data:image/jpeg;base64,")),
        "{:?}",
        refs.iter().map(|r| &r[..40]).collect::<Vec<_>>()
    );
    assert_vectors(app, &dataset, reencoded(images())).await;

    // Tagging in URL mode hands over the same links.
    let before = server.requests().len();
    let tagger = connection(app, &server, "TaggingModel", "url").await;
    let job = tag_with(app, &dataset, &tagger).await;
    assert_counts(&job, "Succeeded", 3, 3, 0);
    let refs = image_refs(&server.requests()[before..]);
    assert_eq!(refs.len(), 3);
    assert!(
        refs.iter()
            .all(|r| r.starts_with(&s3.endpoint) && r.contains("X-Amz-Signature=")),
        "{refs:?}"
    );
    for file in files(app, &dataset).await {
        assert_eq!(file["Tags"]["ai"], json!(["frame"]), "{file}");
    }
}

async fn url_mode_sends_base64_for_a_local_folder(app: &TestApp) {
    let dataset = ready_version(app, "local-frames", &images()).await;
    let server = model_server().await;

    let by_url = connection(app, &server, "EmbeddingModel", "url").await;
    let job = index_with(app, &dataset, &by_url).await;
    assert_counts(&job, "Succeeded", 3, 3, 0);
    let refs = image_refs(&server.requests());
    assert_eq!(refs.len(), 3);
    assert!(
        refs.iter()
            .all(|r| r.starts_with("data:image/jpeg;base64,")),
        "a local folder has no presigned links"
    );
    assert_vectors(app, &dataset, reencoded(images())).await;

    let tagger = connection(app, &server, "TaggingModel", "url").await;
    let job = tag_with(app, &dataset, &tagger).await;
    assert_counts(&job, "Succeeded", 3, 3, 0);
    assert!(image_refs(&server.requests())
        .iter()
        .all(|r| r.starts_with("data:image/jpeg;base64,")));
}
