//! The alert's alias: what ties the events of one incident together.
//!
//! Opsgenie keeps one open alert per alias: a repeat with the same alias only
//! raises the open alert's count, and a close by alias closes it. The alias is
//! the event's correlation; without one, `<domain>/<resource>[/<environment>]`
//! (`rotation/postgres-prod/production`), so lifecycle events of one resource
//! still meet; without a resource either, the delivery's idempotency key, so a
//! retried create cannot open a second alert.

use herald_core::Envelope;
use sha2::{Digest, Sha256};

use crate::limits::{self, one_line};

/// The alias of an event's alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The value sent to Opsgenie (at most 512 characters).
    pub value: String,
    /// True when other events can share it (it came from the correlation or the
    /// resource), so a later success event can close the alert.
    pub shared: bool,
}

/// The alias for `event`; `idempotency_key` is the fallback.
pub fn alias(event: &Envelope, idempotency_key: &str) -> Alias {
    if let Some(c) = nonempty(&event.correlation) {
        return Alias {
            value: bounded(&one_line(c)),
            shared: true,
        };
    }
    if let Some(resource) = nonempty(&event.resource) {
        let domain = event
            .event_type
            .split_once('.')
            .map_or(event.event_type.as_str(), |(d, _)| d);
        let mut key = format!("{domain}/{resource}");
        if let Some(env) = nonempty(&event.environment) {
            key.push('/');
            key.push_str(env);
        }
        return Alias {
            value: bounded(&one_line(&key)),
            shared: true,
        };
    }
    Alias {
        value: idempotency_key.to_owned(),
        shared: false,
    }
}

/// `key` itself when it fits, else `herald-<sha256 hex>` (stable, 71 characters).
fn bounded(key: &str) -> String {
    if key.chars().count() <= limits::ALIAS {
        key.to_owned()
    } else {
        format!("herald-{}", hex::encode(Sha256::digest(key.as_bytes())))
    }
}

/// The trimmed text, when there is some.
fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}
