//! `loupe`: the one binary. Subcommands share one configuration loader and one way of
//! opening the store ([`app`]).

mod admin;
mod app;
mod config;
mod master_key;
mod serve;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's allocator: a model's forward pass allocates and frees
/// activation tensors of megabytes each, which glibc hands back to the kernel and
/// faults in again every time (CLIP ViT-B/32 on 64 images: a third of the wall time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "loupe",
    version,
    about = "Self-hosted image dataset management for machine learning"
)]
struct Cli {
    /// A TOML configuration file; `LOUPE_*` environment variables override it.
    #[arg(long, global = true, env = "LOUPE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (applies migrations; on an empty store creates the `default` workspace and prints its owner key).
    Serve,
    /// Run task loops only (LOUPE_WORKERS of them, at least 1), for separate worker replicas.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Manage workspaces and API keys.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        return print_openapi();
    }
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: invalid configuration: {err:#}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve => serve::run(&config).await,
            Command::Worker => serve::run_worker(&config).await,
            Command::Migrate => app::migrate(&config).await,
            Command::Admin(command) => admin::run(&config, command).await,
            Command::Openapi => Ok(()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_openapi() -> ExitCode {
    match serde_json::to_string_pretty(&loupe_api::openapi()) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: cannot render the OpenAPI document: {err}");
            ExitCode::FAILURE
        }
    }
}
