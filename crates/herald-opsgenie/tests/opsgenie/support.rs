//! Building destinations and events for the tests (on `herald_testkit::channel`).

use chrono::{DateTime, Utc};
use herald_core::memory::Memory;
use herald_core::{DeliveryContext, Envelope};
use herald_opsgenie::Opsgenie;
use herald_testkit::SeedEvent;

/// The time every golden rendering happens at.
pub(crate) fn now() -> DateTime<Utc> {
    herald_testkit::at("2026-11-23T16:00:00Z")
}

/// An Opsgenie destination `og` with these keys (YAML, indented four spaces).
pub(crate) fn destination(keys: &str) -> Opsgenie {
    herald_testkit::destination("og", keys)
}

/// A seed event as the worker would see it.
pub(crate) fn envelope(seed: &SeedEvent) -> Envelope {
    herald_testkit::seed_envelope(seed, now())
}

/// An event from native JSON.
pub(crate) fn event(subject: &str, json: &serde_json::Value) -> Envelope {
    herald_testkit::envelope(subject, json.to_string().as_bytes(), now())
}

/// A first attempt's context, notes kept in `memory`.
pub(crate) fn ctx(event_id: &str, memory: &Memory) -> DeliveryContext {
    herald_testkit::context("og", event_id, now(), 1, memory)
}
