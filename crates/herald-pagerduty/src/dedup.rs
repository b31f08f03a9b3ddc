//! The `dedup_key`: one PagerDuty alert per run of a lifecycle.
//!
//! Every event of one correlation (a rotation run, an update request) gets the
//! same key, so a retried or repeated trigger adds to the open alert instead of
//! opening another, and a later success resolves it. Without a correlation the
//! resource and environment stand in; without those, the event's own
//! idempotency key (every attempt of one event still shares it). Keys are
//! prefixed `herald-` and kept within PagerDuty's 255 characters: longer ones
//! keep their start and end in a SHA-256 digest, so they stay unique.

use herald_core::Envelope;
use sha2::{Digest, Sha256};

/// PagerDuty's limit on `dedup_key`, in characters.
pub const MAX_DEDUP_KEY_CHARS: usize = 255;

/// Hex digits of the digest kept when a key is shortened.
const DIGEST_HEX: usize = 40;

/// The key for `event`; `idempotency_key` is the delivery's own key.
pub fn dedup_key(event: &Envelope, idempotency_key: &str) -> String {
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let raw = match (
        nonempty(&event.correlation),
        nonempty(&event.resource),
        nonempty(&event.environment),
    ) {
        (Some(c), _, _) => format!("herald-{c}"),
        (None, Some(r), Some(env)) => format!("herald-{r}@{env}"),
        (None, Some(r), None) => format!("herald-{r}"),
        (None, None, _) => format!("herald-{idempotency_key}"),
    };
    fit(raw)
}

/// `key` itself when short enough, else its start, `-` and a digest of all of it.
fn fit(key: String) -> String {
    if key.chars().count() <= MAX_DEDUP_KEY_CHARS {
        return key;
    }
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    let head: String = key
        .chars()
        .take(MAX_DEDUP_KEY_CHARS - DIGEST_HEX - 1)
        .collect();
    format!("{head}-{}", &digest[..DIGEST_HEX])
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::envelope::Severity;

    fn event(correlation: Option<&str>, resource: Option<&str>, env: Option<&str>) -> Envelope {
        Envelope {
            id: "e1".into(),
            event_type: "rotation.failed".into(),
            source: None,
            time: chrono::DateTime::UNIX_EPOCH,
            severity: Severity::Error,
            title: "t".into(),
            summary: "s".into(),
            resource: resource.map(Into::into),
            environment: env.map(Into::into),
            fields: vec![],
            links: vec![],
            actions: vec![],
            correlation: correlation.map(Into::into),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn correlation_then_resource_then_the_event() {
        let k = |c, r, e| dedup_key(&event(c, r, e), "msg_abc");
        assert_eq!(k(Some("rot-1"), Some("pg"), Some("prod")), "herald-rot-1");
        assert_eq!(k(None, Some("pg"), Some("prod")), "herald-pg@prod");
        assert_eq!(k(Some("  "), Some("pg"), None), "herald-pg");
        assert_eq!(k(None, None, Some("prod")), "herald-msg_abc");
    }

    #[test]
    fn long_keys_are_cut_with_a_digest() {
        let long_a = format!("{}a", "x".repeat(400));
        let long_b = format!("{}b", "x".repeat(400));
        let a = dedup_key(&event(Some(&long_a), None, None), "m");
        let b = dedup_key(&event(Some(&long_b), None, None), "m");
        assert_eq!(a.chars().count(), MAX_DEDUP_KEY_CHARS);
        assert!(a.starts_with("herald-xxx"));
        assert_ne!(a, b, "keys differing only past the cut stay distinct");
        assert_eq!(a, dedup_key(&event(Some(&long_a), None, None), "m"));
        let wide = "é".repeat(300);
        assert_eq!(
            dedup_key(&event(Some(&wide), None, None), "m")
                .chars()
                .count(),
            MAX_DEDUP_KEY_CHARS
        );
    }
}
