//! The live feed: every delivery decision a worker takes, published as it
//! happens so an operator can watch the fleet (`herald console`).
//!
//! After each decision (delivered, retried, dead-lettered, duplicate,
//! filtered) a worker publishes one [`FeedEntry`] as JSON on core NATS, subject
//! `<status.feed_subject_prefix>.<channel>.<destination>`. It is fire and
//! forget: nothing is stored, nobody acknowledges, and a delivery never waits
//! for or fails because of the feed (entries are handed to a background task
//! through a bounded queue and dropped when it is full). `status.feed: false`
//! turns it off.
//!
//! Entries are built and published only while a watcher is there:
//! `herald console` announces itself every [`WATCH_INTERVAL`], and a worker
//! stops publishing [`WATCH_TTL`] after the last announcement, so an unwatched
//! fleet spends nothing on the feed. `status.feed_always: true` publishes every
//! entry regardless, for other subscribers.
//!
//! Entries carry no secrets: the reasons are the same secret-free texts the
//! status records and dead letters hold.

use async_nats::HeaderMap;
use async_nats::jetstream::Message;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use opentelemetry::trace::TraceContextExt as _;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::debug;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::config::StatusConfig;
use crate::dlq::DeadLetter;
use crate::envelope::Envelope;
use crate::outcome::Failure;
use crate::replay;

mod watch;

use watch::Watched;
pub use watch::{WATCH_INTERVAL, WATCH_TTL, watch_subject};

/// How many entries may wait for the publisher before new ones are dropped.
const QUEUE: usize = 1024;

/// What became of one event for one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedOutcome {
    /// The provider accepted it.
    Delivered,
    /// The attempt failed; it will be tried again.
    Retry,
    /// Given up: stored in the dead-letter queue.
    DeadLettered,
    /// The destination had it already (a receipt exists); nothing was sent.
    Duplicate,
    /// The destination's `when` filter skipped it.
    Filtered,
    /// Held in its digest window, to go out when the window closes.
    Held,
}

/// One decision, as published on the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// When the decision was taken.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub time: DateTime<Utc>,
    /// The destination.
    pub destination: String,
    /// Its channel.
    pub channel: String,
    /// The event's id (`-` when the event could not be read).
    pub event_id: String,
    /// The event's type (`-` when unknown).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The subject the event was published on (the original one for a replay).
    pub subject: String,
    /// What happened.
    pub outcome: FeedOutcome,
    /// The provider's status (HTTP status or SMTP reply code), when there was one.
    pub status: Option<u16>,
    /// Why it failed, for a retry or a dead letter.
    pub reason: Option<String>,
    /// The delivery attempt, from 1.
    pub attempt: u32,
    /// The W3C trace id of the delivery, when the message carried trace context
    /// or traces are on.
    pub trace_id: Option<String>,
}

/// What a worker reports of one decision (the rest comes from the message).
#[derive(Debug, Clone, Copy)]
pub struct Noted<'a> {
    outcome: FeedOutcome,
    status: Option<u16>,
    reason: Option<&'a str>,
    attempt: u32,
}

impl<'a> Noted<'a> {
    /// Delivered, with the provider's status.
    pub fn delivered(status: Option<u16>, attempt: u32) -> Self {
        Self {
            outcome: FeedOutcome::Delivered,
            status,
            reason: None,
            attempt,
        }
    }

    /// A failed attempt that will be retried.
    pub fn retry(failure: &'a Failure, attempt: u32) -> Self {
        Self {
            outcome: FeedOutcome::Retry,
            status: failure.status,
            reason: Some(&failure.reason),
            attempt,
        }
    }

    /// Dead-lettered as `letter` says.
    pub fn letter(letter: &DeadLetter<'a>) -> Self {
        Self {
            outcome: FeedOutcome::DeadLettered,
            status: letter.status,
            reason: Some(letter.error),
            attempt: letter.attempts,
        }
    }

    /// Already delivered before: acknowledged without sending.
    pub fn duplicate(attempt: u32) -> Self {
        Self {
            outcome: FeedOutcome::Duplicate,
            status: None,
            reason: None,
            attempt,
        }
    }

    /// Skipped by the destination's `when` filter.
    pub fn filtered(attempt: u32) -> Self {
        Self {
            outcome: FeedOutcome::Filtered,
            status: None,
            reason: None,
            attempt,
        }
    }

    /// Held for the destination's digest.
    pub fn held(attempt: u32) -> Self {
        Self {
            outcome: FeedOutcome::Held,
            status: None,
            reason: None,
            attempt,
        }
    }
}

/// The subject of one destination's feed entries.
pub fn feed_subject(prefix: &str, channel: &str, destination: &str) -> String {
    format!("{prefix}.{channel}.{destination}")
}

/// The subscription that sees every feed entry (and not the watch subject).
pub fn feed_filter(prefix: &str) -> String {
    format!("{prefix}.*.*")
}

/// A worker's feed publisher. Cloning shares the queue.
#[derive(Debug, Clone)]
pub struct Feed {
    queue: Option<mpsc::Sender<(String, Bytes)>>,
    prefix: String,
    watched: Watched,
}

impl Feed {
    /// A feed that publishes nothing.
    pub fn off() -> Self {
        Self {
            queue: None,
            prefix: String::new(),
            watched: Watched::default(),
        }
    }

