//! What this destination remembers about the issue of a label.
//!
//! Two uses. A fast path: right after an issue is created, Jira's search may
//! not list it yet (its index lags), so the key is noted and read back directly
//! (`GET /rest/api/3/issue/{key}`, which is consistent) before searching.
//! And ordering: the worker delivers events of one correlation one at a time,
//! but a failed event is retried later, so a `rotation.failed` can come back
//! after the `rotation.completed` that resolved its issue. The note keeps the
//! latest state Herald set and the time of the event that set it; an event
//! older than a recorded change of the other kind is acknowledged without
//! touching Jira. The search stays the source of truth for what is open.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::request::Kind;

/// The note kept per label.
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

/// An issue's state as this destination last set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Created or commented.
    Open,
    /// Resolved (or found nothing open to resolve).
    Resolved,
}

/// The memory key of a label.
pub(crate) fn key(label: &str) -> String {
    format!("jira.label:{label}")
}

impl IssueNote {
    /// Reads a stored note; `None` when it is not one.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The stored form.
    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The note after an event of `kind` at `time` was delivered to issue
    /// `key`, or `None` when the stored note is newer and stays.
    pub(crate) fn after(
        stored: Option<&Self>,
        kind: Kind,
        time: DateTime<Utc>,
        key: Option<&str>,
    ) -> Option<Self> {
        if stored.is_some_and(|s| s.time > time) {
            return None;
        }
        Some(Self {
            key: key
                .map(str::to_owned)
                .or_else(|| stored.and_then(|s| s.key.clone())),
            state: match kind {
                Kind::Raise => State::Open,
                Kind::Resolve => State::Resolved,
            },
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
    let note = stored?;
    match (kind, note.state) {
        (Kind::Raise, State::Resolved) if note.time >= time => {
            Some("a later event already resolved this issue")
        }
        (Kind::Resolve, State::Open) if note.time > time => {
            Some("a later event raised this issue again")
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
        let resolved = IssueNote {
            key: None,
            state: State::Resolved,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert!(stale(Some(&resolved), Kind::Raise, at("2026-01-01T10:00:00Z")).is_some());
        assert!(stale(Some(&resolved), Kind::Raise, at("2026-01-01T10:06:00Z")).is_none());
        let open = IssueNote {
            key: Some("SEC-1".into()),
            state: State::Open,
            time: at("2026-01-01T10:05:00Z"),
        };
        assert!(stale(Some(&open), Kind::Resolve, at("2026-01-01T10:00:00Z")).is_some());
        assert!(stale(Some(&open), Kind::Raise, at("2026-01-01T10:00:00Z")).is_none());
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
