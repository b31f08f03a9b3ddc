//! What this destination remembers about an alias, so lifecycle events that
//! arrive out of turn do not undo each other.
//!
//! The worker delivers events of one correlation one at a time, but a failed
//! event is retried later: a `rotation.failed` whose create got a 503 can come
//! back after the `rotation.completed` that closed its alert. Each destination
//! therefore notes, per alias, the latest state it set and the time of the
//! event that set it. A create older than a recorded close, or a close older
//! than a recorded create, is stale: it is acknowledged without a request.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::request::Action;

/// The note kept per alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AliasNote {
    /// The last action delivered.
    pub(crate) state: State,
    /// The time of the event that did it.
    pub(crate) time: DateTime<Utc>,
}

/// An alert's state as this destination last set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Created (or counted).
    Open,
    /// Closed.
    Closed,
}

/// The memory key of an alias.
pub(crate) fn key(alias: &str) -> String {
    format!("opsgenie.alias:{alias}")
}

impl AliasNote {
    /// Reads a stored note; `None` when it is not one.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The stored form.
    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The note after `action` for an event at `time` was delivered, or `None`
    /// when the stored note is newer and stays.
    pub(crate) fn after(
        stored: Option<&Self>,
        action: Action,
        time: DateTime<Utc>,
    ) -> Option<Self> {
        if stored.is_some_and(|s| s.time > time) {
            return None;
        }
        let state = match action {
            Action::Create => State::Open,
            Action::Close => State::Closed,
        };
        Some(Self { state, time })
    }
}

/// Why `action` for an event at `time` must not be sent, given the note.
pub(crate) fn stale(
    stored: Option<&AliasNote>,
    action: Action,
    time: DateTime<Utc>,
) -> Option<&'static str> {
    let note = stored?;
    match (action, note.state) {
        (Action::Create, State::Closed) if note.time >= time => {
            Some("a later event already closed this alert")
        }
        (Action::Close, State::Open) if note.time > time => {
            Some("a later event opened this alert again")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    #[test]
    fn stale_events_are_recognised() {
        let closed = AliasNote {
            state: State::Closed,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert!(stale(Some(&closed), Action::Create, at("2026-01-01T10:00:00Z")).is_some());
        assert!(stale(Some(&closed), Action::Create, at("2026-01-01T10:06:00Z")).is_none());
        assert!(stale(Some(&closed), Action::Close, at("2026-01-01T10:00:00Z")).is_none());
        let open = AliasNote {
            state: State::Open,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert!(stale(Some(&open), Action::Close, at("2026-01-01T10:00:00Z")).is_some());
        assert!(stale(Some(&open), Action::Close, at("2026-01-01T10:05:00Z")).is_none());
        assert!(stale(Some(&open), Action::Create, at("2026-01-01T10:00:00Z")).is_none());
        assert!(stale(None, Action::Create, at("2026-01-01T10:00:00Z")).is_none());
    }

    #[test]
    fn notes_only_move_forward() {
        let open = AliasNote {
            state: State::Open,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert_eq!(
            AliasNote::after(Some(&open), Action::Close, at("2026-01-01T10:00:00Z")),
            None
        );
        let closed =
            AliasNote::after(Some(&open), Action::Close, at("2026-01-01T10:06:00Z")).unwrap();
        assert_eq!(closed.state, State::Closed);
        assert_eq!(AliasNote::parse(&closed.encode()), Some(closed));
        assert_eq!(AliasNote::parse("garbage"), None);
    }
}
