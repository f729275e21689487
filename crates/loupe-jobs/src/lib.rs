//! The worker pool and the job pipelines, and the image code they share with the API
//! (header probing, thumbnails).
//!
//! A worker claims one task at a time under a lease, heartbeats while it runs, and
//! finishes it fenced by its attempt number; see [`worker`]. Pipelines turn a task into
//! an outcome; see [`build`] for `FileMetaBuild`, [`index`] for `SemanticIndex`, [`tag`]
//! for `IntelligentTag` and its revert, and [`work`] for what the last three share.

pub mod build;
pub mod index;
pub mod media;
pub mod tag;
pub mod work;
pub mod worker;

pub use worker::{WorkerOptions, WorkerPool};
