//! `S3Store` against a real S3 server (s3s-fs, which checks SigV4 signatures).

use std::collections::HashSet;
use std::time::Duration;

use futures::TryStreamExt;
use loupe_storage::testing::{S3sFs, SECRET_KEY};
use loupe_storage::{ObjectMeta, ObjectStore, S3Store, StorageError};

async fn pages(store: &S3Store, page_size: usize) -> Vec<Vec<ObjectMeta>> {
    store.list(page_size).try_collect().await.unwrap()
}

#[tokio::test]
async fn list_pages_through_every_object_under_the_prefix() {
    let server = S3sFs::start().await;
    let mut expected = HashSet::new();
    for i in 0..60 {
        let key = if i % 2 == 0 {
            format!("cam-{i:02}.jpg")
        } else {
            format!("sub/{i:02}/f.png")
        };
        server.put("fleet", &format!("2024/night/{key}"), b"img");
        expected.insert(key);
    }
    // Siblings that share the prefix's first characters but not its folder.
    server.put("fleet", "2024/nightly.jpg", b"no");
    server.put("fleet", "2024/day/noon.jpg", b"no");
    let store = S3Store::new(server.settings("fleet", "/2024/night/"));

    let pages = pages(&store, 7).await;

    assert_eq!(
        pages.len(),
        60usize.div_ceil(7),
        "pages of {:?}",
        pages.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let mut seen = HashSet::new();
    for meta in pages.iter().flatten() {
        assert_eq!(meta.size, 3);
        assert!(meta.last_modified_ms > 0);
        assert!(seen.insert(meta.key.clone()), "{} listed twice", meta.key);
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn list_of_thousands_uses_pages_of_at_most_a_thousand() {
    let server = S3sFs::start().await;
    let dir = server.bucket_dir("big");
    for i in 0..2_500 {
        std::fs::write(dir.join(format!("{i:04}.jpg")), b"x").unwrap();
    }
    let store = S3Store::new(server.settings("big", ""));

    let pages = pages(&store, 1000).await;

    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [1000, 1000, 500]
    );
    let keys: HashSet<_> = pages
        .iter()
        .flatten()
        .map(|meta| meta.key.clone())
        .collect();
    assert_eq!(keys.len(), 2_500);
}

#[tokio::test]
async fn head_reports_size_and_unquoted_etag() {
    let server = S3sFs::start().await;
    server.put("photos", "p/x.jpg", &[1u8; 4321]);
    let store = S3Store::new(server.settings("photos", "p"));

    let meta = store.head("x.jpg").await.unwrap();

    assert_eq!(meta.key, "x.jpg");
    assert_eq!(meta.size, 4321);
    let etag = meta.etag.expect("s3s-fs sends an etag");
    assert!(!etag.is_empty() && !etag.contains('"'), "{etag}");
    assert!(meta.last_modified_ms > 0);
    assert_eq!(meta.created_ms, None);
}

#[tokio::test]
async fn get_range_reads_only_the_range() {
    let server = S3sFs::start().await;
    let bytes: Vec<u8> = (0..=255u8).collect();
    server.put("photos", "bytes.bin", &bytes);
    let store = S3Store::new(server.settings("photos", ""));

    assert_eq!(
        store.get_range("bytes.bin", 10, 20).await.unwrap().as_ref(),
        &bytes[10..20]
    );
    assert_eq!(
        store
            .get_range("bytes.bin", 250, 300)
            .await
            .unwrap()
            .as_ref(),
        &bytes[250..]
    );
    assert!(store
        .get_range("bytes.bin", 256, 300)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn get_returns_the_object_and_refuses_one_over_the_limit() {
    let server = S3sFs::start().await;
    server.put("photos", "p/ten.bin", b"0123456789");
    let store = S3Store::new(server.settings("photos", "p"));

    assert_eq!(
        store.get("ten.bin", 10).await.unwrap().as_ref(),
        b"0123456789"
    );
    let err = store.get("ten.bin", 9).await.unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::TooLarge {
                size: 10,
                limit: 9,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("s3://photos/p/ten.bin"), "{err}");
}

#[tokio::test]
async fn presigned_url_serves_the_object() {
    let server = S3sFs::start().await;
    server.put("photos", "p/cat.jpg", b"meow bytes");
    let store = S3Store::new(server.settings("photos", "p"));

    let url = store
        .presign_get("cat.jpg", Duration::from_secs(300))
        .await
        .unwrap()
        .expect("a url");

    assert!(
        url.starts_with(&server.endpoint) && url.contains("X-Amz-Signature="),
        "{url}"
    );
    assert!(!url.contains(SECRET_KEY));
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"meow bytes");
}

#[tokio::test]
async fn missing_key_or_bucket_is_not_found() {
    let server = S3sFs::start().await;
    server.put("photos", "p/here.jpg", b"x");
    let store = S3Store::new(server.settings("photos", "p"));

    for err in [
        store.head("gone.jpg").await.unwrap_err(),
        store.get("gone.jpg", 10).await.unwrap_err(),
    ] {
        assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("s3://photos/p/gone.jpg"), "{err}");
    }
    let no_bucket = S3Store::new(server.settings("no-such-bucket", ""));
    let err = no_bucket
        .list(10)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("s3://no-such-bucket/"), "{err}");
}

#[tokio::test]
async fn wrong_credentials_are_refused_without_leaking_them() {
    let server = S3sFs::start().await;
    server.put("photos", "x.jpg", b"x");
    let mut settings = server.settings("photos", "");
    settings.secret_access_key = "wrong-secret-0000".to_owned();
    let store = S3Store::new(settings);

    let err = store.head("x.jpg").await.unwrap_err();
    // s3s-fs answers 403 SignatureDoesNotMatch, as S3 does.
    assert!(
        matches!(err, StorageError::PermissionDenied { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("s3://photos/x.jpg"), "{err}");
    assert!(
        !format!("{err} {err:?}").contains("wrong-secret"),
        "{err:?}"
    );

    let report = store.check().await.unwrap();
    assert!(
        !report.can_list && report.sample_key.is_none(),
        "{report:?}"
    );
    assert!(
        report.message.contains("SignatureDoesNotMatch"),
        "{report:?}"
    );
    assert!(!report.message.contains("wrong-secret"), "{report:?}");
}

#[tokio::test]
async fn check_reports_listing_and_a_sample_key() {
    let server = S3sFs::start().await;
    server.bucket_dir("photos");
    let store = S3Store::new(server.settings("photos", "p"));
    let empty = store.check().await.unwrap();
    assert!(empty.can_list && empty.sample_key.is_none(), "{empty:?}");

    server.put("photos", "p/one.jpg", b"x");
    let report = store.check().await.unwrap();
    assert!(report.can_list, "{report:?}");
    assert_eq!(report.sample_key.as_deref(), Some("one.jpg"));
    assert!(report.message.contains("s3://photos/p/"), "{report:?}");
}

#[tokio::test]
async fn oss_scheme_only_changes_the_uri() {
    let server = S3sFs::start().await;
    server.put("photos", "p/x.jpg", b"x");
    let mut settings = server.settings("photos", "p");
    settings.scheme = "oss".to_owned();
    let store = S3Store::new(settings);
    assert_eq!(store.uri_of("x.jpg"), "oss://photos/p/x.jpg");
    assert_eq!(store.head("x.jpg").await.unwrap().size, 1);
}
