//! The metadata store: PostgreSQL for production, SQLite as the embedded default.
//!
//! Both engines run the same statements wherever SQL allows it (`$n` placeholders,
//! `RETURNING`, `ON CONFLICT`, BIGINT milliseconds for time), dispatched through
//! [`on_pool!`]; where the engines differ the code says so and matches on
//! [`Engine`] explicitly. The conformance suite in `tests/` runs against both.

mod connections;
mod datasets;
mod errors;
mod file_metas;
mod jobs;
mod keys;
mod memory_cache;
mod pool;
mod queue;
mod ready;
mod rows;
mod search_page;
mod tag_definitions;
mod tags;
mod versions;
mod work;
mod workspaces;

mod port;

pub use memory_cache::MemoryIndexOptions;
pub use pool::{Engine, SqlStore, StoreOptions};

#[cfg(feature = "testing")]
pub mod testing;
