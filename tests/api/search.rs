//! Search (ListDatasetFileMetas, GET and POST …/search): tag lists over tag groups,
//! name and folder, types, time ranges and the DSL, all ANDed; stable paging; ranking
//! by text or image within the filter; literal matching of awkward strings; bad input.

use std::sync::Arc;

use base64::Engine as _;
use image::ImageFormat;
use loupe_connectors::testing::{Backend, ModelServer};
use loupe_store::each_engine;
use loupe_tests::images::encode;
use loupe_tests::models::ShapeTagger;
use loupe_tests::TestApp;
use serde_json::{json, Value};

use crate::indexing::{pool, ready_version, stamp, stamps_files};

each_engine!(
    TestApp::start;
    conditions_combine_and_pages_are_stable,
    ranking_stays_within_the_filter_and_finds_every_hit,
    image_to_image_by_file_or_upload,
    strings_match_literally,
    bad_searches_say_what_to_fix,
);

/// Eight files in two folders, of three shapes, tagged by shape in the `ai` group.
async fn shaped_version(app: &TestApp) -> String {
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("day/wide1.png", encode(40, 10, ImageFormat::Png)),
        ("day/wide2.jpg", encode(20, 10, ImageFormat::Jpeg)),
        ("day/tall1.png", encode(10, 40, ImageFormat::Png)),
        ("day/square1.png", encode(12, 12, ImageFormat::Png)),
        ("night/wide3.png", encode(36, 12, ImageFormat::Png)),
        ("night/tall2.jpg", encode(10, 20, ImageFormat::Jpeg)),
        ("night/square2.png", encode(33, 33, ImageFormat::Png)),
        ("night/100%_sale's.png", encode(14, 14, ImageFormat::Png)),
    ];
    let dataset = ready_version(app, "shapes", &files).await;
    let server = ModelServer::start(Backend {
        tagger: Some(Arc::new(ShapeTagger)),
        ..Backend::default()
    })
    .await;
    let connection = app
        .post("/api/v1/connections", &app.owner_key, json!({"ConnectionName": "shape", "ConnectionType": "TaggingModel",
            "Configs": {"Provider": "openai", "BaseUrl": server.openai_base(), "Model": "shape"}, "Secrets": {"ApiKey": "k"}}))
        .await
        .ok();
    let definition = app
        .post(
            "/api/v1/tagdefinitions",
            &app.owner_key,
            json!({"TagDefinitionName": "shapes",
            "TagDefinitions": {"wide": "wide", "tall": "tall", "square": "square", "big": "big"}}),
        )
        .await
        .ok();
    let job = app
        .run_job(&pool(app), &dataset, json!({"DatasetVersion": "v1", "JobAction": "IntelligentTag",
            "JobSpec": {"TagDefinitionId": definition["TagDefinitionId"], "ConnectionId": connection["ConnectionId"]}}))
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    dataset
}

/// Every page of a GET search, as file names in order, and the reported total.
async fn all_pages(app: &TestApp, dataset: &str, query: &str) -> (Vec<String>, i64) {
    let base = format!(
        "/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&MaxResults=3&{query}"
    );
    let (mut names, mut token) = (Vec::new(), None::<String>);
    let total = loop {
        let url = match &token {
            Some(t) => format!("{base}&NextToken={t}"),
            None => base.clone(),
        };
        let page = app.get(&url, &app.owner_key).await.ok();
        names.extend(
            page["DatasetFileMetas"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    format!(
                        "{}/{}",
                        f["FileDir"].as_str().unwrap(),
                        f["FileName"].as_str().unwrap()
                    )
                }),
        );
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break page["TotalCount"].as_i64().unwrap(),
        }
    };
    (names, total)
}

