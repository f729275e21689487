//! API keys: issued with a role, shown once, stored as a hash, revocable.

use crate::auth::{NewToken, Role, WorkspaceCtx};
use crate::ids::{ApiKeyId, WorkspaceId};
use crate::page::{Page, PageRequest};
use crate::store::ApiKeyRecord;
use crate::time::Timestamp;
use crate::workspace::{ApiKey, CreatedApiKey, NewApiKey};
use crate::{Error, ErrorCode, Result};

use super::Loupe;

/// Longest key name.
const MAX_KEY_NAME: usize = 128;

/// A key just issued: the only moment its token exists outside the caller's hands.
pub type IssuedKey = CreatedApiKey;

impl IssuedKey {
    pub(super) fn prepare(role: Role, name: &str) -> (ApiKeyRecord, String) {
        let token = NewToken::generate();
        let record = ApiKeyRecord {
            key_id: ApiKeyId::generate(),
            name: name.to_string(),
            role,
            token_hash: token.hash,
            display_prefix: token.display_prefix,
            created: Timestamp::now(),
        };
        (record, token.token)
    }

    pub(super) fn from_record(record: &ApiKeyRecord, token: String) -> Self {
        Self {
            key_id: record.key_id.clone(),
            key: token,
            role: record.role,
        }
    }
}

impl Loupe {
    /// Issues a key in the caller's workspace. Admins may issue keys up to their own
    /// role, so nobody can mint more rights than they hold.
    pub async fn create_api_key(&self, ctx: &WorkspaceCtx, new: &NewApiKey) -> Result<IssuedKey> {
        ctx.require(Role::Admin)?;
        ctx.require(new.role)?;
        self.issue_key(ctx.workspace_id(), new.role, &new.name)
            .await
    }

    /// Issues a key in a named workspace (command line).
    pub async fn create_api_key_for(
        &self,
        workspace: &str,
        role: Role,
        name: &str,
    ) -> Result<IssuedKey> {
        let ws = self.workspace_by_name(workspace).await?;
        self.issue_key(&ws.workspace_id, role, name).await
    }

    async fn issue_key(&self, ws: &WorkspaceId, role: Role, name: &str) -> Result<IssuedKey> {
        if name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control) {
            return Err(Error::invalid(format!(
                "key Name must be at most {MAX_KEY_NAME} printable characters"
            )));
        }
        let (record, token) = IssuedKey::prepare(role, name);
        self.store.insert_api_key(ws, &record).await?;
        Ok(IssuedKey::from_record(&record, token))
    }

    /// Lists the caller's workspace keys (never their tokens).
    pub async fn list_api_keys(
        &self,
        ctx: &WorkspaceCtx,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>> {
        ctx.require(Role::Admin)?;
        self.store.list_api_keys(ctx.workspace_id(), page).await
    }

    /// Revokes one of the caller's workspace keys; it fails on its next use.
    pub async fn revoke_api_key(&self, ctx: &WorkspaceCtx, key_id: &ApiKeyId) -> Result<()> {
        ctx.require(Role::Admin)?;
        self.store
            .revoke_api_key(ctx.workspace_id(), key_id, Timestamp::now())
            .await
    }

    /// Revokes a key of a named workspace (command line).
    pub async fn revoke_api_key_for(&self, workspace: &str, key_id: &ApiKeyId) -> Result<()> {
        let ws = self.workspace_by_name(workspace).await?;
        self.store
            .revoke_api_key(&ws.workspace_id, key_id, Timestamp::now())
            .await
    }

    /// Resolves a bearer token to its context; `InvalidApiKey` for anything unknown or revoked.
    pub async fn authenticate(&self, token: &str) -> Result<WorkspaceCtx> {
        let invalid = || {
            Error::new(
                ErrorCode::InvalidApiKey,
                "the API key is invalid or revoked: send Authorization: Bearer lp_… with a current key",
            )
        };
        if !crate::auth::looks_like_token(token) {
            return Err(invalid());
        }
        let hash = crate::auth::hash_token(token);
        self.store.authenticate(&hash).await?.ok_or_else(invalid)
    }
}
