//! What this destination remembers about an alias, so lifecycle events that
//! arrive out of turn do not undo each other (the rules are
//! [`herald_core::lifecycle`]'s): a create older than a recorded close, or a
//! close older than a recorded create, is acknowledged without a request.

use chrono::{DateTime, Utc};
use herald_core::lifecycle::{self, LifecycleNote, Phase, Tie};
use serde::{Deserialize, Serialize};

use crate::request::Action;

/// The note kept per alias: `{"state":"open"|"closed","time":…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AliasNote {
    /// The state the last delivered action left the alert in.
    pub(crate) state: Phase,
    /// The time of the event that did it.
    pub(crate) time: DateTime<Utc>,
}

impl LifecycleNote for AliasNote {
    fn phase(&self) -> Phase {
        self.state
    }

    fn time(&self) -> DateTime<Utc> {
        self.time
    }
}

impl Action {
    /// The state the action leaves the alert in.
    fn phase(self) -> Phase {
        match self {
            Action::Create => Phase::Open,
            Action::Close => Phase::Closed,
        }
    }
}

/// The memory key of an alias.
pub(crate) fn key(alias: &str) -> String {
    format!("opsgenie.alias:{alias}")
}

impl AliasNote {
    /// The note after `action` for an event at `time` was delivered, or `None`
    /// when the stored note is newer and stays.
    pub(crate) fn after(
        stored: Option<&Self>,
        action: Action,
        time: DateTime<Utc>,
    ) -> Option<Self> {
        lifecycle::replaces(stored, time).then_some(Self {
            state: action.phase(),
            time,
        })
    }
}

/// Why `action` for an event at `time` must not be sent, given the note.
pub(crate) fn stale(
    stored: Option<&AliasNote>,
    action: Action,
    time: DateTime<Utc>,
) -> Option<&'static str> {
    let later = lifecycle::stale(stored, action.phase(), time, Tie::CloseWins)?;
    Some(match later.state {
        Phase::Closed => "a later event already closed this alert",
        Phase::Open => "a later event opened this alert again",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    #[test]
    fn the_stored_form_and_reasons_stay() {
        let closed = AliasNote {
            state: Phase::Closed,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert_eq!(
            closed.encode(),
            r#"{"state":"closed","time":"2026-01-01T10:05:00Z"}"#
        );
        assert_eq!(
            stale(Some(&closed), Action::Create, at("2026-01-01T10:05:00Z")),
            Some("a later event already closed this alert")
        );
        let open = AliasNote::after(Some(&closed), Action::Create, at("2026-01-01T10:06:00Z"));
        let open = open.unwrap();
        assert_eq!(
            stale(Some(&open), Action::Close, at("2026-01-01T10:00:00Z")),
            Some("a later event opened this alert again")
        );
        assert_eq!(
            AliasNote::after(Some(&open), Action::Close, at("2026-01-01T10:00:00Z")),
            None
        );
        assert_eq!(AliasNote::parse(&open.encode()), Some(open));
    }
}