pub(crate) async fn search_post(app: &TestApp, dataset: &str, body: Value) -> Value {
    app.post(
        &format!("/api/v1/datasets/{dataset}/datasetfilemetas/search"),
        &app.owner_key,
        body,
    )
    .await
    .ok()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn conditions_combine_and_pages_are_stable(app: &TestApp) {
    let dataset = shaped_version(app).await;
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("QueryTagsIncludeAny=wide,tall".into(),
            vec!["day/tall1.png", "day/wide1.png", "day/wide2.jpg", "night/tall2.jpg", "night/wide3.png"]),
        ("QueryTagsIncludeAll=wide,big".into(), vec!["day/wide1.png", "night/wide3.png"]),
        ("QueryTagsExclude=wide,big&TagGroup=ai".into(), vec!["night/100%_sale's.png", "day/square1.png", "day/tall1.png", "night/tall2.jpg"]),
        ("QueryTagsIncludeAny=big&QueryFileDir=NIGHT".into(), vec!["night/square2.png", "night/wide3.png"]),
        ("QueryTagsIncludeAny=wide&TagGroup=user".into(), vec![]),
        ("QueryContentTypeIncludeAny=image/jpeg".into(), vec!["day/wide2.jpg", "night/tall2.jpg"]),
        ("QueryFileName=WIDE&QueryFileTypeIncludeAny=image".into(), vec!["day/wide1.png", "day/wide2.jpg", "night/wide3.png"]),
        ("QueryType=TAG&QueryText=square".into(), vec!["night/100%_sale's.png", "day/square1.png", "night/square2.png"]),
        (format!("QueryExpression={}", enc("ImageWidth >= 33 AND (Tags.all = \"big\" OR FileDir : \"day\") AND NOT FileName = \"wide1.png\"")),
            vec!["night/square2.png", "night/wide3.png"]),
        (format!("QueryExpression={}&QueryTagsIncludeAny=tall", enc("DataSize > 0")), vec!["day/tall1.png", "night/tall2.jpg"]),
        ("StartFileUpdateTime=2000-01-01T00:00:00Z&EndFileUpdateTime=2999-01-01T00:00:00Z&QueryTagsIncludeAll=square,big".into(), vec!["night/square2.png"]),
        ("StartTagUpdateTime=2999-01-01T00:00:00Z".into(), vec![]),
    ];
    for (query, expected) in cases {
        let (names, total) = all_pages(app, &dataset, &query).await;
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| n.rsplit('/').next().unwrap().to_string());
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort_by_key(|n| n.rsplit('/').next().unwrap().to_string());
        assert_eq!(sorted, want, "{query}");
        assert_eq!(total, expected.len() as i64, "{query}");
        // The default order is by name, and no page repeats or skips a file.
        let by_name: Vec<&str> = names
            .iter()
            .map(|n| n.rsplit('/').next().unwrap())
            .collect();
        let mut again = by_name.clone();
        again.sort();
        assert_eq!(by_name, again, "{query}");
    }
    // The same search as a JSON body, lists as arrays.
    let body = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryTagsIncludeAll": ["wide", "big"], "MaxResults": 100}),
    )
    .await;
    assert_eq!(body["TotalCount"], 2, "{body}");
    // Other orders page stably too.
    for order in [
        "SortBy=FileUpdateTime&Order=DESC",
        "SortBy=FileCreateTime&Order=ASC",
    ] {
        let (names, total) = all_pages(app, &dataset, order).await;
        assert_eq!(total, 8);
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), 8, "{order}: {names:?}");
    }
    // PAI's published example parses and runs (it finds nothing here).
    let pai = "(FileUpdateTime > \"2025-02-28T00:00:00Z\" AND FileUpdateTime < \"2025-05-30T09:27:29Z\") AND FileDir:\"blue_car\" AND NOT FileName=\"toyota.jpg\" AND (( Tags.all=\"lane line\" AND Tags.all=\"barrier gate\") OR NOT Tags.user=\"rainy days\" ) AND HAS SemanticIndexJobId AND Content:\"a fallen water horse\" AND TopK=100 AND SignMode=\"PUBLIC\"";
    let body = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryExpression": pai}),
    )
    .await;
    assert_eq!(body["TotalCount"], 0, "{body}");
}

