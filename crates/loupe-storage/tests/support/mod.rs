//! Shared test support.

pub mod s3s_fs;
