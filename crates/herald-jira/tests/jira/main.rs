//! Crate-level tests of the Jira channel: the bodies rendered for every seed
//! event, compared with golden files and validated against the ADF schema;
//! and deliveries against a local server that behaves like Jira Cloud.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers too: a panic is the clearest failure message"
)]

mod fake_jira;
mod golden;
mod send;
mod support;
