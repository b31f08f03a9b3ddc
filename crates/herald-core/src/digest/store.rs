//! The digest stream: each destination's open windows, one subject per window
//! (`<prefix>.<destination>.<window end, Unix milliseconds>`).
//!
//! An event is stored with its original payload and headers, its subject in
//! [`crate::replay::headers::SUBJECT`], and a `Nats-Msg-Id` made of the
//! destination and the event id, so an event appended twice (a redelivery after
//! a crash) is stored once.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, Message, stream};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use sha2::{Digest as _, Sha256};

/// A digest stream read or write failed.
#[derive(Debug, thiserror::Error)]
#[error("digest stream: {0}")]
pub struct DigestError(String);

fn fail(e: impl std::fmt::Display) -> DigestError {
    DigestError(e.to_string())
}

/// How long one fetch of a window's events may wait.
const FETCH_WAIT: Duration = Duration::from_secs(2);

/// The digest stream.
#[derive(Debug, Clone)]
pub struct DigestStore {
    js: jetstream::Context,
    stream: stream::Stream,
    prefix: String,
}

/// One stored event of a window.
#[derive(Debug)]
pub struct Stored {
    /// The message, with its original payload and headers.
    pub message: Message,
    /// Its sequence in the digest stream.
    pub sequence: u64,
}

impl DigestStore {
    /// Wraps the opened digest stream whose subjects start with `prefix`.
    pub fn new(js: jetstream::Context, stream: stream::Stream, prefix: impl Into<String>) -> Self {
        Self {
            js,
            stream,
            prefix: prefix.into(),
        }
    }

    /// The subject of `destination`'s window ending at `end`.
    pub fn subject(&self, destination: &str, end: DateTime<Utc>) -> String {
        format!("{}.{destination}.{}", self.prefix, end.timestamp_millis())
    }

    /// Appends an event to a window and waits until JetStream has it. `tag`
    /// keeps the message id of a moved event apart from its first append.
    ///
    /// # Errors
    /// [`DigestError`] when the stream does not confirm the write.
    #[allow(clippy::too_many_arguments)]
    pub async fn append(
        &self,
        destination: &str,
        end: DateTime<Utc>,
        event_id: &str,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        tag: &str,
    ) -> Result<(), DigestError> {
        let mut h = HeaderMap::new();
        if let Some(orig) = headers {
            for (name, values) in orig.iter() {
                let n: &str = name.as_ref();
                if n.to_ascii_lowercase().starts_with("nats-")
                    || n.eq_ignore_ascii_case(crate::replay::headers::SUBJECT)
                    || n.eq_ignore_ascii_case(crate::replay::headers::FORCE)
                {
                    continue;
                }
                for v in values {
                    h.append(name.clone(), v.clone());
                }
            }
        }
        h.insert(crate::replay::headers::SUBJECT, subject);
        let digest = Sha256::digest(event_id.as_bytes());
        h.insert(
            "Nats-Msg-Id",
            format!("{destination}.{}{tag}", hex::encode(&digest[..16])).as_str(),
        );
        self.js
            .publish_with_headers(self.subject(destination, end), h, payload)
            .await
            .map_err(fail)?
            .await
            .map_err(fail)?;
        Ok(())
    }

    /// The ends of `destination`'s windows that hold events, oldest first.
    ///
    /// # Errors
    /// [`DigestError`] when the stream cannot be read.
    pub async fn windows(&self, destination: &str) -> Result<Vec<DateTime<Utc>>, DigestError> {
        let filter = format!("{}.{destination}.*", self.prefix);
        let subjects: Vec<(String, usize)> = self
            .stream
            .info_with_subjects(&filter)
            .await
            .map_err(fail)?
            .try_collect()
            .await
            .map_err(fail)?;
        let mut ends: Vec<DateTime<Utc>> = subjects
            .iter()
            .filter(|(_, n)| *n > 0)
            .filter_map(|(s, _)| s.rsplit('.').next()?.parse::<i64>().ok())
            .filter_map(DateTime::from_timestamp_millis)
            .collect();
        ends.sort();
        Ok(ends)
    }

    /// Every event stored in a window, in stream order.
    ///
    /// # Errors
    /// [`DigestError`] when the window cannot be read in full.
    pub async fn read(
        &self,
        destination: &str,
        end: DateTime<Utc>,
    ) -> Result<Vec<Stored>, DigestError> {
        let mut consumer: jetstream::consumer::Consumer<pull::Config> = self
            .stream
            .create_consumer(pull::Config {
                filter_subject: self.subject(destination, end),
                ack_policy: AckPolicy::None,
                deliver_policy: DeliverPolicy::All,
                inactive_threshold: Duration::from_secs(60),
                description: Some(format!("digest window of {destination}")),
                ..Default::default()
            })
            .await
            .map_err(fail)?;
        let total = consumer.info().await.map_err(fail)?.num_pending;
        let mut out = Vec::new();
        while (out.len() as u64) < total {
            let want = usize::try_from(total - out.len() as u64)
                .unwrap_or(usize::MAX)
                .min(1000);
            let mut batch = consumer
                .fetch()
                .max_messages(want)
                .expires(FETCH_WAIT)
                .messages()
                .await
                .map_err(fail)?;
            let before = out.len();
            while let Some(m) = batch.next().await {
                let message = m.map_err(fail)?;
                let sequence = message.info().map_err(fail)?.stream_sequence;
                out.push(Stored { message, sequence });
            }
            if out.len() == before {
                return Err(DigestError(format!(
                    "window read stopped at {} of {total} events",
                    out.len()
                )));
            }
        }
        let name = consumer.cached_info().name.clone();
        // The consumer also goes away by itself after a minute idle.
        let _ = self.stream.delete_consumer(&name).await;
        Ok(out)
    }

    /// Removes a window's events up to and including sequence `last`; events
    /// stored after it stay.
    ///
    /// # Errors
    /// [`DigestError`] when JetStream refuses.
    pub async fn purge(
        &self,
        destination: &str,
        end: DateTime<Utc>,
        last: u64,
    ) -> Result<(), DigestError> {
        self.stream
            .purge()
            .filter(self.subject(destination, end))
            .sequence(last.saturating_add(1))
            .await
            .map_err(fail)?;
        Ok(())
    }
}
