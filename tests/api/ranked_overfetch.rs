//! A ranked search whose filter passes more files than the vector store is handed as
//! candidates (here more than one): the store ranks the whole version and the filter is
//! applied to the hits. When the query is about what the filter leaves out, the first
//! over-fetch holds no hit that passes; the search widens until one does, so a filtered
//! top-k still returns the best hits that exist.

use image::ImageFormat;
use loupe_store::{each_engine, Engine};
use loupe_tests::images::encode;
use loupe_tests::TestApp;
use serde_json::{json, Value};

use crate::search::{indexed_version, search_post};

each_engine!(
    candidates_of_one;
    over_fetching_widens_until_enough_hits_pass,
);

/// A server that hands the vector store at most one candidate.
async fn candidates_of_one(engine: Engine) -> TestApp {
    TestApp::start_with(engine, |s| s.max_search_candidates = 1).await
}

/// File names and scores of a ranked answer, best first.
fn hits(body: &Value) -> Vec<(String, f64)> {
    body["DatasetFileMetas"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits: {body}"))
        .iter()
        .map(|f| {
            (
                f["FileName"].as_str().unwrap().to_string(),
                f["Score"].as_f64().unwrap(),
            )
        })
        .collect()
}

async fn over_fetching_widens_until_enough_hits_pass(app: &TestApp) {
    let files: Vec<(String, Vec<u8>)> = (0..30_u32)
        .map(|i| {
            let png = encode(8 + 3 * i, 100 - 2 * i, ImageFormat::Png);
            (format!("f{i:02}.png"), png)
        })
        .collect();
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let dataset = indexed_version(app, "overfetch", &files).await;
    let query = "a photo of a traffic cone";
    let body = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryText": query, "TopK": 30, "MaxResults": 100}),
    )
    .await;
    let all = hits(&body);
    assert_eq!(all.len(), 30, "every file is ranked: {body}");
    // Leave out the ten best: a tenfold over-fetch for TopK 1 holds only those.
    let best: Vec<String> = all[..10]
        .iter()
        .map(|(name, _)| format!("FileName=\"{name}\""))
        .collect();
    let body = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryText": query, "TopK": 1,
            "QueryExpression": format!("NOT ({})", best.join(" OR "))}),
    )
    .await;
    let found = hits(&body);
    assert_eq!(found.len(), 1, "the best hit the filter passes: {body}");
    let (name, score) = &found[0];
    assert!(
        all[..10].iter().all(|(n, _)| n != name),
        "{name} is left out"
    );
    assert!(
        (score - all[10].1).abs() < 1e-6,
        "{name} scores {score}, the eleventh best {}",
        all[10].1
    );
}
