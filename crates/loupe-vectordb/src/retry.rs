//! Retries for requests to a vector database. The policy is shared with the model
//! connectors, so it lives in `loupe_core::retry`; this module keeps the adapters' paths.

pub use loupe_core::retry::{backoff, retry_after, retryable_status, with_retries, Attempt};
