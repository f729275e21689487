//! `LocalStore` against real folders, files and symlinks in temporary directories.

use std::collections::HashSet;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use futures::TryStreamExt;
use loupe_storage::{validate_key, LocalStore, ObjectMeta, ObjectStore, StorageError};

fn write(root: &Path, key: &str, bytes: &[u8]) {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

async fn all_pages(store: &LocalStore, page_size: usize) -> Vec<Vec<ObjectMeta>> {
    store.list(page_size).try_collect().await.unwrap()
}

async fn all_keys(store: &LocalStore) -> Vec<String> {
    let mut keys: Vec<String> = all_pages(store, 100)
        .await
        .into_iter()
        .flatten()
        .map(|meta| meta.key)
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn list_yields_every_nested_file_once_in_bounded_sorted_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = HashSet::new();
    for i in 0..2_500 {
        let key = match i % 3 {
            0 => format!("top-{i}.jpg"),
            1 => format!("a/b/deep-{i}.png"),
            _ => format!("c/{}/img-{i}.jpg", i % 7),
        };
        write(dir.path(), &key, b"x");
        expected.insert(key);
    }
    let store = LocalStore::open(dir.path()).unwrap();

    let pages = all_pages(&store, 1000).await;

    assert!(pages.len() >= 3, "{} pages", pages.len());
    let mut seen = HashSet::new();
    for page in &pages {
        assert!(
            !page.is_empty() && page.len() <= 1000,
            "page of {}",
            page.len()
        );
        assert!(
            page.windows(2).all(|pair| pair[0].key < pair[1].key),
            "page not sorted"
        );
        for meta in page {
            assert!(
                !meta.key.starts_with('/') && !meta.key.contains('\\'),
                "{}",
                meta.key
            );
            assert!(seen.insert(meta.key.clone()), "{} listed twice", meta.key);
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn list_of_an_empty_folder_yields_no_page() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty-subfolder")).unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    assert!(all_pages(&store, 10).await.is_empty());
}

#[tokio::test]
async fn head_reports_size_and_times() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cats/tom.jpg", &[7u8; 1234]);
    let store = LocalStore::open(dir.path()).unwrap();

    let meta = store.head("cats/tom.jpg").await.unwrap();

    assert_eq!(meta.key, "cats/tom.jpg");
    assert_eq!(meta.size, 1234);
    assert_eq!(meta.etag, None);
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    assert!(
        (now_ms - meta.last_modified_ms).abs() < 60_000,
        "mtime {} vs now {now_ms}",
        meta.last_modified_ms
    );
    if let Some(created_ms) = meta.created_ms {
        assert!(
            (now_ms - created_ms).abs() < 60_000,
            "birth time {created_ms} vs now {now_ms}"
        );
    }
}

#[tokio::test]
async fn missing_key_and_folder_are_not_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "sub/x.jpg", b"x");
    let store = LocalStore::open(dir.path()).unwrap();

    for key in ["nope.jpg", "sub", "sub/x.jpg/inner"] {
        let err = store.head(key).await.unwrap_err();
        assert!(matches!(err, StorageError::NotFound { .. }), "{key}: {err}");
        assert!(err.to_string().contains(&store.uri_of(key)), "{err}");
    }
}

#[tokio::test]
async fn get_range_reads_the_range_and_short_at_end_of_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..=255u8).collect();
    write(dir.path(), "bytes.bin", &bytes);
    let store = LocalStore::open(dir.path()).unwrap();

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
    assert!(store
        .get_range("bytes.bin", 500, 600)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .get_range("bytes.bin", 20, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn get_returns_the_file_and_refuses_files_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ten.bin", b"0123456789");
    let store = LocalStore::open(dir.path()).unwrap();

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
    assert!(err.to_string().contains(&store.uri_of("ten.bin")), "{err}");
}

#[tokio::test]
async fn presign_get_gives_no_url() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.jpg", b"x");
    let store = LocalStore::open(dir.path()).unwrap();
    assert_eq!(
        store
            .presign_get("a.jpg", Duration::from_secs(60))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn escaping_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a/x", b"x");
    let store = LocalStore::open(dir.path()).unwrap();

    for key in [
        "../x",
        "/etc/passwd",
        "a/../../x",
        "a\\b",
        "",
        ".",
        "..",
        "a/./x",
        "a\0b",
    ] {
        assert!(
            matches!(validate_key(key), Err(StorageError::InvalidKey { .. })),
            "{key:?}"
        );
        let err = store.head(key).await.unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidKey { .. }),
            "{key:?}: {err}"
        );
        let err = store.get_range(key, 0, 1).await.unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidKey { .. }),
            "{key:?}: {err}"
        );
    }
}

