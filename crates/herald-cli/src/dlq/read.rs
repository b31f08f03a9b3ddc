//! Reading dead letters back from the DLQ stream.

use std::time::Duration;

use anyhow::{Context as _, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream::Stream};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use herald_core::config::FleetConfig;
use herald_core::dlq::headers as dlq;
use serde::Serialize;

/// Largest number of dead letters asked for in one pull.
const BATCH: usize = 500;

/// One stored dead letter.
#[derive(Debug, Clone)]
pub(crate) struct Letter {
    /// Its sequence in the DLQ stream (the ID the commands take).
    pub(crate) seq: u64,
    /// When it was stored.
    pub(crate) time: DateTime<Utc>,
    /// Its headers: the original ones and `Herald-Dlq-*`.
    pub(crate) headers: HeaderMap,
    /// The original payload.
    pub(crate) payload: Bytes,
}

impl Letter {
    /// The first value of a header.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(async_nats::HeaderValue::as_str)
    }

    pub(crate) fn destination(&self) -> &str {
        self.header(dlq::DESTINATION).unwrap_or("?")
    }

    /// The event id: the payload's `id`, else CloudEvents `ce-id`, else the
    /// original `Nats-Msg-Id`.
    pub(crate) fn event_id(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.payload)
            .ok()
            .and_then(|v| match v.get("id") {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(n @ serde_json::Value::Number(_)) => Some(n.to_string()),
                _ => None,
            })
            .or_else(|| self.header("ce-id").map(str::to_owned))
            .or_else(|| self.header(dlq::ORIGINAL_MSG_ID).map(str::to_owned))
            .unwrap_or_else(|| "-".to_owned())
    }
}

/// A dead letter as the console shows it: the facts of `herald dlq show`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LetterView {
    /// Its ID.
    pub(crate) seq: u64,
    /// When it was stored.
    pub(crate) time: DateTime<Utc>,
    pub(crate) destination: String,
    pub(crate) channel: Option<String>,
    /// `permanent`, `exhausted`, `render`, `bad_input`.
    pub(crate) reason: Option<String>,
    /// What went wrong.
    pub(crate) error: Option<String>,
    /// The provider's last status.
    pub(crate) status: Option<String>,
    /// The start of the provider's last answer.
    pub(crate) response: Option<String>,
    pub(crate) attempts: Option<String>,
    /// The subject it was published on.
    pub(crate) subject: Option<String>,
    pub(crate) event_id: String,
    /// The original payload (JSON when it parses, else text).
    pub(crate) payload: serde_json::Value,
}

impl Letter {
    /// The letter's facts and payload.
    pub(crate) fn view(&self) -> LetterView {
        let h = |name: &str| self.header(name).map(str::to_owned);
        LetterView {
            seq: self.seq,
            time: self.time,
            destination: self.destination().to_owned(),
            channel: h(dlq::CHANNEL),
            reason: h(dlq::REASON),
            error: h(dlq::ERROR),
            status: h(dlq::STATUS),
            response: h(dlq::RESPONSE),
            attempts: h(dlq::ATTEMPTS),
            subject: h(dlq::SUBJECT),
            event_id: self.event_id(),
            payload: serde_json::from_slice(&self.payload).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&self.payload).into_owned())
            }),
        }
    }
}

/// The DLQ stream.
pub(crate) async fn dlq_stream(
    js: &jetstream::Context,
    config: &FleetConfig,
) -> anyhow::Result<Stream> {
    js.get_stream(&config.dlq.stream)
        .await
        .with_context(|| format!("opening the dead-letter stream {}", config.dlq.stream))
}

/// The subject filter for one destination's dead letters, or all of them.
pub(crate) fn filter(config: &FleetConfig, destination: Option<&str>) -> String {
    match destination {
        Some(d) => format!("{}.*.{d}", config.dlq.subject_prefix),
        None => format!("{}.>", config.dlq.subject_prefix),
    }
}

/// One dead letter by its sequence.
pub(crate) async fn one(stream: &Stream, config: &FleetConfig, seq: u64) -> anyhow::Result<Letter> {
    let m = stream
        .get_raw_message(seq)
        .await
        .with_context(|| format!("no dead letter {seq} in {}", config.dlq.stream))?;
    if !m
        .subject
        .starts_with(&format!("{}.", config.dlq.subject_prefix))
    {
        bail!(
            "message {seq} of {} is not a dead letter ({})",
            config.dlq.stream,
            m.subject
        );
    }
    Ok(Letter {
        seq: m.sequence,
        time: m.time,
        headers: m.headers,
        payload: m.payload,
    })
}

/// Every dead letter matching `filter` stored at or after `since`, oldest first.
pub(crate) async fn all(
    stream: &Stream,
    filter: &str,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<Vec<Letter>> {
    let deliver_policy = match since {
        Some(start_time) => consumer::DeliverPolicy::ByStartTime { start_time },
        None => consumer::DeliverPolicy::All,
    };
    let mut reader = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: filter.to_owned(),
            deliver_policy,
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            description: Some("herald dlq (reading)".into()),
            ..Default::default()
        })
        .await
        .context("creating a reader of the dead-letter stream")?;
    let info = reader.info().await.context("reading the reader's state")?;
    let mut left = usize::try_from(info.num_pending).unwrap_or(usize::MAX);
    let name = info.name.clone();
    let mut out = Vec::new();
    while left > 0 {
        let mut batch = reader
            .batch()
            .max_messages(left.min(BATCH))
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .context("reading dead letters")?;
        let before = out.len();
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow::anyhow!("reading dead letters: {e}"))?;
            let Ok(i) = m.info() else { continue };
            out.push(Letter {
                seq: i.stream_sequence,
                time: i.published,
                headers: m.headers.clone().unwrap_or_default(),
                payload: m.payload.clone(),
            });
        }
        let got = out.len() - before;
        if got == 0 {
            break;
        }
        left = left.saturating_sub(got);
    }
    let _ = stream.delete_consumer(&name).await;
    Ok(out)
}
