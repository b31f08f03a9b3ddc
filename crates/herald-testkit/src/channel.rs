//! Channel test scaffolding: a destination built from YAML the way the worker
//! builds it, events turned into envelopes, fixed times and contexts, provider
//! answers and the failures they classify into.
//!
//! Every helper panics with the reason when its input is wrong: these are
//! test fixtures, and a panic naming the problem is the clearest failure.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::config::FleetConfig;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::http::HttpReply;
use herald_core::memory::Memory;
use herald_core::outcome::{Failure, Outcome};
use herald_core::worker::prepare;
use herald_core::{Channel, DeliveryContext, Envelope};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;

use crate::seeds::SeedEvent;

/// The example configuration shipped in `deploy/config`.
pub const EXAMPLE_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/config/fleet.example.yaml"
);

/// The file name configuration errors of [`try_destination`] point into
/// (`f.yaml:5: …`).
pub const CONFIG_FILE: &str = "f.yaml";

/// The one destination `name` of channel `C`, subscribed to `rotation.>`, with
/// these further keys (YAML lines indented four spaces, each ending in a
/// newline), built as the worker builds it; the configuration errors, one
/// string, when it does not build.
pub fn try_destination<C: Channel>(name: &str, keys: &str) -> Result<C, String> {
    let yaml = format!(
        "destinations:\n  - name: {name}\n    channel: {}\n    events: [\"rotation.>\"]\n{keys}",
        C::NAME
    );
    let config = FleetConfig::from_yaml(&yaml, CONFIG_FILE).map_err(|e| e.to_string())?;
    prepare::<C>(&config, CONFIG_FILE)
        .map(|mut v| v.remove(0).channel)
        .map_err(|e| e.to_string())
}

/// [`try_destination`], for settings that must build.
///
/// # Panics
/// With the configuration errors, when the destination does not build.
pub fn destination<C: Channel>(name: &str, keys: &str) -> C {
    try_destination(name, keys)
        .unwrap_or_else(|e| panic!("the {} destination {name} builds: {e}", C::NAME))
}

/// The instant of an RFC 3339 timestamp.
///
/// # Panics
/// When `rfc3339` is not one.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not an RFC 3339 time: {e}"))
        .into()
}

/// An event published on `subject` at `published`, as the worker would see it.
///
/// # Panics
/// When the payload does not ingest.
pub fn envelope(subject: &str, payload: &[u8], published: DateTime<Utc>) -> Envelope {
    ingest(
        &RawEvent {
            subject,
            payload,
            headers: None,
            published,
        },
        IngestLimits::default(),
    )
    .unwrap_or_else(|e| panic!("the {subject} event does not ingest: {e}"))
}

/// A seed event published at `published`, as the worker would see it.
///
/// # Panics
/// When the seed does not ingest.
pub fn seed_envelope(seed: &SeedEvent, published: DateTime<Utc>) -> Envelope {
    ingest(
        &RawEvent {
            subject: &seed.subject,
            payload: &seed.payload(),
            headers: None,
            published,
        },
        IngestLimits::default(),
    )
    .unwrap_or_else(|e| panic!("seed {} does not ingest: {e}", seed.name))
}

/// The context of attempt `attempt` of delivering `event_id` to `destination`
/// at `now`, with notes kept in `memory` (scoped to the destination).
pub fn context(
    destination: &str,
    event_id: &str,
    now: DateTime<Utc>,
    attempt: u32,
    memory: &Memory,
) -> DeliveryContext {
    let mut c = DeliveryContext::one_off(destination, event_id, now);
    c.memory = memory.scoped(destination);
    c.attempt = attempt;
    c
}

/// The settings of every `channel` destination of the example configuration
/// ([`EXAMPLE_CONFIG`]), each read as `S`: the example must stay valid.
///
/// # Panics
/// When the example does not parse, or a destination's settings are not `S`.
pub fn example_settings<S: DeserializeOwned>(channel: &str) -> Vec<S> {
    let text =
        std::fs::read_to_string(EXAMPLE_CONFIG).unwrap_or_else(|e| panic!("{EXAMPLE_CONFIG}: {e}"));
    let file = "fleet.example.yaml";
    let config = FleetConfig::from_yaml(&text, file).unwrap_or_else(|e| panic!("{e}"));
    config
        .destinations_for(channel)
        .map(|d| {
            d.settings::<S>(file)
                .unwrap_or_else(|e| panic!("a {channel} destination of {file}: {e:?}"))
        })
        .collect()
}

/// A provider's answer as [`exchange`](herald_core::http::exchange) returns
/// it: `status`, these headers and `body`, with `retry_after` read from a
/// `Retry-After` header in seconds.
///
/// # Panics
/// When a header name or value is not valid.
pub fn http_reply(status: u16, headers: &[(&'static str, &str)], body: &str) -> HttpReply {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let value = HeaderValue::from_str(value)
            .unwrap_or_else(|e| panic!("header {name}: {value:?}: {e}"));
        map.insert(*name, value);
    }
    HttpReply {
        status,
        retry_after: map
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs),
        headers: map,
        body: body.as_bytes().to_vec(),
    }
}

/// The failure a retry or permanent outcome carries.
///
/// # Panics
/// When the outcome is a delivery.
pub fn failure(outcome: &Outcome) -> &Failure {
    match outcome {
        Outcome::Retry(f) | Outcome::Permanent(f) => f,
        Outcome::Delivered { .. } => panic!("delivered: {outcome:?}"),
    }
}
