//! The label that ties the events of one incident to one issue.
//!
//! Issue creation is not idempotent, so every issue Herald creates carries a
//! label derived from what the event is about, `herald-<16 hex digits>`: the
//! SHA-256 of the event's correlation; without one, of
//! `<domain>/<resource>[/<environment>]` (`rotation/postgres-prod/production`);
//! without a resource either, of the delivery's idempotency key, so that at
//! least a retried create finds its own issue. Before creating, Herald looks for
//! an open issue with the label.

use herald_core::Envelope;
use sha2::{Digest, Sha256};

/// The label of an event's issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueLabel {
    /// `herald-<hash>`.
    pub value: String,
    /// True when other events can share it (it came from the correlation or
    /// the resource), so a later success event can resolve the issue.
    pub shared: bool,
}

/// The label for `event`; `idempotency_key` is the fallback.
pub fn label(event: &Envelope, idempotency_key: &str) -> IssueLabel {
    let (identity, shared) = if let Some(c) = nonempty(&event.correlation) {
        (format!("correlation:{c}"), true)
    } else if let Some(resource) = nonempty(&event.resource) {
        let domain = event
            .event_type
            .split_once('.')
            .map_or(event.event_type.as_str(), |(d, _)| d);
        let mut key = format!("resource:{domain}/{resource}");
        if let Some(env) = nonempty(&event.environment) {
            key.push('/');
            key.push_str(env);
        }
        (key, true)
    } else {
        (format!("delivery:{idempotency_key}"), false)
    };
    let digest = Sha256::digest(identity.as_bytes());
    IssueLabel {
        value: format!("herald-{}", hex::encode(&digest[..8])),
        shared,
    }
}

/// The trimmed text, when there is some.
fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}
