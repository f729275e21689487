//! The built-in connections: a new workspace gets them in the transaction that creates
//! it, and migration 0004 gives them to workspaces made before it existed. Runs on
//! PostgreSQL and on SQLite.

use loupe_core::connection::{BuiltIn, ConnectionType};
use loupe_core::ids::WorkspaceId;
use loupe_core::page::PageRequest;
use loupe_core::store::{ConnectionStore, MetadataStore};
use loupe_core::time::Timestamp;
use loupe_core::workspace::Workspace;
use loupe_store::testing::TestStore;
use loupe_store::Engine;
use sqlx::{Connection, Executor};

loupe_store::each_engine!(
    TestStore::new;
    new_workspaces_have_both_builtins,
);

#[tokio::test]
async fn migration_adds_builtins_to_old_workspaces_on_postgres() {
    migration_adds_builtins_to_old_workspaces(Engine::Postgres).await;
}

#[tokio::test]
async fn migration_adds_builtins_to_old_workspaces_on_sqlite() {
    migration_adds_builtins_to_old_workspaces(Engine::Sqlite).await;
}

async fn names(store: &TestStore, ws: &WorkspaceId) -> Vec<(String, bool)> {
    let page = PageRequest::parse("connections", Some(100), None).unwrap();
    let mut names: Vec<_> = store
        .store
        .list_connections(ws, &page)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| (c.connection_name, c.built_in))
        .collect();
    names.sort();
    names
}

async fn new_workspaces_have_both_builtins(store: &TestStore) {
    let ws = Workspace {
        workspace_id: WorkspaceId::generate(),
        name: "fresh".into(),
        description: String::new(),
        gmt_create_time: Timestamp::now(),
    };
    store.store.insert_workspace(&ws).await.unwrap();
    assert_eq!(
        names(store, &ws.workspace_id).await,
        [
            ("embedded-vectors".into(), true),
            ("local-model".into(), true)
        ]
    );
    let local = store
        .store
        .get_connection(&ws.workspace_id, &BuiltIn::LocalModel.id(&ws.workspace_id))
        .await
        .unwrap()
        .connection;
    assert_eq!(local.connection_type, ConnectionType::EmbeddingModel);
    assert_eq!(local.configs, BuiltIn::LocalModel.configs());
}

/// Replays migration 0004 over a workspace inserted the way releases before it did
/// (no built-ins), with a user connection that already took the name `local-model`.
async fn migration_adds_builtins_to_old_workspaces(engine: Engine) {
    let store = TestStore::new(engine).await;
    let old = "INSERT INTO workspaces (id, name, description, created_at) VALUES ('ws-old0001', 'old', '', 1000)";
    let user = "INSERT INTO connections (id, workspace_id, name, kind, config, secrets, created_at, modified_at) \
                VALUES ('conn-users0000000000000001', 'ws-old0001', 'local-model', 'ObjectStorage', \
                '{\"configs\":{\"Region\":\"r\"},\"secret_names\":[]}', 'x', 1000, 1000)";
    match engine {
        Engine::Postgres => {
            let mut c = sqlx::PgConnection::connect(&store.url).await.unwrap();
            c.execute(old).await.unwrap();
            c.execute(user.replace("'x'", "'\\x00'::bytea").as_str())
                .await
                .unwrap();
            sqlx::raw_sql(include_str!(
                "../../../migrations/postgres/0004_builtin_connections.sql"
            ))
            .execute(&mut c)
            .await
            .unwrap();
        }
        Engine::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&store.url).await.unwrap();
            c.execute(old).await.unwrap();
            c.execute(user).await.unwrap();
            sqlx::raw_sql(include_str!(
                "../../../migrations/sqlite/0004_builtin_connections.sql"
            ))
            .execute(&mut c)
            .await
            .unwrap();
        }
    }
    let ws = WorkspaceId::from_raw("ws-old0001");
    assert_eq!(
        names(&store, &ws).await,
        [
            ("embedded-vectors".into(), true),
            ("local-model".into(), true),
            ("local-model-users000".into(), false),
        ]
    );
    for builtin in BuiltIn::ALL {
        let c = store
            .store
            .get_connection(&ws, &builtin.id(&ws))
            .await
            .unwrap()
            .connection;
        assert_eq!(c.connection_name, builtin.name());
        assert_eq!(c.connection_type, builtin.connection_type());
        assert_eq!(c.configs, builtin.configs());
        assert_eq!(c.gmt_create_time.millis(), 1000);
    }
    store.cleanup().await;
}
