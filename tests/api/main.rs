//! Black-box tests of the HTTP API. Each test runs on PostgreSQL and on SQLite.

mod auth;
mod bad_input;
mod build;
mod connections;
mod datasets;
mod file_meta_tags;
mod image_urls;
mod indexing;
mod job_faults;
mod models;
mod ranked_overfetch;
mod search;
mod spec;
mod tag_definitions;
mod tagging;
mod tenancy;
