//! Lifecycle notes: what a channel last did to an alert or issue, so lifecycle
//! events that arrive out of turn do not undo each other.
//!
//! The worker delivers the events of one correlation one at a time, but a
//! failed event is retried later: a `rotation.failed` whose open met a 503 can
//! come back after the `rotation.completed` that closed its alert, and would
//! open it again. So a channel with an open/close lifecycle (PagerDuty,
//! Opsgenie, Jira) notes in its [`Memory`](crate::memory::Memory), per
//! correlation, the [`Phase`] it last set and the time of the event that set
//! it. An open older than a noted close, or a close older than a noted open,
//! is [`stale`]: the channel acknowledges it without a request. Events of the
//! same phase are never stale: a repeated open adds to the open alert, a
//! repeated close changes nothing.
//!
//! Each channel keeps its own stored form (its field names, and extra data
//! such as a Jira issue key) and implements [`LifecycleNote`] on it; this
//! module holds the rules they share.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where an event leaves an alert or issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Opened (created, triggered, raised, or updated while open).
    Open,
    /// Closed (resolved).
    Closed,
}

/// How an open meets a noted close of exactly the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tie {
    /// Only a strictly later note makes an event stale.
    Send,
    /// An open as old as a noted close is stale too: the close wins.
    CloseWins,
}

/// A note a channel keeps per correlation: the phase it last set and the time
/// of the event that set it, in the channel's own stored form (JSON).
pub trait LifecycleNote: Sized + Serialize + DeserializeOwned {
    /// The phase the noted event left the alert or issue in.
    fn phase(&self) -> Phase;

    /// The time of the noted event.
    fn time(&self) -> DateTime<Utc>;

    /// Reads a stored note; `None` when it is not one (an older format).
    fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The stored form.
    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Whether a delivered event at `time` should replace the `stored` note: only
/// a note of an older (or equally old) event is replaced, so notes only move
/// forward.
pub fn replaces<N: LifecycleNote>(stored: Option<&N>, time: DateTime<Utc>) -> bool {
    stored.is_none_or(|n| n.time() <= time)
}

/// The later note that makes an event of `phase` at `time` stale, if any: a
/// note of the other phase and a later time (or, with [`Tie::CloseWins`], an
/// open as old as a noted close).
pub fn stale<N: LifecycleNote>(
    stored: Option<&N>,
    phase: Phase,
    time: DateTime<Utc>,
    tie: Tie,
) -> Option<&N> {
    stored.filter(|n| match (phase, n.phase()) {
        (Phase::Open, Phase::Closed) if tie == Tie::CloseWins => n.time() >= time,
        (Phase::Open, Phase::Closed) | (Phase::Closed, Phase::Open) => n.time() > time,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Note {
        state: Phase,
        time: DateTime<Utc>,
    }

    impl LifecycleNote for Note {
        fn phase(&self) -> Phase {
            self.state
        }
        fn time(&self) -> DateTime<Utc> {
            self.time
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    fn note(state: Phase, time: &str) -> Note {
        Note {
            state,
            time: at(time),
        }
    }

    #[test]
    fn an_older_open_after_a_close_is_stale() {
        let closed = note(Phase::Closed, "2026-01-01T10:05:00Z");
        for tie in [Tie::Send, Tie::CloseWins] {
            let early = at("2026-01-01T10:00:00Z");
            assert_eq!(stale(Some(&closed), Phase::Open, early, tie), Some(&closed));
            // A new failure after the close opens a new alert.
            let late = at("2026-01-01T10:06:00Z");
            assert_eq!(stale(Some(&closed), Phase::Open, late, tie), None);
            assert_eq!(stale(None::<&Note>, Phase::Open, early, tie), None);
        }
        let same = at("2026-01-01T10:05:00Z");
        assert_eq!(stale(Some(&closed), Phase::Open, same, Tie::Send), None);
        assert!(stale(Some(&closed), Phase::Open, same, Tie::CloseWins).is_some());
    }

    #[test]
    fn an_older_close_after_an_open_is_stale() {
        let open = note(Phase::Open, "2026-01-01T10:05:00Z");
        for tie in [Tie::Send, Tie::CloseWins] {
            let early = at("2026-01-01T10:00:00Z");
            assert!(stale(Some(&open), Phase::Closed, early, tie).is_some());
            let same = at("2026-01-01T10:05:00Z");
            assert!(stale(Some(&open), Phase::Closed, same, tie).is_none());
            // Repeats of the same phase are never stale.
            assert!(stale(Some(&open), Phase::Open, early, tie).is_none());
        }
        let closed = note(Phase::Closed, "2026-01-01T10:05:00Z");
        let early = at("2026-01-01T10:00:00Z");
        assert!(stale(Some(&closed), Phase::Closed, early, Tie::CloseWins).is_none());
    }

    #[test]
    fn notes_only_move_forward_and_round_trip() {
        let n = note(Phase::Closed, "2026-11-23T14:32:15Z");
        assert!(replaces(None::<&Note>, at("2000-01-01T00:00:00Z")));
        assert!(replaces(Some(&n), at("2026-11-23T14:32:15Z")));
        assert!(!replaces(Some(&n), at("2026-11-23T14:30:41Z")));
        assert_eq!(
            n.encode(),
            r#"{"state":"closed","time":"2026-11-23T14:32:15Z"}"#
        );
        assert_eq!(Note::parse(&n.encode()), Some(n));
        assert_eq!(Note::parse("garbage"), None);
    }
}
