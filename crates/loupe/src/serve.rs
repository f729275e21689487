//! `loupe serve`: the HTTP API on the configured address.

use anyhow::{Context, Result};
use loupe_api::{HttpOptions, ThumbnailCache};

use crate::app;
use crate::config::Config;

/// Starts the server and runs until SIGINT or SIGTERM.
pub async fn run(config: &Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (LOUPE_LISTEN)", config.listen))?;
    let (loupe, store) = app::build(config, listener.local_addr()?).await?;
    if let Some(key) = loupe.bootstrap().await? {
        announce_bootstrap_key(&key.key);
    }
    app::prepare_local_model(config, &loupe);
    let options = HttpOptions {
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout,
        thumbnail_cache: Some(thumbnail_cache(config)?),
    };
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    let workers = if config.workers > 0 {
        let pool = app::worker_pool(config, &loupe, &store, config.workers).await?;
        let mut stopped = workers_stopped.clone();
        Some(tokio::spawn(pool.run(async move {
            let _ = stopped.changed().await;
        })))
    } else {
        None
    };
    let router = loupe_api::router(loupe, &options);
    tracing::info!(address = %listener.local_addr()?, "loupe is listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    let _ = stop_workers.send(true);
    if let Some(workers) = workers {
        let _ = workers.await;
    }
    drop(workers_stopped);
    tracing::info!("loupe stopped");
    Ok(())
}

/// Rendered thumbnails are cached under the data folder, up to `LOUPE_THUMBNAIL_CACHE_MB`.
fn thumbnail_cache(config: &Config) -> Result<std::sync::Arc<ThumbnailCache>> {
    let dir = config.data_dir.join("thumbnails");
    let cache =
        ThumbnailCache::open(&dir, config.thumbnail_cache_mb * 1024 * 1024).with_context(|| {
            format!(
                "cannot open the thumbnail cache {} (LOUPE_DATA_DIR)",
                dir.display()
            )
        })?;
    Ok(std::sync::Arc::new(cache))
}

/// `loupe worker`: task loops only, until SIGINT or SIGTERM.
pub async fn run_worker(config: &Config) -> Result<()> {
    let (loupe, store) = app::build(config, config.listen).await?;
    app::prepare_local_model(config, &loupe);
    let pool = app::worker_pool(config, &loupe, &store, config.workers.max(1)).await?;
    pool.run(shutdown_signal()).await;
    Ok(())
}

/// The first owner key goes to standard output, once, never to the log.
#[expect(
    clippy::print_stdout,
    reason = "the key is shown to the operator exactly once"
)]
fn announce_bootstrap_key(key: &str) {
    println!(
        "Created workspace \"default\". Its owner API key is shown only this once; store it now:"
    );
    println!("{key}");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
