//! What this destination remembers about the issue of a label.
//!
//! Two uses. A fast path: right after an issue is created, Jira's search may
//! not list it yet (its index lags), so the key is noted and read back directly
//! (`GET /rest/api/3/issue/{key}`, which is consistent) before searching.
//! And ordering ([`herald_core::lifecycle`]): a failed event is retried later,
//! so a `rotation.failed` can come back after the `rotation.completed` that
//! resolved its issue. The note keeps the latest state Herald set and the time
//! of the event that set it; an event older than a recorded change of the
//! other kind is acknowledged without touching Jira. The search stays the
//! source of truth for what is open.

use chrono::{DateTime, Utc};
use herald_core::lifecycle::{self, LifecycleNote, Phase, Tie};
use serde::{Deserialize, Serialize};

use crate::request::Kind;

/// The note kept per label: `{"key":…,"state":"open"|"resolved","time":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IssueNote {
    /// The issue, when one was found or created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    /// What Herald last did.
    pub(crate) state: State,
    /// The time of the event that did it.
    pub(crate) time: DateTime<Utc>,
}

/// An issue's state as this destination last set it (stored as Jira words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Created or commented.
    Open,
    /// Resolved (or found nothing open to resolve).
    Resolved,
}

impl From<Phase> for State {
    fn from(phase: Phase) -> Self {
        match phase {
            Phase::Open => State::Open,
            Phase::Closed => State::Resolved,
        }
    }
}

impl Kind {
    /// The state an event of this kind leaves the issue in.
    fn phase(self) -> Phase {
        match self {
            Kind::Raise => Phase::Open,
            Kind::Resolve => Phase::Closed,
        }
    }
}

impl LifecycleNote for IssueNote {
    fn phase(&self) -> Phase {
        match self.state {
            State::Open => Phase::Open,
            State::Resolved => Phase::Closed,
        }
    }

    fn time(&self) -> DateTime<Utc> {
        self.time
    }
}

/// The memory key of a label.
pub(crate) fn key(label: &str) -> String {
    format!("jira.label:{label}")
}

impl IssueNote {
    /// The note after an event of `kind` at `time` was delivered to issue
    /// `key`, or `None` when the stored note is newer and stays.
    pub(crate) fn after(
        stored: Option<&Self>,
        kind: Kind,
        time: DateTime<Utc>,
        key: Option<&str>,
    ) -> Option<Self> {
        lifecycle::replaces(stored, time).then(|| Self {
            key: key
                .map(str::to_owned)
                .or_else(|| stored.and_then(|s| s.key.clone())),
            state: kind.phase().into(),
            time,
        })
    }

    /// The issue to read back first: the noted key while Herald left it open.
    pub(crate) fn open_key(&self) -> Option<&str> {
        match self.state {
            State::Open => self.key.as_deref(),
            State::Resolved => None,
        }
    }
}

/// Why an event of `kind` at `time` must not touch Jira, given the note.
pub(crate) fn stale(
    stored: Option<&IssueNote>,
    kind: Kind,
    time: DateTime<Utc>,
) -> Option<&'static str> {
    let later = lifecycle::stale(stored, kind.phase(), time, Tie::CloseWins)?;
    Some(match later.state {
        State::Resolved => "a later event already resolved this issue",
        State::Open => "a later event raised this issue again",
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
        let resolved = IssueNote {
            key: None,
            state: State::Resolved,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert_eq!(
            resolved.encode(),
            r#"{"state":"resolved","time":"2026-01-01T10:05:00Z"}"#
        );
        assert_eq!(
            stale(Some(&resolved), Kind::Raise, at("2026-01-01T10:05:00Z")),
            Some("a later event already resolved this issue")
        );
        let open = IssueNote {
            key: Some("SEC-1".into()),
            state: State::Open,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert_eq!(
            open.encode(),
            r#"{"key":"SEC-1","state":"open","time":"2026-01-01T10:05:00Z"}"#
        );
        assert_eq!(
            stale(Some(&open), Kind::Resolve, at("2026-01-01T10:00:00Z")),
            Some("a later event raised this issue again")
        );
        assert_eq!(open.open_key(), Some("SEC-1"));
    }

    #[test]
    fn notes_only_move_forward_and_keep_the_key() {
        let open = IssueNote {
            key: Some("SEC-1".into()),
            state: State::Open,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert_eq!(
            IssueNote::after(Some(&open), Kind::Resolve, at("2026-01-01T10:00:00Z"), None),
            None
        );
        let r =
            IssueNote::after(Some(&open), Kind::Resolve, at("2026-01-01T10:06:00Z"), None).unwrap();
        assert_eq!(r.key.as_deref(), Some("SEC-1"));
        assert_eq!(r.open_key(), None);
        assert_eq!(IssueNote::parse(&r.encode()), Some(r));
    }
}