async fn ranking_stays_within_the_filter_and_finds_every_hit(app: &TestApp) {
    let mut files = stamps_files();
    // Fruit in one folder, the rest in another.
    for (name, _) in files.iter_mut() {
        *name = match *name {
            "banana.png" => "fruit/banana.png",
            "pineapple.png" => "fruit/pineapple.png",
            "strawberry.png" => "fruit/strawberry.png",
            "lemon.png" => "fruit/lemon.png",
            "bear.png" => "other/bear.png",
            _ => "other/garbagetruck.png",
        };
    }
    let dataset = indexed_version(app, "ranked", &files).await;
    // "a bear" within the fruit folder: only fruit, all four, ranked.
    let body = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryText": "a bear",
        "QueryFileDir": "fruit", "TopK": 50, "MaxResults": 100}),
    )
    .await;
    assert_eq!(
        body["TotalCount"], 4,
        "a filtered top-k returns every hit that exists: {body}"
    );
    for hit in body["DatasetFileMetas"].as_array().unwrap() {
        assert_eq!(hit["FileDir"], "fruit");
        assert!(hit["Score"].is_number());
    }
    // The same through the DSL's Content clause.
    let body = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1",
        "QueryExpression": "FileDir : \"fruit\" AND Content:\"a banana\" AND TopK=2"}),
    )
    .await;
    let names: Vec<&str> = body["DatasetFileMetas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FileName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert_eq!(names[0], "banana.png");
    // A threshold above every score leaves nothing.
    let body = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryText": "a banana", "ScoreThreshold": 1.5}),
    )
    .await;
    assert_eq!(body["TotalCount"], 0);
    // A filter nothing passes ranks nothing.
    let body = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryText": "a banana", "QueryFileDir": "nowhere"}),
    )
    .await;
    assert_eq!(body["TotalCount"], 0);
}

/// A ready v1 of `files`, indexed by a `SemanticIndex` job with the built-in model.
pub(crate) async fn indexed_version(
    app: &TestApp,
    name: &str,
    files: &[(&str, Vec<u8>)],
) -> String {
    let dataset = ready_version(app, name, files).await;
    let job = app
        .run_job(
            &pool(app),
            &dataset,
            json!({"DatasetVersion": "v1", "JobAction": "SemanticIndex"}),
        )
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    dataset
}

async fn image_to_image_by_file_or_upload(app: &TestApp) {
    let dataset = indexed_version(app, "similar", &stamps_files()).await;
    let files = crate::indexing::files(app, &dataset).await;
    let bear = files.iter().find(|f| f["FileName"] == "bear.png").unwrap();
    let id = bear["DatasetFileMetaId"].as_str().unwrap();
    let names = |body: &Value| -> Vec<String> {
        body["DatasetFileMetas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["FileName"].as_str().unwrap().to_string())
            .collect()
    };
    let by_id = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryImage": id, "TopK": 3}),
    )
    .await;
    assert_eq!(
        names(&by_id)[0],
        "bear.png",
        "an image is closest to itself"
    );
    let by_uri = app
        .get(&format!("/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&QueryType=VECTOR&QueryImage={}&TopK=3&ExcludeQueryImage=true",
            enc(bear["Uri"].as_str().unwrap())), &app.owner_key)
        .await
        .ok();
    assert_eq!(by_uri["TotalCount"], 3, "{by_uri}");
    assert!(
        !names(&by_uri).contains(&"bear.png".to_string()),
        "excluded on request"
    );
    let upload = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(stamp("food/fruit/banana.png"))
    );
    let uploaded = search_post(
        app,
        &dataset,
        json!({"DatasetVersion": "v1", "QueryImage": upload, "TopK": 1}),
    )
    .await;
    assert_eq!(names(&uploaded), vec!["banana.png"]);
}

