//! What was last sent for a `dedup_key`, so retries cannot run time backwards.
//!
//! The worker delivers the events of one correlation in order, but a failed
//! event is retried later: a `rotation.failed` trigger that met a 503 can come
//! back after the `rotation.completed` that resolved its incident, and would
//! open it again. So after each accepted event the channel notes, in the
//! destination's memory, the action and the event's time under the
//! `dedup_key`. A trigger older than a noted resolve, or a resolve older than a
//! noted trigger, is stale: it is skipped (reported delivered, nothing sent,
//! logged at info). Events of the same action are always sent: a repeated
//! trigger only adds to the open alert, a repeated resolve changes nothing.

use chrono::{DateTime, Utc};
use herald_core::lifecycle::{self, LifecycleNote, Phase, Tie};
use serde::{Deserialize, Serialize};

use crate::request::EventAction;

/// The note kept per `dedup_key`:
/// `{"action":"trigger"|"resolve","time":…,"event":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The last action PagerDuty accepted.
    pub action: EventAction,
    /// The time of the event that caused it.
    pub time: DateTime<Utc>,
    /// That event's id.
    pub event: String,
}

impl LifecycleNote for Note {
    fn phase(&self) -> Phase {
        self.action.phase()
    }

    fn time(&self) -> DateTime<Utc> {
        self.time
    }
}

impl EventAction {
    /// The state the action leaves the alert in.
    fn phase(self) -> Phase {
        match self {
            EventAction::Trigger => Phase::Open,
            EventAction::Resolve => Phase::Closed,
        }
    }
}

impl Note {
    /// The memory key of the note for `dedup_key`.
    pub fn key(dedup_key: &str) -> String {
        format!("pagerduty:{dedup_key}")
    }

    /// Reads a stored note; `None` when it is not one (an older format).
    pub fn parse(text: &str) -> Option<Self> {
        <Self as LifecycleNote>::parse(text)
    }

    /// The stored form.
    pub fn to_text(&self) -> String {
        self.encode()
    }
}

/// The later note that makes an `action` of an event at `time` stale, if any.
pub(crate) fn superseded_by(
    note: Option<&Note>,
    action: EventAction,
    time: DateTime<Utc>,
) -> Option<&Note> {
    lifecycle::stale(note, action.phase(), time, Tie::Send)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    fn note(action: EventAction, time: &str) -> Note {
        Note {
            action,
            time: at(time),
            event: "e".into(),
        }
    }

    #[test]
    fn an_older_trigger_after_a_resolve_is_stale() {
        let resolved = note(EventAction::Resolve, "2026-11-23T14:32:15Z");
        let failed_at = at("2026-11-23T14:30:41Z");
        assert_eq!(
            superseded_by(Some(&resolved), EventAction::Trigger, failed_at),
            Some(&resolved)
        );
        // A new failure after the resolve opens a new incident.
        assert_eq!(
            superseded_by(
                Some(&resolved),
                EventAction::Trigger,
                at("2026-11-23T15:00:00Z")
            ),
            None
        );
        assert_eq!(superseded_by(None, EventAction::Trigger, failed_at), None);
    }

    #[test]
    fn an_older_resolve_after_a_new_trigger_is_stale() {
        let triggered = note(EventAction::Trigger, "2026-11-23T15:00:00Z");
        assert!(
            superseded_by(
                Some(&triggered),
                EventAction::Resolve,
                at("2026-11-23T14:32:15Z")
            )
            .is_some()
        );
        // Repeats of the same action are never stale.
        assert!(
            superseded_by(
                Some(&triggered),
                EventAction::Trigger,
                at("2026-11-23T14:00:00Z")
            )
            .is_none()
        );
    }

    #[test]
    fn notes_keep_their_stored_form() {
        let n = note(EventAction::Resolve, "2026-11-23T14:32:15Z");
        assert_eq!(
            n.to_text(),
            r#"{"action":"resolve","time":"2026-11-23T14:32:15Z","event":"e"}"#
        );
        assert_eq!(Note::parse(&n.to_text()), Some(n));
        assert_eq!(Note::parse("ts=1"), None);
    }
}
