//! A rendered Jira delivery: everything `send` may write, decided in advance.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What an event does to the issue of its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Opens an issue, or comments on the open one.
    Raise,
    /// Comments on the open issue and applies `resolve_transition` (a
    /// `success` event, when a transition is configured).
    Resolve,
}

impl Kind {
    /// `raise` or `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Raise => "raise",
            Kind::Resolve => "resolve",
        }
    }
}

/// A rendered delivery. `send` searches for the open issue of `label`, then
/// creates the issue (`create`), or comments on it (`comment`) and, for a
/// resolve, transitions it.
#[derive(Debug, Clone)]
pub struct IssuePlan {
    /// Raise or resolve.
    pub kind: Kind,
    /// `herald-<hash>`: the issue's de-duplication label.
    pub label: String,
    /// Text carried in the description and in comments (the idempotency key):
    /// a retry finds what an attempt that timed out already wrote.
    pub marker: String,
    /// The issue summary.
    pub summary: String,
    /// `POST /rest/api/3/issue` body.
    pub create: Value,
    /// `POST /rest/api/3/issue/{key}/comment` body.
    pub comment: Value,
    /// When the event happened: orders lifecycle events that arrive out of turn.
    pub event_time: DateTime<Utc>,
}
