//! Roles, API key tokens and the workspace context every call runs in.
//!
//! A token is 40 random base62 characters (about 238 bits) behind the prefix `lp_`, so
//! a leaked key is easy to recognise in logs and secret scanners. Only its SHA-256 is
//! stored: a fast hash is safe for a high-entropy random token (there is nothing to
//! brute-force), and it keeps key checking off the hot path, unlike a password hash.

use std::str::FromStr;

use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::ids::{ApiKeyId, WorkspaceId};
use crate::{Error, ErrorCode, Result};

/// The prefix of every API key token.
pub const TOKEN_PREFIX: &str = "lp_";
const TOKEN_RANDOM_LEN: usize = 40;
/// How many characters of a token are kept in clear to help people tell keys apart.
const DISPLAY_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 6;

/// What a key may do. Each role includes the rights of the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything in the workspace.
    Viewer,
    /// Also changes data and runs jobs.
    Editor,
    /// Also manages connections and API keys.
    Admin,
    /// Also manages the workspace itself.
    Owner,
}

impl Role {
    /// The lowercase name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(Error::invalid(format!(
                "unknown role '{other}': use owner, admin, editor or viewer"
            ))),
        }
    }
}

/// Who is calling: resolved from the API key by the auth layer, and the only source
/// of the workspace a call may touch.
#[derive(Debug, Clone)]
pub struct WorkspaceCtx {
    workspace_id: WorkspaceId,
    key_id: ApiKeyId,
    role: Role,
}

impl WorkspaceCtx {
    /// Built by the authenticator once a key has been checked.
    pub fn new(workspace_id: WorkspaceId, key_id: ApiKeyId, role: Role) -> Self {
        Self {
            workspace_id,
            key_id,
            role,
        }
    }

    /// The workspace every store call of this request is scoped to.
    pub fn workspace_id(&self) -> &WorkspaceId {
        &self.workspace_id
    }

    /// The key that made the call.
    pub fn key_id(&self) -> &ApiKeyId {
        &self.key_id
    }

    /// The key's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Fails with `PermissionDenied` unless the caller has at least `needed`.
    pub fn require(&self, needed: Role) -> Result<()> {
        if self.role >= needed {
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::PermissionDenied,
            format!(
                "this call needs the {} role; the key has {}",
                needed.as_str(),
                self.role.as_str()
            ),
        ))
    }
}

/// A freshly generated token: the clear text is shown once, the hash is stored.
pub struct NewToken {
    /// The secret, for the caller only.
    pub token: String,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// The first characters, safe to show in listings.
    pub display_prefix: String,
}

impl NewToken {
    /// A new random token.
    pub fn generate() -> Self {
        let random = Alphanumeric.sample_string(&mut rand::thread_rng(), TOKEN_RANDOM_LEN);
        let token = format!("{TOKEN_PREFIX}{random}");
        Self {
            hash: hash_token(&token),
            display_prefix: token[..DISPLAY_PREFIX_LEN].to_string(),
            token,
        }
    }
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a string can be a token at all; anything else is refused before the store is asked.
pub fn looks_like_token(token: &str) -> bool {
    token.len() == TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_recognisable_and_hash_stably() {
        let t = NewToken::generate();
        assert!(looks_like_token(&t.token));
        assert_eq!(hash_token(&t.token), t.hash);
        assert!(t.token.starts_with(&t.display_prefix));
        assert!(!looks_like_token("lp_short"));
        assert!(!looks_like_token(&t.token.replace("lp_", "xx_")));
    }

    #[test]
    fn roles_are_ordered_by_rights() {
        let ctx = WorkspaceCtx::new(WorkspaceId::generate(), ApiKeyId::generate(), Role::Editor);
        assert!(ctx.require(Role::Viewer).is_ok());
        assert!(ctx.require(Role::Editor).is_ok());
        let err = ctx.require(Role::Admin).unwrap_err();
        assert_eq!(err.code(), ErrorCode::PermissionDenied);
    }
}
