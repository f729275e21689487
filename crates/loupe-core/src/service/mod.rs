//! The domain services: every business rule (roles, validation, naming, tenancy
//! checks) lives here, between the HTTP handlers and the store port.

mod datasets;
mod keys;
mod versions;
mod workspaces;

use std::sync::Arc;

use crate::auth::WorkspaceCtx;
use crate::dataset::LocalRoots;
use crate::store::MetadataStore;
use crate::{Error, ErrorCode, Result};

pub use keys::IssuedKey;

/// The application: the store and the policies the services enforce.
#[derive(Clone)]
pub struct Loupe {
    store: Arc<dyn MetadataStore>,
    local_roots: LocalRoots,
}

impl Loupe {
    /// Wires the services to a store.
    pub fn new(store: Arc<dyn MetadataStore>, local_roots: LocalRoots) -> Self {
        Self { store, local_roots }
    }

    /// The store, for readiness checks.
    pub fn store(&self) -> &dyn MetadataStore {
        self.store.as_ref()
    }
}

/// PAI callers may send `WorkspaceId`; naming any workspace but the key's own answers
/// exactly like a missing one, so it reveals nothing about other tenants.
pub fn check_workspace_param(ctx: &WorkspaceCtx, workspace_id: Option<&str>) -> Result<()> {
    match workspace_id {
        Some(id) if !id.is_empty() && id != ctx.workspace_id().as_str() => Err(Error::new(
            ErrorCode::WorkspaceNotFound,
            format!("workspace '{id}' not found"),
        )),
        _ => Ok(()),
    }
}
