//! Logging to standard error (standard output is kept for keys and the spec), as text
//! or JSON lines. Configuration values are never logged: they may hold secrets.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|err| {
        eprintln!(
            "warning: LOUPE_LOG_LEVEL '{}' is invalid ({err}); using info",
            config.log_level
        );
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
