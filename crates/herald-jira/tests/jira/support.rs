//! Building destinations and events for the tests.

use chrono::{DateTime, Utc};
use herald_core::config::FleetConfig;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::memory::Memory;
use herald_core::worker::prepare;
use herald_core::{DeliveryContext, Envelope};
use herald_jira::Jira;
use herald_testkit::SeedEvent;

/// The time every golden rendering happens at.
pub(crate) fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T16:00:00Z")
        .map(Into::into)
        .unwrap_or_default()
}

/// A Jira destination `jira` with these keys (YAML, indented four spaces).
pub(crate) fn destination(keys: &str) -> Jira {
    let yaml = format!(
        "destinations:\n  - name: jira\n    channel: jira\n    events: [\"rotation.>\"]\n{keys}"
    );
    let config = FleetConfig::from_yaml(&yaml, "test.yaml").unwrap();
    prepare::<Jira>(&config, "test.yaml")
        .unwrap()
        .remove(0)
        .channel
}

/// A seed event as the worker would see it.
pub(crate) fn envelope(seed: &SeedEvent) -> Envelope {
    ingest(
        &RawEvent {
            subject: &seed.subject,
            payload: &seed.payload(),
            headers: None,
            published: now(),
        },
        IngestLimits::default(),
    )
    .unwrap_or_else(|e| panic!("seed {} does not ingest: {e}", seed.name))
}

/// An event from native JSON.
pub(crate) fn event(subject: &str, json: &serde_json::Value) -> Envelope {
    ingest(
        &RawEvent {
            subject,
            payload: json.to_string().as_bytes(),
            headers: None,
            published: now(),
        },
        IngestLimits::default(),
    )
    .unwrap()
}

/// The context of attempt `attempt`, notes kept in `memory`.
pub(crate) fn ctx(event_id: &str, attempt: u32, memory: &Memory) -> DeliveryContext {
    let mut c = DeliveryContext::one_off("jira", event_id, now());
    c.memory = memory.scoped("jira");
    c.attempt = attempt;
    c
}