#[tokio::test]
async fn symlink_out_of_root_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", b"do not serve");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.jpg", b"x");
    symlink(
        outside.path().join("secret.txt"),
        dir.path().join("leak.jpg"),
    )
    .unwrap();
    let store = LocalStore::open(dir.path()).unwrap();

    assert_eq!(all_keys(&store).await, ["ok.jpg"]);
    for err in [
        store.head("leak.jpg").await.unwrap_err(),
        store.get_range("leak.jpg", 0, 4).await.unwrap_err(),
        store.get("leak.jpg", 100).await.unwrap_err(),
    ] {
        assert!(matches!(err, StorageError::InvalidKey { .. }), "{err}");
    }
}

#[tokio::test]
async fn symlink_to_a_file_inside_the_root_is_listed_and_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "real/a.jpg", b"abc");
    symlink(dir.path().join("real/a.jpg"), dir.path().join("alias.jpg")).unwrap();
    symlink(dir.path().join("gone.jpg"), dir.path().join("dangling.jpg")).unwrap();
    let store = LocalStore::open(dir.path()).unwrap();

    assert_eq!(all_keys(&store).await, ["alias.jpg", "real/a.jpg"]);
    assert_eq!(store.get("alias.jpg", 10).await.unwrap().as_ref(), b"abc");
}

#[tokio::test]
async fn symlinked_directories_are_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "elsewhere.jpg", b"x");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "photos/p.jpg", b"x");
    symlink(outside.path(), dir.path().join("outside-link")).unwrap();
    symlink(dir.path().join("photos"), dir.path().join("photos-again")).unwrap();
    // A loop back to the root would never end if links to directories were followed.
    symlink(dir.path(), dir.path().join("photos/loop")).unwrap();
    let store = LocalStore::open(dir.path()).unwrap();

    assert_eq!(all_keys(&store).await, ["photos/p.jpg"]);
    let err = store.head("outside-link/elsewhere.jpg").await.unwrap_err();
    assert!(matches!(err, StorageError::InvalidKey { .. }), "{err}");
}

#[tokio::test]
async fn uri_of_names_the_canonical_root() {
    let dir = tempfile::tempdir().unwrap();
    let canonical = std::fs::canonicalize(dir.path()).unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    assert_eq!(
        store.uri_of("a/b.jpg"),
        format!("file://{}/a/b.jpg", canonical.display())
    );
    assert!(store.uri_of("a/b.jpg").starts_with("file:///"));
}

#[tokio::test]
async fn open_refuses_a_missing_root_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "file.txt", b"x");
    let err = LocalStore::open(&dir.path().join("missing")).unwrap_err();
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    let err = LocalStore::open(&dir.path().join("file.txt")).unwrap_err();
    assert!(matches!(err, StorageError::Fatal { .. }), "{err}");
}

#[tokio::test]
async fn check_reports_a_sample_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    let empty = store.check().await.unwrap();
    assert!(empty.can_list && empty.sample_key.is_none(), "{empty:?}");

    write(dir.path(), "one/x.jpg", b"x");
    let report = store.check().await.unwrap();
    assert!(report.can_list, "{report:?}");
    assert_eq!(report.sample_key.as_deref(), Some("one/x.jpg"));
    assert!(report.message.contains("one/x.jpg"), "{report:?}");
}
