//! Black-box tests of the HTTP API. Each test runs on PostgreSQL and on SQLite.

mod auth;
mod bad_input;
mod build;
mod connections;
mod datasets;
mod models;
mod spec;
mod tag_definitions;
mod tenancy;
