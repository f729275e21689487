//! The domain services: every business rule (roles, validation, naming, tenancy
//! checks) lives here, between the HTTP handlers and the store port.

mod connections;
mod datasets;
mod file_metas;
mod indexing;
mod jobs;
mod keys;
mod links;
mod models;
mod search;
mod statistics;
mod tag_definitions;
mod tag_edits;
mod versions;
mod workspaces;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::WorkspaceCtx;
use crate::crypto::SecretBox;
use crate::dataset::LocalRoots;
use crate::model::ModelOpener;
use crate::storage::StorageOpener;
use crate::store::Store;
use crate::vector::VectorStoreOpener;
use crate::{Error, ErrorCode, Result};

pub use file_metas::{FileMetaList, NewFileMetas, OpenedFile};
pub use indexing::{index_set_id, IndexTarget};
pub use keys::IssuedKey;
pub use links::{FileRef, LinkKind, LinkSignature};
pub use search::{DEFAULT_TOP_K, MAX_CANDIDATES, MAX_TOP_K, VECTOR_LIST};
pub use statistics::StatisticsRequest;

/// Policies and limits the services enforce.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Folders `file://` datasets may live under.
    pub local_roots: LocalRoots,
    /// Most files one version may hold.
    pub max_files_per_version: i64,
    /// How long signed download and thumbnail links stay valid.
    pub link_ttl: Duration,
    /// The address clients reach this server at, for signed links (no trailing slash).
    pub public_url: String,
    /// Largest filter result a ranked search hands the vector store as its candidates;
    /// beyond it the store ranks the whole set and the filter is applied to the hits.
    pub max_search_candidates: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            local_roots: LocalRoots::default(),
            max_files_per_version: 1_000_000,
            link_ttl: Duration::from_secs(3600),
            public_url: "http://127.0.0.1:8080".to_string(),
            max_search_candidates: search::MAX_CANDIDATES,
        }
    }
}

/// The application: the store, the storage, vector-database and model adapters, the secret box
/// and the policies the services enforce.
#[derive(Clone)]
pub struct Loupe {
    store: Arc<dyn Store>,
    opener: Arc<dyn StorageOpener>,
    vector_opener: Arc<dyn VectorStoreOpener>,
    model_opener: Arc<dyn ModelOpener>,
    secrets: SecretBox,
    settings: Arc<Settings>,
}

impl Loupe {
    /// Wires the services.
    pub fn new(
        store: Arc<dyn Store>,
        opener: Arc<dyn StorageOpener>,
        vector_opener: Arc<dyn VectorStoreOpener>,
        model_opener: Arc<dyn ModelOpener>,
        secrets: SecretBox,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            opener,
            vector_opener,
            model_opener,
            secrets,
            settings: Arc::new(settings),
        }
    }

    /// The store (readiness checks, workers).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
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
