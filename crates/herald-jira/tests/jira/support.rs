//! Building destinations and events for the tests (on `herald_testkit::channel`).

use chrono::{DateTime, Utc};
use herald_core::memory::Memory;
use herald_core::{DeliveryContext, Envelope};
use herald_jira::Jira;
use herald_testkit::SeedEvent;

/// The time every golden rendering happens at.
pub(crate) fn now() -> DateTime<Utc> {
    herald_testkit::at("2026-11-23T16:00:00Z")
}

/// A Jira destination `jira` with these keys (YAML, indented four spaces).
pub(crate) fn destination(keys: &str) -> Jira {
    herald_testkit::destination("jira", keys)
}

/// A seed event as the worker would see it.
pub(crate) fn envelope(seed: &SeedEvent) -> Envelope {
    herald_testkit::seed_envelope(seed, now())
}

/// An event from native JSON.
pub(crate) fn event(subject: &str, json: &serde_json::Value) -> Envelope {
    herald_testkit::envelope(subject, json.to_string().as_bytes(), now())
}

/// The context of attempt `attempt`, notes kept in `memory`.
pub(crate) fn ctx(event_id: &str, attempt: u32, memory: &Memory) -> DeliveryContext {
    herald_testkit::context("jira", event_id, now(), attempt, memory)
}
