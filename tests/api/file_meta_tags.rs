//! Tag edits (`UpdateDatasetFileMetas`) and facet counts (`GetDatasetFileMetasStatistics`)
//! end to end: `user` and `user-delete-ai-tags` changes on many files in one call,
//! `FailedDetails` for ids the version does not hold, `all` = (ai − user-delete-ai-tags)
//! ∪ user, and counts by every `AggregateBy` with and without a `QueryExpression`.

use image::ImageFormat;
use loupe_core::ids::{DatasetId, JobId};
use loupe_core::model::Tag;
use loupe_core::store::{FileMetaStore, WorkDone, WorkKind, WorkResult, WorkStore};
use loupe_core::time::Timestamp;
use loupe_core::version::VersionName;
use loupe_store::each_engine;
use loupe_tests::images::encode;
use loupe_tests::TestApp;
use serde_json::{json, Value};

use crate::indexing::{files, ready_version};

each_engine!(
    TestApp::start;
    user_tags_are_added_and_removed_on_many_files_in_one_call,
    ids_the_version_does_not_hold_are_reported_and_the_rest_applied,
    hidden_ai_tags_leave_all_but_stay_in_ai,
    statistics_count_by_every_aggregate_within_a_filter,
    bad_tag_edits_are_refused_with_what_to_fix,
    bad_statistics_parameters_are_refused_with_what_to_fix,
);

/// `folder/name` of the fixture's files: three folders and the top level.
const LAYOUT: &[&str] = &[
    "day/a.png",
    "day/b.png",
    "day/c.png",
    "night/d.png",
    "night/e.png",
    "f.png",
];

async fn fixture(app: &TestApp, name: &str) -> String {
    let files: Vec<(&str, Vec<u8>)> = LAYOUT
        .iter()
        .enumerate()
        .map(|(i, rel)| (*rel, encode(8 + i as u32, 8, ImageFormat::Png)))
        .collect();
    ready_version(app, name, &files).await
}

