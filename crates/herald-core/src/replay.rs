//! Replaying dead letters to one destination.
//!
//! `herald dlq replay` publishes a dead letter's original payload and headers to
//! `<replay prefix>.<destination>` on the replay stream. Each destination has a
//! durable consumer on its own replay subject and delivers through the same
//! path as live events, so a replay reaches that one destination and never the
//! others that already had the event. The original subject travels in
//! [`headers::SUBJECT`], so ingestion, filters and templates see it.
//!
//! A replay respects idempotency receipts: replaying the same dead letter twice
//! (or one that was delivered since) sends nothing the second time. With
//! `--force` ([`headers::FORCE`]) the receipt is not consulted.

use async_nats::HeaderMap;

use crate::dlq::headers as dlq;

/// Header names written on replays.
pub mod headers {
    /// The subject the event was first published on.
    pub const SUBJECT: &str = "Herald-Replay-Subject";
    /// `true`: deliver even when a receipt says the destination has the event.
    pub const FORCE: &str = "Herald-Replay-Force";
    /// The dead letter's sequence in the DLQ stream.
    pub const DLQ_SEQ: &str = "Herald-Replay-Dlq-Seq";
}

/// A dead letter cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// It does not say which destination gave up on it.
    #[error("dead letter {0} has no {dest} header", dest = dlq::DESTINATION)]
    NoDestination(u64),
    /// It does not say which subject it came from.
    #[error("dead letter {0} has no {subject} header", subject = dlq::SUBJECT)]
    NoSubject(u64),
}

/// A replay, ready to publish.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The destination that will take it.
    pub destination: String,
    /// The original subject.
    pub subject: String,
    /// The original headers (without `Herald-Dlq-*` and `Nats-*`), plus the
    /// `Herald-Replay-*` headers.
    pub headers: HeaderMap,
    /// The `Nats-Msg-Id` to publish with.
    pub msg_id: String,
}

fn first<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(async_nats::HeaderValue::as_str)
}

/// Builds the replay of the dead letter stored at `dlq_seq` with headers
/// `stored`. `nonce` (a timestamp) makes a forced replay's message id new.
///
/// # Errors
/// [`ReplayError`] when the dead letter lacks its destination or subject.
pub fn replay_of(
    stored: &HeaderMap,
    dlq_seq: u64,
    force: bool,
    nonce: i64,
) -> Result<Replay, ReplayError> {
    let destination = first(stored, dlq::DESTINATION)
        .ok_or(ReplayError::NoDestination(dlq_seq))?
        .to_owned();
    let subject = first(stored, dlq::SUBJECT)
        .ok_or(ReplayError::NoSubject(dlq_seq))?
        .to_owned();
    let mut headers = HeaderMap::new();
    for (name, values) in stored.iter() {
        let n: &str = name.as_ref();
        let lower = n.to_ascii_lowercase();
        if lower.starts_with("herald-dlq-")
            || lower.starts_with("herald-replay-")
            || lower.starts_with("nats-")
        {
            continue;
        }
        for v in values {
            headers.append(name.clone(), v.clone());
        }
    }
    headers.insert(headers::SUBJECT, subject.as_str());
    headers.insert(headers::DLQ_SEQ, dlq_seq.to_string().as_str());
    let msg_id = if force {
        headers.insert(headers::FORCE, "true");
        format!("replay-{destination}-{dlq_seq}-{nonce}")
    } else {
        format!("replay-{destination}-{dlq_seq}")
    };
    Ok(Replay {
        destination,
        subject,
        headers,
        msg_id,
    })
}

/// The original subject of a replayed message, if it is one.
pub fn original_subject(h: Option<&HeaderMap>) -> Option<&str> {
    h.and_then(|h| first(h, headers::SUBJECT))
}

/// True when a replayed message asks to skip the receipt check.
pub fn forced(h: Option<&HeaderMap>) -> bool {
    h.and_then(|h| first(h, headers::FORCE))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("traceparent", "00-abc-def-01");
        h.insert("ce-id", "e-1");
        h.insert(dlq::DESTINATION, "ops");
        h.insert(dlq::SUBJECT, "rotation.failed");
        h.insert(dlq::REASON, "permanent");
        h.insert("Nats-Msg-Id", "dlq-ops-HERALD_EVENTS-4");
        h
    }

    #[test]
    fn a_replay_keeps_the_original_headers_and_names_the_subject() {
        let r = replay_of(&stored(), 7, false, 0).unwrap();
        assert_eq!(r.destination, "ops");
        assert_eq!(r.subject, "rotation.failed");
        assert_eq!(r.msg_id, "replay-ops-7");
        assert_eq!(first(&r.headers, "traceparent"), Some("00-abc-def-01"));
        assert_eq!(first(&r.headers, "ce-id"), Some("e-1"));
        assert_eq!(first(&r.headers, dlq::REASON), None);
        assert_eq!(first(&r.headers, "Nats-Msg-Id"), None);
        assert_eq!(original_subject(Some(&r.headers)), Some("rotation.failed"));
        assert!(!forced(Some(&r.headers)));
        let f = replay_of(&stored(), 7, true, 99).unwrap();
        assert!(forced(Some(&f.headers)));
        assert_eq!(f.msg_id, "replay-ops-7-99");
    }

    #[test]
    fn a_dead_letter_without_destination_cannot_be_replayed() {
        let mut h = HeaderMap::new();
        h.insert(dlq::SUBJECT, "x.y");
        assert!(matches!(
            replay_of(&h, 3, false, 0),
            Err(ReplayError::NoDestination(3))
        ));
    }
}
