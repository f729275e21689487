//! The store conformance suite: every test runs once on PostgreSQL and once on SQLite.

use loupe_core::auth::{NewToken, Role};
use loupe_core::dataset::{Dataset, DatasetUpdate, IndexConfigUpdate, Label, StoredIndexConfig};
use loupe_core::ids::{ApiKeyId, DatasetId, WorkspaceId};
use loupe_core::page::PageRequest;
use loupe_core::store::{ApiKeyRecord, DatasetFilter, MetadataStore};
use loupe_core::time::Timestamp;
use loupe_core::version::VersionName;
use loupe_core::workspace::Workspace;
use loupe_core::ErrorCode;
use loupe_store::testing::TestStore;

loupe_store::each_engine!(
    TestStore::new;
    ready_after_migrations,
    bootstrap_runs_once,
    workspace_names_are_unique,
    revoked_keys_stop_authenticating_at_once,
    keys_are_scoped_to_their_workspace,
    datasets_round_trip,
    dataset_names_are_unique_per_workspace,
    datasets_of_other_workspaces_are_invisible,
    dataset_list_pages_and_filters,
    version_numbers_are_never_reused,
    concurrent_version_creation_gives_distinct_numbers,
    versions_report_the_missing_part,
    deleting_a_dataset_deletes_its_versions,
);

fn workspace(name: &str) -> Workspace {
    Workspace {
        workspace_id: WorkspaceId::generate(),
        name: name.into(),
        description: String::new(),
        gmt_create_time: Timestamp::now(),
    }
}

fn key(role: Role) -> (ApiKeyRecord, String) {
    let token = NewToken::generate();
    let record = ApiKeyRecord {
        key_id: ApiKeyId::generate(),
        name: "test".into(),
        role,
        token_hash: token.hash,
        display_prefix: token.display_prefix,
        created: Timestamp::now(),
    };
    (record, token.token)
}

fn dataset(name: &str, created: i64) -> Dataset {
    let dataset_id = DatasetId::generate();
    Dataset {
        // Not stored: the store reads it back from its own columns.
        index_config: StoredIndexConfig::default()
            .resolve(&WorkspaceId::from_raw("ws-unused"), &dataset_id),
        dataset_id,
        name: name.into(),
        description: "frames".into(),
        labels: vec![Label {
            key: "team".into(),
            value: "perception".into(),
        }],
        uri: "s3://bucket/frames".into(),
        data_type: Default::default(),
        property: Default::default(),
        dataset_type: Default::default(),
        connection_id: Some("conn-1".into()),
        gmt_create_time: Timestamp::from_millis(created),
        gmt_modified_time: Timestamp::from_millis(created),
    }
}

async fn new_workspace(store: &dyn MetadataStore, name: &str) -> WorkspaceId {
    let ws = workspace(name);
    store.insert_workspace(&ws).await.unwrap();
    ws.workspace_id
}

fn v(n: i64) -> VersionName {
    VersionName::from_number(n)
}

async fn ready_after_migrations(t: &TestStore) {
    t.store.check_ready().await.unwrap();
}

async fn bootstrap_runs_once(t: &TestStore) {
    let (owner, _) = key(Role::Owner);
    assert!(t
        .store
        .bootstrap(&workspace("default"), &owner)
        .await
        .unwrap());
    let (again, _) = key(Role::Owner);
    assert!(!t
        .store
        .bootstrap(&workspace("default"), &again)
        .await
        .unwrap());
    assert!(t
        .store
        .authenticate(&owner.token_hash)
        .await
        .unwrap()
        .is_some());
    assert!(t
        .store
        .authenticate(&again.token_hash)
        .await
        .unwrap()
        .is_none());
}