    /// Starts the publisher on `client` when `status.feed` is on, and (unless
    /// `status.feed_always`) the task that follows the watchers. Must be
    /// called inside a Tokio runtime; the publisher stops when every clone of
    /// the feed is dropped.
    pub fn start(client: async_nats::Client, config: &StatusConfig) -> Self {
        if !config.feed {
            return Self::off();
        }
        let watched = if config.feed_always {
            Watched::always()
        } else {
            let watched = Watched::default();
            tokio::spawn(watch::follow(
                client.clone(),
                config.feed_subject_prefix.clone(),
                watched.clone(),
            ));
            watched
        };
        let (tx, mut rx) = mpsc::channel::<(String, Bytes)>(QUEUE);
        tokio::spawn(async move {
            while let Some((subject, body)) = rx.recv().await {
                if let Err(e) = client.publish(subject, body).await {
                    debug!(error = %e, "Feed entry not published.");
                }
            }
        });
        Self {
            queue: Some(tx),
            prefix: config.feed_subject_prefix.clone(),
            watched,
        }
    }

    /// Publishes one decision about `msg` while a watcher is there (never
    /// waits; drops the entry when the queue is full). `event` is the event
    /// when it could be read.
    pub fn note(
        &self,
        channel: &str,
        destination: &str,
        msg: &Message,
        event: Option<&Envelope>,
        noted: Noted<'_>,
    ) {
        let Some(queue) = &self.queue else { return };
        if !self.watched.get() {
            return;
        }
        let headers = msg.headers.as_ref();
        let subject = replay::original_subject(headers).unwrap_or(msg.subject.as_str());
        let (event_id, event_type) = match event {
            Some(e) => (e.id.clone(), e.event_type.clone()),
            None => identify(&msg.payload, headers, subject),
        };
        let entry = FeedEntry {
            time: Utc::now(),
            destination: destination.to_owned(),
            channel: channel.to_owned(),
            event_id,
            event_type,
            subject: subject.to_owned(),
            outcome: noted.outcome,
            status: noted.status,
            reason: noted.reason.map(str::to_owned),
            attempt: noted.attempt,
            trace_id: current_trace_id().or_else(|| headers.and_then(traceparent_trace_id)),
        };
        let Ok(body) = serde_json::to_vec(&entry) else {
            return;
        };
        let subject = feed_subject(&self.prefix, channel, destination);
        if queue.try_send((subject, Bytes::from(body))).is_err() {
            debug!(destination, "Feed queue full; entry dropped.");
        }
    }
}

/// The id and type of an event as far as they can be read without ingesting
/// it: the payload's `id` and `type`, else CloudEvents or NATS headers; the
/// type defaults to the subject, as ingestion does.
fn identify(payload: &[u8], headers: Option<&HeaderMap>, subject: &str) -> (String, String) {
    #[derive(Deserialize)]
    struct Ids {
        id: Option<serde_json::Value>,
        #[serde(rename = "type")]
        event_type: Option<String>,
    }
    let ids = serde_json::from_slice::<Ids>(payload).ok();
    let header = |name: &str| {
        headers
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    let id = ids
        .as_ref()
        .and_then(|i| match &i.id {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(n @ serde_json::Value::Number(_)) => Some(n.to_string()),
            _ => None,
        })
        .or_else(|| header("ce-id"))
        .or_else(|| header("Nats-Msg-Id"))
        .unwrap_or_else(|| "-".to_owned());
    let event_type = ids
        .and_then(|i| i.event_type)
        .or_else(|| header("ce-type"))
        .unwrap_or_else(|| subject.to_owned());
    (id, event_type)
}

/// The trace id of the current span, when OpenTelemetry is recording it.
fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The trace id of a W3C `traceparent` header (`00-<trace id>-<span id>-<flags>`).
fn traceparent_trace_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.as_str();
    let mut parts = value.split('-');
    let (_version, trace) = (parts.next()?, parts.next()?);
    let valid = trace.len() == 32
        && trace.bytes().all(|b| b.is_ascii_hexdigit())
        && trace.bytes().any(|b| b != b'0');
    valid.then(|| trace.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_json_with_a_snake_case_outcome() {
        let entry = FeedEntry {
            time: DateTime::parse_from_rfc3339("2025-12-09T14:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            destination: "ops".into(),
            channel: "webhook".into(),
            event_id: "e-1".into(),
            event_type: "rotation.failed".into(),
            subject: "rotation.failed".into(),
            outcome: FeedOutcome::DeadLettered,
            status: Some(400),
            reason: Some("HTTP 400".into()),
            attempt: 1,
            trace_id: None,
        };
        let v = serde_json::to_value(&entry).unwrap();
        assert_eq!(v["outcome"], "dead_lettered");
        assert_eq!(v["type"], "rotation.failed");
        let back: FeedEntry = serde_json::from_value(v).unwrap();
        assert_eq!(back, entry);
        assert_eq!(
            feed_subject("herald.feed", "webhook", "ops"),
            "herald.feed.webhook.ops"
        );
        assert_eq!(feed_filter("herald.feed"), "herald.feed.*.*");
        assert_eq!(watch_subject("herald.feed"), "herald.feed.watchers");
    }

    #[test]
    fn trace_ids_come_from_traceparent() {
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        );
        assert_eq!(
            traceparent_trace_id(&h).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let mut zero = HeaderMap::new();
        zero.insert(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        );
        assert_eq!(traceparent_trace_id(&zero), None);
        let mut junk = HeaderMap::new();
        junk.insert("traceparent", "garbage");
        assert_eq!(traceparent_trace_id(&junk), None);
    }

    #[test]
    fn unreadable_events_are_named_from_what_there_is() {
        assert_eq!(
            identify(br#"{"id": 7, "type": "x.y"}"#, None, "a.b"),
            ("7".to_owned(), "x.y".to_owned())
        );
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", "m-1");
        assert_eq!(
            identify(b"not json", Some(&h), "a.b"),
            ("m-1".to_owned(), "a.b".to_owned())
        );
    }
}
