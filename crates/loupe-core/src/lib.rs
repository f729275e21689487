//! The Loupe domain: identifiers, workspaces and keys, datasets and versions, the
//! errors every layer speaks, the ports adapters implement, and the services that
//! hold the business rules. Nothing here knows about HTTP or SQL.

pub mod auth;
pub mod connection;
pub mod crypto;
pub mod dataset;
pub mod error;
pub mod file_meta;
pub mod file_tags;
pub mod ids;
pub mod job;
pub mod job_spec;
pub mod model;
pub mod modelconn;
pub mod page;
pub mod pixels;
pub mod query;
pub mod retry;
pub mod search;
pub mod service;
pub mod storage;
pub mod store;
pub mod tag_definition;
pub mod time;
pub mod vector;
pub mod vectordb;
pub mod version;
pub mod workspace;

pub use error::{Category, Error, ErrorCode, Result};