async fn strings_match_literally(app: &TestApp) {
    let dataset = shaped_version(app).await;
    for (needle, hits) in [
        ("100%_sale's", 1),
        ("%", 1),
        ("_", 1),
        ("0%_s", 1),
        ("' OR 1=1 --", 0),
        ("\\", 0),
        ("é", 0),
        ("wide%", 0),
    ] {
        let body = search_post(
            app,
            &dataset,
            json!({"DatasetVersion": "v1", "QueryFileName": needle, "MaxResults": 100}),
        )
        .await;
        assert_eq!(body["TotalCount"], hits, "QueryFileName {needle:?}: {body}");
        let dsl = format!(
            "FileName : \"{}\"",
            needle.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let body = search_post(
            app,
            &dataset,
            json!({"DatasetVersion": "v1", "QueryExpression": dsl, "MaxResults": 100}),
        )
        .await;
        assert_eq!(body["TotalCount"], hits, "{dsl}: {body}");
        let body = search_post(
            app,
            &dataset,
            json!({"DatasetVersion": "v1", "QueryTagsIncludeAny": [needle]}),
        )
        .await;
        assert_eq!(body["TotalCount"], 0, "tag {needle:?}");
    }
}

async fn bad_searches_say_what_to_fix(app: &TestApp) {
    let dataset = ready_version(app, "bad", &[("a.png", encode(8, 8, ImageFormat::Png))]).await;
    let path = format!("/api/v1/datasets/{dataset}/datasetfilemetas");
    let get = |q: &str| format!("{path}?DatasetVersion=v1&{q}");
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (
            get("QueryExpression=FileName%20%3E%20"),
            400,
            "InvalidQueryExpression",
            "position",
        ),
        (
            get("QueryExpression=(FileName%3D%22a%22%20OR%20Content%3A%22x%22)"),
            400,
            "InvalidQueryExpression",
            "Content",
        ),
        (get("TagGroup=robots"), 400, "InvalidParameter", "TagGroup"),
        (
            get("StartFileUpdateTime=monday"),
            400,
            "InvalidParameter",
            "StartFileUpdateTime",
        ),
        (
            get("QueryType=VECTOR"),
            400,
            "InvalidParameter",
            "QueryType=VECTOR",
        ),
        (get("QueryType=FUZZY"), 400, "InvalidParameter", "QueryType"),
        (get("QueryText=x&TopK=0"), 400, "InvalidParameter", "TopK"),
        (
            get("QueryText=x&TopK=5000"),
            400,
            "InvalidParameter",
            "TopK",
        ),
        (
            get("QueryImage=d-nope"),
            404,
            "DatasetFileMetaNotFound",
            "QueryImage",
        ),
        (get("NextToken=garbage"), 400, "InvalidNextToken", ""),
        (
            format!("{path}?DatasetVersion=v9"),
            404,
            "DatasetVersionNotFound",
            "",
        ),
    ];
    for (url, status, code, needle) in cases {
        let reply = app.get(&url, &app.owner_key).await;
        reply.assert_error(status, code);
        assert!(
            reply.body["Message"].as_str().unwrap().contains(needle),
            "{url}: {}",
            reply.body
        );
    }
    let search = format!("{path}/search");
    for (body, status, code) in [
        (
            json!({"DatasetVersion": "v1", "QueryImage": "data:image/png;base64,!!!"}),
            400,
            "InvalidParameter",
        ),
        (
            json!({"DatasetVersion": "v1", "QueryTagsIncludeAny": vec!["t"; 101]}),
            400,
            "InvalidParameter",
        ),
        (
            json!({"DatasetVersion": "v1", "Colour": "red"}),
            400,
            "InvalidBody",
        ),
        (
            json!({"DatasetVersion": "v1", "QueryText": "a", "QueryImage": "b"}),
            400,
            "InvalidParameter",
        ),
    ] {
        app.post(&search, &app.owner_key, body)
            .await
            .assert_error(status, code);
    }
}
