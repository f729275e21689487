//! `loupe serve`: the HTTP API on the configured address.

use anyhow::{Context, Result};
use loupe_api::HttpOptions;

use crate::config::Config;
use crate::{app, master_key};

/// Starts the server and runs until SIGINT or SIGTERM.
pub async fn run(config: &Config) -> Result<()> {
    // Loaded now so a missing or malformed key stops the start, not the first
    // connection that needs it.
    let _master_key =
        master_key::load_or_create(config.master_key_file.as_deref(), &config.data_dir)?;
    let loupe = app::build(config).await?;
    if let Some(key) = loupe.bootstrap().await? {
        announce_bootstrap_key(&key.key);
    }
    let options = HttpOptions {
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout,
    };
    let router = loupe_api::router(loupe, &options);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (LOUPE_LISTEN)", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "loupe is listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    tracing::info!("loupe stopped");
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