/// File meta id by file name.
async fn ids_by_name(app: &TestApp, dataset: &str) -> std::collections::HashMap<String, String> {
    files(app, dataset)
        .await
        .iter()
        .map(|f| {
            (
                f["FileName"].as_str().unwrap().to_string(),
                f["DatasetFileMetaId"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn tags_path(dataset: &str) -> String {
    format!("/api/v1/datasets/{dataset}/datasetfilemetas")
}

async fn edit(app: &TestApp, dataset: &str, files: Value) -> Value {
    let body = json!({"DatasetVersion": "v1", "DatasetFileMetas": files});
    app.put(&tags_path(dataset), &app.owner_key, body)
        .await
        .ok()
}

async fn file(app: &TestApp, dataset: &str, id: &str) -> Value {
    let path = format!("/api/v1/datasets/{dataset}/datasetfilemetas/{id}?DatasetVersion=v1");
    app.get(&path, &app.owner_key).await.ok()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Percent-encodes a query parameter value.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn statistics_path(dataset: &str, params: &str) -> String {
    format!("/api/v1/datasets/{dataset}/datasetfilemetas/statistics?DatasetVersion=v1{params}")
}

/// `(Key, Count)` pairs and `TotalCount` of a statistics call.
async fn statistics(
    app: &TestApp,
    dataset: &str,
    by: &str,
    expression: Option<&str>,
) -> (Vec<(String, i64)>, i64) {
    let mut params = format!("&AggregateBy={}", encoded(by));
    if let Some(expression) = expression {
        params.push_str(&format!("&QueryExpression={}", encoded(expression)));
    }
    statistics_with(app, dataset, &params).await
}

/// `(Key, Count)` pairs and `TotalCount` of a statistics call with these parameters.
async fn statistics_with(app: &TestApp, dataset: &str, params: &str) -> (Vec<(String, i64)>, i64) {
    let reply = app
        .get(&statistics_path(dataset, params), &app.owner_key)
        .await
        .ok();
    assert!(reply["RequestId"].is_string(), "{reply}");
    let buckets = reply["Statistics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["Key"].as_str().unwrap().to_string(),
                b["Count"].as_i64().unwrap(),
            )
        })
        .collect();
    (buckets, reply["TotalCount"].as_i64().unwrap())
}

fn pairs(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

/// Writes `ai` tags the way an `IntelligentTag` job's batch does.
async fn give_ai_tags(app: &TestApp, dataset: &str, tags: &[(&str, &[&str])]) {
    let ws = app
        .loupe
        .workspace_by_name("default")
        .await
        .unwrap()
        .workspace_id;
    let store = &app.test_store().store;
    let (row, _) = store
        .version_row(
            &ws,
            &DatasetId::from_raw(dataset),
            VersionName::from_number(1),
        )
        .await
        .unwrap();
    let done = tags
        .iter()
        .map(|(id, names)| WorkDone {
            file_id: id.to_string(),
            fingerprint: String::new(),
            tags: names
                .iter()
                .map(|n| Tag {
                    name: n.to_string(),
                    confidence: None,
                })
                .collect(),
        })
        .collect();
    store
        .record_work(&WorkResult {
            version_row: row,
            kind: WorkKind::Tag,
            job: JobId::generate(),
            work_key: "test".into(),
            source: "tagdef-test".into(),
            done,
            failed: Vec::new(),
            dropped_tags: 0,
            at: Timestamp::now(),
        })
        .await
        .unwrap();
}

async fn user_tags_are_added_and_removed_on_many_files_in_one_call(app: &TestApp) {
    // 600 files registered through the API: more than one statement's worth of rows.
    let dataset = app.dataset(&app.owner_key, "many").await;
    app.new_version(&dataset).await;
    let mut ids = Vec::new();
    for batch in 0..2 {
        let metas: Vec<Value> = (0..300)
            .map(|i| json!({"Uri": format!("s3://bucket/frames/f{batch}-{i}.jpg")}))
            .collect();
        let body = json!({"DatasetVersion": "v1", "DatasetFileMetas": metas});
        let created = app
            .post(&tags_path(&dataset), &app.owner_key, body)
            .await
            .ok();
        ids.extend(strings(&created["DatasetFileMetaIds"]));
    }
    let all: Vec<Value> = ids
        .iter()
        .map(|id| json!({"DatasetFileMetaId": id, "Tags": {"user": {"add": ["batch-1"]}}}))
        .collect();
    let reply = edit(app, &dataset, json!(all)).await;
    assert_eq!(reply["Status"], true, "{reply}");
    assert_eq!(reply["FailedDetails"], json!([]), "{reply}");
    assert!(reply["RequestId"].is_string(), "{reply}");
    let (buckets, total) = statistics(app, &dataset, "tags.user", None).await;
    assert_eq!(buckets, pairs(&[("batch-1", 600)]));
    assert_eq!(total, 600);

    // Per file: add two, remove one; a second file only loses its tag; a third is untouched.
    let reply = edit(
        app,
        &dataset,
        json!([
            {"DatasetFileMetaId": ids[0], "Tags": {"user": {"add": ["reviewed", "cat's \"toy\" %_"], "remove": ["batch-1"]}}},
            {"DatasetFileMetaId": ids[1], "Tags": {"user": {"remove": ["batch-1", "never-there"]}}},
        ]),
    )
    .await;
    assert_eq!(reply["Status"], true, "{reply}");
    let first = file(app, &dataset, &ids[0]).await;
    assert_eq!(
        strings(&first["Tags"]["user"]),
        ["cat's \"toy\" %_", "reviewed"],
        "{first}"
    );
    assert!(first["TagUpdateTime"].is_string(), "{first}");
    let second = file(app, &dataset, &ids[1]).await;
    assert_eq!(second["Tags"]["user"], json!([]), "{second}");
    let third = file(app, &dataset, &ids[2]).await;
    assert_eq!(strings(&third["Tags"]["user"]), ["batch-1"]);
    let (buckets, _) = statistics(app, &dataset, "tags.user", None).await;
    assert_eq!(
        buckets,
        pairs(&[("batch-1", 598), ("cat's \"toy\" %_", 1), ("reviewed", 1)])
    );
    // The tag with quotes and pattern characters is matched literally by the DSL.
    let (_, total) = statistics(
        app,
        &dataset,
        "tags.user",
        Some(r#"Tags.user = "cat's \"toy\" %_""#),
    )
    .await;
    assert_eq!(total, 1);
}

async fn ids_the_version_does_not_hold_are_reported_and_the_rest_applied(app: &TestApp) {
    let dataset = fixture(app, "failed-details").await;
    let other = fixture(app, "other-dataset").await;
    let ids = ids_by_name(app, &dataset).await;
    let theirs = ids_by_name(app, &other).await;
    let untagged = file(app, &dataset, &ids["f.png"]).await;
    assert!(untagged["TagUpdateTime"].is_null(), "{untagged}");
    let reply = edit(
        app,
        &dataset,
        json!([
            {"DatasetFileMetaId": "000000000000000000000000", "Tags": {"user": {"add": ["x"]}}},
            {"DatasetFileMetaId": ids["a.png"], "Tags": {"user": {"add": ["x"]}}},
            {"DatasetFileMetaId": theirs["a.png"], "Tags": {"user": {"add": ["x"]}}},
            {"DatasetFileMetaId": ids["b.png"], "Tags": {"user-delete-ai-tags": {"add": ["x"]}}},
            // Removing what is not there changes nothing, so the file is not stamped.
            {"DatasetFileMetaId": ids["f.png"], "Tags": {"user": {"remove": ["x"]}}},
        ]),
    )
    .await;
    assert_eq!(reply["Status"], false, "{reply}");
    assert_eq!(
        reply["FailedDetails"],
        json!([
            {"DatasetFileMetaId": "000000000000000000000000", "Result": "Not Found"},
            {"DatasetFileMetaId": theirs["a.png"], "Result": "Not Found"},
        ])
    );
    let a = file(app, &dataset, &ids["a.png"]).await;
    assert_eq!(strings(&a["Tags"]["user"]), ["x"]);
    assert!(a["TagUpdateTime"].is_string(), "{a}");
    let b = file(app, &dataset, &ids["b.png"]).await;
    assert_eq!(strings(&b["Tags"]["user-delete-ai-tags"]), ["x"]);
    let f = file(app, &dataset, &ids["f.png"]).await;
    assert!(f["TagUpdateTime"].is_null(), "{f}");
    let (buckets, _) = statistics(app, &other, "tags.user", None).await;
    assert!(
        buckets.is_empty(),
        "the other dataset is untouched: {buckets:?}"
    );
}

async fn hidden_ai_tags_leave_all_but_stay_in_ai(app: &TestApp) {
    let dataset = fixture(app, "hidden").await;
    let ids = ids_by_name(app, &dataset).await;
    give_ai_tags(
        app,
        &dataset,
        &[
            (&ids["a.png"], &["car", "cone"]),
            (&ids["b.png"], &["cone"]),
            (&ids["d.png"], &["cone"]),
        ],
    )
    .await;
    let (buckets, _) = statistics(app, &dataset, "tags.all", None).await;
    assert_eq!(buckets, pairs(&[("cone", 3), ("car", 1)]));

    // a hides its cone and also tags car by hand: car shows once, cone is gone from all.
    edit(
        app,
        &dataset,
        json!([{"DatasetFileMetaId": ids["a.png"], "Tags": {
            "user": {"add": ["car", "mine"]}, "user-delete-ai-tags": {"add": ["cone"]}}}]),
    )
    .await;
    let a = file(app, &dataset, &ids["a.png"]).await;
    assert_eq!(strings(&a["Tags"]["ai"]), ["car", "cone"], "{a}");
    assert_eq!(strings(&a["Tags"]["user"]), ["car", "mine"], "{a}");
    assert_eq!(strings(&a["Tags"]["user-delete-ai-tags"]), ["cone"], "{a}");
    let expect = [
        ("tags.all", pairs(&[("cone", 2), ("car", 1), ("mine", 1)])),
        ("tags.ai", pairs(&[("cone", 3), ("car", 1)])),
        ("tags.user", pairs(&[("car", 1), ("mine", 1)])),
        ("tags.user-delete-ai-tags", pairs(&[("cone", 1)])),
    ];
    for (by, buckets) in expect {
        assert_eq!(statistics(app, &dataset, by, None).await.0, buckets, "{by}");
    }
    // What search sees: the DSL's Tags.all agrees with the counts.
    let (_, total) = statistics(app, &dataset, "tags.all", Some(r#"Tags.all = "cone""#)).await;
    assert_eq!(total, 2);
    let (_, total) = statistics(app, &dataset, "tags.all", Some(r#"Tags.ai = "cone""#)).await;
    assert_eq!(total, 3);

    // Showing it again brings it back.
    edit(
        app,
        &dataset,
        json!([{"DatasetFileMetaId": ids["a.png"], "Tags": {"user-delete-ai-tags": {"remove": ["cone"]}}}]),
    )
    .await;
    let (buckets, _) = statistics(app, &dataset, "tags.all", None).await;
    assert_eq!(buckets, pairs(&[("cone", 3), ("car", 1), ("mine", 1)]));
}

/// A search's query parameters, the `tags.all` buckets and `TotalCount` expected.
type Searched<'a> = (&'a str, &'a [(&'a str, i64)], i64);

/// `AggregateBy`, `QueryExpression`, the buckets and `TotalCount` expected.
type Facet<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, i64)], i64);

async fn statistics_count_by_every_aggregate_within_a_filter(app: &TestApp) {
    let dataset = fixture(app, "facets").await;
    let ids = ids_by_name(app, &dataset).await;
    give_ai_tags(
        app,
        &dataset,
        &[
            (&ids["a.png"], &["cone"]),
            (&ids["d.png"], &["cone", "lamp"]),
            (&ids["e.png"], &["lamp"]),
        ],
    )
    .await;
    edit(
        app,
        &dataset,
        json!([
            {"DatasetFileMetaId": ids["d.png"], "Tags": {"user": {"add": ["dark"]}}},
            {"DatasetFileMetaId": ids["e.png"], "Tags": {"user": {"add": ["dark"]}, "user-delete-ai-tags": {"add": ["lamp"]}}},
        ]),
    )
    .await;
    let night = Some(r#"FileDir:"NIGHT""#);
    let cases: [Facet; 11] = [
        ("filedir", None, &[("day", 3), ("night", 2), ("", 1)], 6),
        ("FILEDIR", night, &[("night", 2)], 2),
        ("file_type", None, &[("image", 6)], 6),
        ("File_Type", night, &[("image", 2)], 2),
        ("tags.ai", None, &[("cone", 2), ("lamp", 2)], 6),
        ("tags.ai", night, &[("lamp", 2), ("cone", 1)], 2),
        ("tags.user", night, &[("dark", 2)], 2),
        ("tags.user-delete-ai-tags", None, &[("lamp", 1)], 6),
        (
            "Tags.All",
            None,
            &[("cone", 2), ("dark", 2), ("lamp", 1)],
            6,
        ),
        (
            "tags.all",
            Some(r#"Tags.all = "dark" AND NOT FileName = "e.png""#),
            &[("cone", 1), ("dark", 1), ("lamp", 1)],
            1,
        ),
        // A filter nothing passes: no bucket, nothing counted.
        ("filedir", Some(r#"DataSize < 0"#), &[], 0),
    ];
    for (by, expression, buckets, total) in cases {
        let found = statistics(app, &dataset, by, expression).await;
        assert_eq!(found, (pairs(buckets), total), "{by} within {expression:?}");
    }
    // MaxResults keeps the largest buckets; ties go by key.
    let path = statistics_path(&dataset, "&AggregateBy=tags.all&MaxResults=2");
    let reply = app.get(&path, &app.owner_key).await.ok();
    assert_eq!(
        reply["Statistics"],
        json!([{"Key": "cone", "Count": 2}, {"Key": "dark", "Count": 2}])
    );
    assert_eq!(reply["TotalCount"], 6);
    // Without AggregateBy, the total alone; a viewer may read it.
    let viewer = app.key(loupe_core::auth::Role::Viewer).await;
    let expression = encoded(r#"Tags.all = "lamp" OR FileName = "a.png""#);
    let path = statistics_path(&dataset, &format!("&QueryExpression={expression}"));
    let reply = app.get(&path, &viewer).await.ok();
    assert_eq!(reply["Statistics"], json!([]), "{reply}");
    assert_eq!(reply["TotalCount"], 2, "{reply}");

    // A search's own filter parameters count the files that search finds.
    let searches: [Searched; 4] = [
        (
            "&QueryTagsIncludeAny=cone,dark",
            &[("cone", 2), ("dark", 2), ("lamp", 1)],
            3,
        ),
        (
            "&QueryFileDir=NIGHT&QueryTagsExclude=lamp",
            &[("dark", 1)],
            1,
        ),
        (
            "&TagGroup=ai&QueryTagsIncludeAll=lamp",
            &[("dark", 2), ("cone", 1), ("lamp", 1)],
            2,
        ),
        (
            "&QueryType=TAG&QueryText=cone&QueryFileName=a.",
            &[("cone", 1)],
            1,
        ),
    ];
    for (params, buckets, total) in searches {
        let found = statistics_with(app, &dataset, &format!("&AggregateBy=tags.all{params}")).await;
        assert_eq!(found, (pairs(buckets), total), "{params}");
        let search = format!(
            "/api/v1/datasets/{dataset}/datasetfilemetas?DatasetVersion=v1&MaxResults=100{params}"
        );
        let hits = app.get(&search, &app.owner_key).await.ok();
        assert_eq!(hits["TotalCount"], total, "{params}: {hits}");
        assert_eq!(
            hits["DatasetFileMetas"].as_array().unwrap().len() as i64,
            total,
            "{params}"
        );
    }
}

async fn bad_tag_edits_are_refused_with_what_to_fix(app: &TestApp) {
    let dataset = fixture(app, "bad-edits").await;
    let ids = ids_by_name(app, &dataset).await;
    let id = &ids["a.png"];
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"DatasetFileMetaId": format!("f{i}")}))
        .collect();
    let cases = [
        (json!(too_many), "1 to 1000 files"),
        (json!([]), "1 to 1000 files"),
        (
            json!([{"DatasetFileMetaId": id, "Tags": {"ai": ["cone"]}}]),
            "only IntelligentTag jobs write them",
        ),
        (
            json!([{"DatasetFileMetaId": id, "Tags": {"user": {"add": [""]}}}]),
            "DatasetFileMetas[0].Tags.user.add[0]: tag name",
        ),
        (
            json!([{"DatasetFileMetaId": id, "Tags": {"user": {"add": ["x".repeat(65)]}}}]),
            "1 to 64 characters",
        ),
        (
            json!([{"DatasetFileMetaId": id}, {"DatasetFileMetaId": id}]),
            "given twice",
        ),
    ];
    for (files, needle) in cases {
        let body = json!({"DatasetVersion": "v1", "DatasetFileMetas": files});
        let reply = app.put(&tags_path(&dataset), &app.owner_key, body).await;
        reply.assert_error(400, "InvalidParameter");
        let message = reply.body["Message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {message}");
    }
    let body = json!({"DatasetVersion": "v1", "TagJobId": "dsjob-1",
        "DatasetFileMetas": [{"DatasetFileMetaId": id}]});
    let reply = app.put(&tags_path(&dataset), &app.owner_key, body).await;
    reply.assert_error(400, "InvalidParameter");
    assert!(reply.body["Message"]
        .as_str()
        .unwrap()
        .contains("PAI needs a TagJobId"));
    let body = json!({"DatasetVersion": "v1", "DatasetFileMetas": [{"DatasetFileMetaId": id, "Tags": {"user": {"add": ["x"]}, "Bogus": 1}}]});
    app.put(&tags_path(&dataset), &app.owner_key, body)
        .await
        .assert_error(400, "InvalidBody");
    let edit_one = json!({"DatasetVersion": "v1", "DatasetFileMetas": [{"DatasetFileMetaId": id, "Tags": {"user": {"add": ["x"]}}}]});
    let viewer = app.key(loupe_core::auth::Role::Viewer).await;
    app.put(&tags_path(&dataset), &viewer, edit_one.clone())
        .await
        .assert_error(403, "PermissionDenied");
    let mut v9 = edit_one.clone();
    v9["DatasetVersion"] = json!("v9");
    app.put(&tags_path(&dataset), &app.owner_key, v9)
        .await
        .assert_error(404, "DatasetVersionNotFound");
    // Nothing of the refused calls was applied.
    let a = file(app, &dataset, id).await;
    assert_eq!(a["Tags"]["user"], json!([]), "{a}");
}

async fn bad_statistics_parameters_are_refused_with_what_to_fix(app: &TestApp) {
    let dataset = fixture(app, "bad-statistics").await;
    let cases = [
        (
            "&AggregateBy=tags",
            "InvalidParameter",
            "use one of filedir, file_type",
        ),
        (
            "&AggregateBy=filedir&MaxResults=0",
            "InvalidParameter",
            "1 to 1000",
        ),
        (
            "&AggregateBy=filedir&MaxResults=1001",
            "InvalidParameter",
            "1 to 1000",
        ),
        ("&MaxResults=many", "InvalidParameter", "MaxResults"),
        (
            "&QueryExpression=FileName%20%3D",
            "InvalidQueryExpression",
            "position",
        ),
        (
            "&QueryExpression=Tags.all%3D%22x%22%20AND%20Content%3A%22a%20cone%22",
            "InvalidParameter",
            "send the search without them",
        ),
        (
            "&QueryText=a%20cone",
            "InvalidParameter",
            "send the search without them",
        ),
        (
            "&StartFileUpdateTime=yesterday",
            "InvalidParameter",
            "ISO 8601",
        ),
    ];
    for (params, code, needle) in cases {
        let reply = app
            .get(&statistics_path(&dataset, params), &app.owner_key)
            .await;
        reply.assert_error(400, code);
        let message = reply.body["Message"].as_str().unwrap();
        assert!(message.contains(needle), "{params}: {message}");
    }
    let path = format!("/api/v1/datasets/{dataset}/datasetfilemetas/statistics?DatasetVersion=v7");
    app.get(&path, &app.owner_key)
        .await
        .assert_error(404, "DatasetVersionNotFound");
}
