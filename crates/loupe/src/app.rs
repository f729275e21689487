//! The one state builder every subcommand shares: open the store, migrate, wire the services.

use std::sync::Arc;

use anyhow::{Context, Result};
use loupe_core::dataset::LocalRoots;
use loupe_core::service::Loupe;
use loupe_store::{SqlStore, StoreOptions};

use crate::config::{database_url, Config};

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

/// The services on an opened store.
pub async fn build(config: &Config) -> Result<Loupe> {
    let store = open_store(config).await?;
    Ok(Loupe::new(
        store,
        LocalRoots::new(config.local_roots.clone()),
    ))
}

/// `loupe migrate`.
pub async fn migrate(config: &Config) -> Result<()> {
    let store = open_store(config).await?;
    store.close().await;
    tracing::info!("migrations applied");
    Ok(())
}