async fn workspace_names_are_unique(t: &TestStore) {
    new_workspace(t.store.as_ref(), "team-a").await;
    let err = t
        .store
        .insert_workspace(&workspace("team-a"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::WorkspaceAlreadyExists);
    let found = t.store.find_workspace_by_name("team-a").await.unwrap();
    assert_eq!(found.unwrap().name, "team-a");
    assert!(t
        .store
        .find_workspace_by_name("nope")
        .await
        .unwrap()
        .is_none());
}

async fn revoked_keys_stop_authenticating_at_once(t: &TestStore) {
    let ws = new_workspace(t.store.as_ref(), "w").await;
    let (record, _) = key(Role::Editor);
    t.store.insert_api_key(&ws, &record).await.unwrap();
    let ctx = t
        .store
        .authenticate(&record.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.workspace_id(), &ws);
    assert_eq!(ctx.role(), Role::Editor);
    t.store
        .revoke_api_key(&ws, &record.key_id, Timestamp::now())
        .await
        .unwrap();
    assert!(t
        .store
        .authenticate(&record.token_hash)
        .await
        .unwrap()
        .is_none());
    let err = t
        .store
        .revoke_api_key(&ws, &record.key_id, Timestamp::now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ApiKeyNotFound);
    let listed = t
        .store
        .list_api_keys(&ws, &PageRequest::first(10))
        .await
        .unwrap();
    assert!(listed.items[0].gmt_revoke_time.is_some());
}

async fn keys_are_scoped_to_their_workspace(t: &TestStore) {
    let a = new_workspace(t.store.as_ref(), "a").await;
    let b = new_workspace(t.store.as_ref(), "b").await;
    for _ in 0..3 {
        t.store
            .insert_api_key(&a, &key(Role::Viewer).0)
            .await
            .unwrap();
    }
    let (b_key, _) = key(Role::Admin);
    t.store.insert_api_key(&b, &b_key).await.unwrap();
    let err = t
        .store
        .revoke_api_key(&a, &b_key.key_id, Timestamp::now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ApiKeyNotFound);
    let first = t
        .store
        .list_api_keys(&a, &PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!((first.items.len(), first.total_count), (2, 3));
    let token = first.next_token.unwrap();
    let rest = PageRequest::parse("api_keys", Some(2), Some(&token)).unwrap();
    let second = t.store.list_api_keys(&a, &rest).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert!(second.next_token.is_none());
}

async fn datasets_round_trip(t: &TestStore) {
    let ws = new_workspace(t.store.as_ref(), "w").await;
    let d = dataset("dashcam", 1_000);
    t.store.insert_dataset(&ws, &d).await.unwrap();
    let got = t.store.get_dataset(&ws, &d.dataset_id).await.unwrap();
    assert_eq!(got.name, "dashcam");
    assert_eq!(got.labels, d.labels);
    assert_eq!(got.connection_id.as_deref(), Some("conn-1"));
    assert_eq!(got.gmt_create_time, d.gmt_create_time);

    let update = DatasetUpdate {
        description: Some("night frames".into()),
        ..Default::default()
    };
    let changed = t
        .store
        .update_dataset(&ws, &d.dataset_id, &update, Timestamp::from_millis(2_000))
        .await
        .unwrap();
    assert_eq!(changed.name, "dashcam", "fields not given stay");
    assert_eq!(changed.description, "night frames");
    assert_eq!(changed.gmt_modified_time.millis(), 2_000);

    // The index configuration reads as the workspace's built-ins until set; "" resets.
    let defaults = StoredIndexConfig::default().resolve(&ws, &d.dataset_id);
    assert_eq!(got.index_config, defaults);
    let set = |name: &str, embedding: Option<&str>| DatasetUpdate {
        index_config: Some(IndexConfigUpdate {
            index_name: Some(name.into()),
            embedding_connection_id: embedding.map(Into::into),
            vector_connection_id: None,
        }),
        ..Default::default()
    };
    let at = Timestamp::from_millis(3_000);
    let changed = t
        .store
        .update_dataset(&ws, &d.dataset_id, &set("frames", Some("conn-x")), at)
        .await
        .unwrap();
    assert_eq!(changed.index_config.index_name, "frames");
    assert_eq!(changed.index_config.embedding_connection_id, "conn-x");
    assert_eq!(
        changed.index_config.vector_connection_id,
        defaults.vector_connection_id
    );
    assert_eq!(changed.description, "night frames", "fields not given stay");
    let reset = t
        .store
        .update_dataset(&ws, &d.dataset_id, &set("", None), at)
        .await
        .unwrap();
    assert_eq!(reset.index_config.index_name, defaults.index_name);
    assert_eq!(reset.index_config.embedding_connection_id, "conn-x");

    t.store.delete_dataset(&ws, &d.dataset_id).await.unwrap();
    let err = t.store.get_dataset(&ws, &d.dataset_id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DatasetNotFound);
    let err = t
        .store
        .delete_dataset(&ws, &d.dataset_id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DatasetNotFound);
}

async fn dataset_names_are_unique_per_workspace(t: &TestStore) {
    let a = new_workspace(t.store.as_ref(), "a").await;
    let b = new_workspace(t.store.as_ref(), "b").await;
    t.store
        .insert_dataset(&a, &dataset("cones", 1))
        .await
        .unwrap();
    let err = t
        .store
        .insert_dataset(&a, &dataset("cones", 2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DatasetAlreadyExists);
    t.store
        .insert_dataset(&b, &dataset("cones", 3))
        .await
        .unwrap();

    let other = dataset("lanes", 4);
    t.store.insert_dataset(&a, &other).await.unwrap();
    let rename = DatasetUpdate {
        name: Some("cones".into()),
        ..Default::default()
    };
    let err = t
        .store
        .update_dataset(&a, &other.dataset_id, &rename, Timestamp::now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DatasetAlreadyExists);
}

async fn datasets_of_other_workspaces_are_invisible(t: &TestStore) {
    let a = new_workspace(t.store.as_ref(), "a").await;
    let b = new_workspace(t.store.as_ref(), "b").await;
    let d = dataset("private", 1);
    t.store.insert_dataset(&a, &d).await.unwrap();
    let id = &d.dataset_id;
    let not_found = |code: ErrorCode| assert_eq!(code, ErrorCode::DatasetNotFound);
    not_found(t.store.get_dataset(&b, id).await.unwrap_err().code());
    let update = DatasetUpdate::default();
    not_found(
        t.store
            .update_dataset(&b, id, &update, Timestamp::now())
            .await
            .unwrap_err()
            .code(),
    );
    not_found(t.store.delete_dataset(&b, id).await.unwrap_err().code());
    not_found(
        t.store
            .create_version(&b, id, "", Timestamp::now(), None)
            .await
            .unwrap_err()
            .code(),
    );
    not_found(
        t.store
            .list_versions(&b, id, &PageRequest::first(10))
            .await
            .unwrap_err()
            .code(),
    );
    let listed = t
        .store
        .list_datasets(&b, &DatasetFilter::default(), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.total_count, 0);
    t.store.get_dataset(&a, id).await.unwrap();
}

async fn dataset_list_pages_and_filters(t: &TestStore) {
    let ws = new_workspace(t.store.as_ref(), "w").await;
    // Two datasets share a creation time, so the id must break the tie.
    for (name, created) in [
        ("cones_day", 10),
        ("cones-night", 20),
        ("lanes", 20),
        ("100%", 30),
    ] {
        t.store
            .insert_dataset(&ws, &dataset(name, created))
            .await
            .unwrap();
    }
    let all = DatasetFilter::default();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = PageRequest::parse("datasets", Some(1), token.as_deref()).unwrap();
        let got = t.store.list_datasets(&ws, &all, &page).await.unwrap();
        assert_eq!(got.total_count, 4);
        seen.extend(got.items.iter().map(|d| d.name.clone()));
        token = got.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 4, "every dataset exactly once: {seen:?}");
    assert_eq!(seen[0], "100%", "newest first");
    assert_eq!(seen[3], "cones_day");

    let cones = DatasetFilter {
        name_contains: Some("CONES".into()),
    };
    let got = t
        .store
        .list_datasets(&ws, &cones, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(got.total_count, 2);
    let literal = DatasetFilter {
        name_contains: Some("_".into()),
    };
    let got = t
        .store
        .list_datasets(&ws, &literal, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        got.items.len(),
        1,
        "'_' is matched literally, not as a wildcard"
    );
    let percent = DatasetFilter {
        name_contains: Some("%".into()),
    };
    let got = t
        .store
        .list_datasets(&ws, &percent, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(got.items[0].name, "100%");
}

async fn version_numbers_are_never_reused(t: &TestStore) {
    let ws = new_workspace(t.store.as_ref(), "w").await;
    let d = dataset("d", 1);
    t.store.insert_dataset(&ws, &d).await.unwrap();
    let id = &d.dataset_id;
    for n in 1..=3 {
        let version = t
            .store
            .create_version(&ws, id, "snap", Timestamp::now(), None)
            .await
            .unwrap();
        assert_eq!(version.version_name, v(n));
        assert_eq!(version.data_count, 0);
    }
    t.store.delete_version(&ws, id, v(3)).await.unwrap();
    let next = t
        .store
        .create_version(&ws, id, "", Timestamp::now(), None)
        .await
        .unwrap();
    assert_eq!(next.version_name.to_string(), "v4");

    let page = t
        .store
        .list_versions(&ws, id, &PageRequest::first(2))
        .await
        .unwrap();
    let names: Vec<String> = page
        .items
        .iter()
        .map(|x| x.version_name.to_string())
        .collect();
    assert_eq!(names, ["v1", "v2"]);
    assert_eq!(page.total_count, 3);
    let rest = PageRequest::parse("versions", Some(2), page.next_token.as_deref()).unwrap();
    let page = t.store.list_versions(&ws, id, &rest).await.unwrap();
    assert_eq!(page.items[0].version_name.to_string(), "v4");
    assert!(page.next_token.is_none());

    let changed = t
        .store
        .update_version_description(&ws, id, v(1), "first", Timestamp::now())
        .await
        .unwrap();
    assert_eq!(changed.description, "first");
}

async fn concurrent_version_creation_gives_distinct_numbers(t: &TestStore) {
    let ws = new_workspace(t.store.as_ref(), "w").await;
    let d = dataset("d", 1);
    t.store.insert_dataset(&ws, &d).await.unwrap();
    let store: &dyn MetadataStore = t.store.as_ref();
    let creations =
        (0..8).map(|_| store.create_version(&ws, &d.dataset_id, "", Timestamp::now(), None));
    let results = futures::future::join_all(creations).await;
    let mut numbers: Vec<i64> = results
        .into_iter()
        .map(|r| r.unwrap().version_name.number())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
}

async fn versions_report_the_missing_part(t: &TestStore) {
    let ws = new_workspace(t.store.as_ref(), "w").await;
    let d = dataset("d", 1);
    t.store.insert_dataset(&ws, &d).await.unwrap();
    let err = t
        .store
        .get_version(&ws, &d.dataset_id, v(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DatasetVersionNotFound);
    let missing = DatasetId::from_raw("d-missing");
    let err = t.store.get_version(&ws, &missing, v(1)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DatasetNotFound);
    let err = t
        .store
        .delete_version(&ws, &d.dataset_id, v(9))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DatasetVersionNotFound);
}

async fn deleting_a_dataset_deletes_its_versions(t: &TestStore) {
    let ws = new_workspace(t.store.as_ref(), "w").await;
    let d = dataset("d", 1);
    t.store.insert_dataset(&ws, &d).await.unwrap();
    t.store
        .create_version(&ws, &d.dataset_id, "", Timestamp::now(), None)
        .await
        .unwrap();
    t.store.delete_dataset(&ws, &d.dataset_id).await.unwrap();
    // Re-creating a dataset with the same id must not see the old versions.
    t.store.insert_dataset(&ws, &d).await.unwrap();
    let page = t
        .store
        .list_versions(&ws, &d.dataset_id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.total_count, 0);
}

/// PostgreSQL wakes idle workers of every replica through `NOTIFY`; here a second
/// store (another replica) enqueues and the first one's wake-up fires.
#[tokio::test]
async fn postgres_notify_wakes_other_replicas() {
    let t = TestStore::postgres().await;
    t.store.listen_for_jobs().await.unwrap();
    let wake = t.store.job_wakeups();
    let woken = wake.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    let other = loupe_store::SqlStore::connect(&t.url, &Default::default())
        .await
        .unwrap();
    let ws = new_workspace(t.store.as_ref(), "w").await;
    let d = dataset("d", 1);
    t.store.insert_dataset(&ws, &d).await.unwrap();
    t.store
        .create_version(&ws, &d.dataset_id, "", Timestamp::now(), None)
        .await
        .unwrap();
    let job = loupe_core::job::DatasetJob {
        dataset_job_id: loupe_core::ids::JobId::generate(),
        dataset_id: d.dataset_id.clone(),
        dataset_version: "v1".into(),
        job_action: loupe_core::job::JobAction::FileMetaBuild,
        job_mode: Default::default(),
        job_spec: serde_json::json!({}),
        description: String::new(),
        status: loupe_core::job::JobStatus::Pending,
        total_file_count: 0,
        completed_file_count: 0,
        failed_file_count: 0,
        message: String::new(),
        create_time: Timestamp::now(),
        start_time: None,
        finish_time: None,
    };
    let record = loupe_core::store::NewJobRecord {
        job,
        version: v(1),
        idempotency_key: None,
        tasks: loupe_core::job::initial_tasks(loupe_core::job::JobAction::FileMetaBuild),
    };
    use loupe_core::store::JobStore;
    other.create_job(&ws, &record).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), woken)
        .await
        .expect("the other replica's NOTIFY woke this one");
    other.close().await;
    t.cleanup().await;
}
