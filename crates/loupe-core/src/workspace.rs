//! Workspaces (tenants) and their API keys.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::ids::{ApiKeyId, WorkspaceId};
use crate::time::Timestamp;
use crate::{Error, ErrorCode, Result};

/// Longest workspace name.
pub const MAX_WORKSPACE_NAME: usize = 64;
/// Longest free-text description anywhere in the API.
pub const MAX_DESCRIPTION: usize = 1024;

/// A tenant. Every row of every table belongs to exactly one workspace.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Workspace {
    /// The workspace id.
    pub workspace_id: WorkspaceId,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_create_time: Timestamp,
}

/// The changes `UpdateWorkspace` accepts.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateWorkspace {
    /// New free-text description.
    pub description: Option<String>,
}

/// An API key as listed: never the token, only its first characters.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ApiKey {
    /// The key id, used to revoke it.
    pub key_id: ApiKeyId,
    /// What the key is for.
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// The first characters of the token, to tell keys apart.
    pub key_prefix: String,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_create_time: Timestamp,
    /// When it was revoked, if it was.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub gmt_revoke_time: Option<Timestamp>,
}

/// `CreateApiKey` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewApiKey {
    /// The role of the new key. An admin may create keys up to admin; only an owner may create owner keys.
    pub role: Role,
    /// What the key is for, e.g. "labelling pipeline".
    #[serde(default)]
    pub name: String,
}

/// The answer to `CreateApiKey`: the only time the token is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedApiKey {
    /// The key id.
    pub key_id: ApiKeyId,
    /// The secret token. Store it now: it cannot be shown again.
    pub key: String,
    /// The key's role.
    pub role: Role,
}

/// Checks a workspace name: 1 to 64 characters, letters, digits, `_` and `-`, starting
/// with a letter or digit.
pub fn validate_workspace_name(name: &str) -> Result<()> {
    validate_name("workspace name", name, MAX_WORKSPACE_NAME)
}

/// Shared naming rule for workspaces, datasets and connections, so URLs and exports never need quoting.
pub fn validate_name(what: &str, name: &str, max: usize) -> Result<()> {
    let count = name.chars().count();
    let first_ok = name.chars().next().is_some_and(char::is_alphanumeric);
    let rest_ok = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if count == 0 || count > max || !first_ok || !rest_ok {
        return Err(Error::new(
            ErrorCode::InvalidName,
            format!(
                "{what} '{name}' is invalid: use 1 to {max} letters, digits, '_', '-' or '.', starting with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// Checks a free-text description's length.
pub(crate) fn validate_description(description: &str) -> Result<()> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(Error::invalid(format!(
            "Description is too long: at most {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_naming_rule() {
        assert!(validate_workspace_name("default").is_ok());
        assert!(validate_workspace_name("team-a_2").is_ok());
        for bad in ["", "-lead", "has space", "a/b", &"x".repeat(65)] {
            let err = validate_workspace_name(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidName, "{bad}");
        }
    }
}
