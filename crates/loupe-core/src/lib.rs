//! The Loupe domain: identifiers, workspaces and keys, datasets and versions, the
//! errors every layer speaks, the ports adapters implement, and the services that
//! hold the business rules. Nothing here knows about HTTP or SQL.

pub mod auth;
pub mod dataset;
pub mod error;
pub mod ids;
pub mod page;
pub mod service;
pub mod store;
pub mod time;
pub mod version;
pub mod workspace;

pub use error::{Category, Error, ErrorCode, Result};
