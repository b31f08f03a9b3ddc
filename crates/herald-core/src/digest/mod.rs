//! Digests: many events sent as one message when a window closes.
//!
//! A destination whose channel reports a [`Schedule`] (`batch: hourly | daily |
//! weekly | <interval>`) does not send each event. The worker appends the event
//! to its open window in the digest stream ([`DigestStore`], durable in
//! JetStream, never in process memory) and acks it. When the window closes, one
//! replica takes the window's lease ([`Leases`], compare-and-set in a key-value
//! bucket), reads the window, and the channel renders the [`Digest`] and sends it
//! once. A worker killed at any moment loses nothing: appends are confirmed
//! before the ack, and a window is purged only after its digest was accepted.
//!
//! # Layout
//! - `schedule`: [`Batch`] and [`Schedule`], when windows close.
//! - `expiry`: the expiry report's rows ([`expiry_items`]).
//! - `store`: the digest stream ([`DigestStore`]).
//! - `lease`: who sends a window ([`Leases`]).

mod expiry;
mod lease;
mod schedule;
mod store;

pub use expiry::{ExpiryItem, ItemKind, expiry_items};
pub use lease::{Claim, Lease, LeaseError, Leases};
pub use schedule::{Batch, Schedule, ScheduleError};
pub use store::{DigestError, DigestStore, Stored};

use chrono::{DateTime, Utc};

use crate::envelope::{Envelope, Severity};

/// The events of one closed window, for a channel to render.
#[derive(Debug, Clone)]
pub struct Digest {
    /// The destination's name.
    pub destination: String,
    /// The schedule, for humans (`weekly on Mon at 07:00 Europe/Prague`).
    pub schedule: String,
    /// When the window opened.
    pub start: DateTime<Utc>,
    /// When it closed.
    pub end: DateTime<Utc>,
    /// Its events, each once, oldest first.
    pub events: Vec<Envelope>,
}

/// The events of a digest that share a type and a severity.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The event type (`rotation.failed`).
    pub event_type: &'a str,
    /// Their severity.
    pub severity: Severity,
    /// Its events, oldest first.
    pub events: Vec<&'a Envelope>,
}

impl Digest {
    /// Builds a digest, keeping each event id once and ordering events by time.
    pub fn new(
        destination: &str,
        schedule: &Schedule,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        events: Vec<Envelope>,
    ) -> Self {
        let mut seen = std::collections::HashSet::new();
        let mut events: Vec<Envelope> = events
            .into_iter()
            .filter(|e| seen.insert(e.id.clone()))
            .collect();
        events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        Self {
            destination: destination.to_owned(),
            schedule: schedule.to_string(),
            start,
            end,
            events,
        }
    }

    /// Events grouped by type and severity: the most severe first, then by type.
    pub fn groups(&self) -> Vec<Group<'_>> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        for e in &self.events {
            match groups
                .iter_mut()
                .find(|g| g.event_type == e.event_type && g.severity == e.severity)
            {
                Some(g) => g.events.push(e),
                None => groups.push(Group {
                    event_type: &e.event_type,
                    severity: e.severity,
                    events: vec![e],
                }),
            }
        }
        groups.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.event_type.cmp(b.event_type))
        });
        groups
    }

    /// How many events of each severity, the most severe first (zero counts left out).
    pub fn severity_counts(&self) -> Vec<(Severity, usize)> {
        Severity::ALL
            .iter()
            .rev()
            .map(|s| (*s, self.events.iter().filter(|e| e.severity == *s).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, kind: &str, severity: &str, time: &str) -> Envelope {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": kind, "time": time, "severity": severity, "title": id, "summary": id
        }))
        .unwrap()
    }

    #[test]
    fn groups_by_type_and_severity_with_each_event_once() {
        let s = Schedule::new(Batch::Hourly, None, None, None)
            .unwrap()
            .unwrap();
        let t = |m: u32| format!("2026-11-24T10:{m:02}:00Z");
        let d = Digest::new(
            "ops-mail",
            &s,
            chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
                .unwrap()
                .into(),
            chrono::DateTime::parse_from_rfc3339("2026-11-24T11:00:00Z")
                .unwrap()
                .into(),
            vec![
                event("b", "rotation.completed", "success", &t(5)),
                event("a", "rotation.failed", "error", &t(1)),
                event("c", "rotation.completed", "success", &t(2)),
                event("a", "rotation.failed", "error", &t(1)),
                event("d", "rotation.failed", "critical", &t(3)),
            ],
        );
        assert_eq!(d.events.len(), 4);
        let g: Vec<(&str, Severity, usize)> = d
            .groups()
            .iter()
            .map(|g| (g.event_type, g.severity, g.events.len()))
            .collect();
        assert_eq!(
            g,
            vec![
                ("rotation.failed", Severity::Critical, 1),
                ("rotation.failed", Severity::Error, 1),
                ("rotation.completed", Severity::Success, 2),
            ]
        );
        assert_eq!(d.groups()[2].events[0].id, "c");
        assert_eq!(
            d.severity_counts(),
            vec![
                (Severity::Critical, 1),
                (Severity::Error, 1),
                (Severity::Success, 2)
            ]
        );
    }
}
