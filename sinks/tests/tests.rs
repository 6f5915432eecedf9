//! The sinks' integration tests, one binary split by topic (one link, faster CI).

mod common;

mod config;
mod docs;
mod files;
mod lake;
