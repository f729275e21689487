//! The worker pool and the job pipelines.
