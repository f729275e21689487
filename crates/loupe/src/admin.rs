//! `loupe admin`: operator commands. `create-key` prints the key alone on standard
//! output so scripts can capture it: `KEY=$(loupe admin create-key …)`.

use anyhow::Result;
use clap::Subcommand;
use loupe_core::auth::Role;
use loupe_core::ids::ApiKeyId;

use crate::app;
use crate::config::Config;

/// The admin subcommands.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a workspace; prints its id.
    CreateWorkspace {
        /// 1 to 64 letters, digits, '_', '-' or '.'.
        name: String,
    },
    /// Create an API key; prints the key alone on standard output.
    CreateKey {
        /// The workspace name.
        #[arg(long)]
        workspace: String,
        /// owner, admin, editor or viewer.
        #[arg(long)]
        role: Role,
        /// What the key is for.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Revoke an API key by id (`ak-…`); it fails from its next request on.
    RevokeKey {
        /// The workspace name.
        #[arg(long)]
        workspace: String,
        /// The key id.
        key_id: String,
    },
}

/// Runs one admin command.
#[expect(
    clippy::print_stdout,
    reason = "the command's result is its standard output"
)]
pub async fn run(config: &Config, command: AdminCommand) -> Result<()> {
    let (loupe, _) = app::build(config, config.listen).await?;
    match command {
        AdminCommand::CreateWorkspace { name } => {
            let workspace = loupe.create_workspace(&name).await?;
            println!("{}", workspace.workspace_id);
        }
        AdminCommand::CreateKey {
            workspace,
            role,
            name,
        } => {
            let key = loupe.create_api_key_for(&workspace, role, &name).await?;
            println!("{}", key.key);
        }
        AdminCommand::RevokeKey { workspace, key_id } => {
            loupe
                .revoke_api_key_for(&workspace, &ApiKeyId::from_raw(key_id))
                .await?;
            eprintln!("revoked");
        }
    }
    Ok(())
}
