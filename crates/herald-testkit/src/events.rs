//! Publishing events into JetStream, and waiting for a worker's consumers.

use std::future::{Future, IntoFuture as _};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, publish::PublishAck};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::time::Instant;

/// The event stream workers create by default.
pub const EVENT_STREAM: &str = "HERALD_EVENTS";

/// A native Herald event: `{"id": id}` plus every key of `extra` (an object).
pub fn event(id: &str, extra: &Value) -> Bytes {
    let mut doc = json!({ "id": id });
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    Bytes::from(doc.to_string())
}

/// Publishes `payload` on `subject` with `Nats-Msg-Id: msg_id` and waits for the PubAck.
///
/// # Errors
/// When JetStream does not store it.
pub async fn publish(
    js: &jetstream::Context,
    subject: &str,
    msg_id: &str,
    payload: impl Into<Bytes>,
) -> Result<PublishAck> {
    publish_with_headers(js, subject, Some(msg_id), HeaderMap::new(), payload).await
}

/// Publishes with extra headers (CloudEvents `ce-*`, `traceparent`, ...) and an
/// optional `Nats-Msg-Id`, and waits for the PubAck.
///
/// # Errors
/// When JetStream does not store it.
pub async fn publish_with_headers(
    js: &jetstream::Context,
    subject: &str,
    msg_id: Option<&str>,
    headers: HeaderMap,
    payload: impl Into<Bytes>,
) -> Result<PublishAck> {
    send(js, subject, msg_id, headers, payload.into())
        .await?
        .await
        .with_context(|| format!("no PubAck for {subject}"))
}

/// Publishes every `(subject, msg_id, payload)` without waiting in between,
/// then waits for all PubAcks. Returns how many were stored as new.
///
/// # Errors
/// When any is not stored.
pub async fn publish_all(
    js: &jetstream::Context,
    events: impl IntoIterator<Item = (String, String, Bytes)>,
) -> Result<usize> {
    let mut pending = Vec::new();
    for (subject, id, payload) in events {
        pending.push(send(js, &subject, Some(&id), HeaderMap::new(), payload).await?);
    }
    let mut fresh = 0;
    for ack in pending {
        if !ack.await.context("no PubAck")?.duplicate {
            fresh += 1;
        }
    }
    Ok(fresh)
}

/// Publishes every `(subject, msg_id, payload)` as fast as JetStream stores
/// them: up to `window` publishes await their PubAcks together, so millions of
/// events go out at the server's pace without holding them all in memory.
/// The iterator is drawn lazily (a payload may carry its send time). Returns
/// how many were stored as new (not duplicates by `Nats-Msg-Id`).
///
/// # Errors
/// When any is not stored.
pub async fn publish_windowed(
    js: &jetstream::Context,
    window: usize,
    events: impl IntoIterator<Item = (String, String, Bytes)>,
) -> Result<usize> {
    let mut pending = Vec::with_capacity(window.max(1));
    let mut fresh = 0;
    for (subject, id, payload) in events {
        let message = PublishMessage::build().payload(payload).message_id(id);
        let ack = js
            .send_publish(subject.clone(), message)
            .await
            .with_context(|| format!("publishing to {subject}"))?;
        pending.push(ack.into_future());
        if pending.len() >= window.max(1) {
            fresh += count_fresh(pending.drain(..)).await?;
        }
    }
    Ok(fresh + count_fresh(pending).await?)
}

async fn count_fresh(
    acks: impl IntoIterator<Item = impl Future<Output = Result<PublishAck, PublishError>>>,
) -> Result<usize> {
    let mut fresh = 0;
    for ack in futures::future::join_all(acks).await {
        if !ack.context("no PubAck")?.duplicate {
            fresh += 1;
        }
    }
    Ok(fresh)
}

async fn send(
    js: &jetstream::Context,
    subject: &str,
    msg_id: Option<&str>,
    mut headers: HeaderMap,
    payload: Bytes,
) -> Result<PublishAckFuture> {
    if let Some(id) = msg_id {
        headers.insert("Nats-Msg-Id", id);
    }
    js.publish_with_headers(subject.to_string(), headers, payload)
        .await
        .with_context(|| format!("publishing to {subject}"))
}

/// Waits until durable consumer `consumer` exists on `stream`: a worker
/// that created it will deliver every event published from then on.
///
/// # Errors
/// When it does not appear within `deadline`.
pub async fn wait_for_consumer(
    js: &jetstream::Context,
    stream: &str,
    consumer: &str,
    deadline: Duration,
) -> Result<()> {
    let end = Instant::now() + deadline;
    loop {
        let result = match js.get_stream(stream).await {
            Ok(s) => s.consumer_info(consumer).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= end => {
                bail!(
                    "timed out after {deadline:?} waiting for consumer {consumer} on stream {stream}: {e}"
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// Waits until durable consumer `consumer` on `stream` has nothing left to do:
/// no event pending and none delivered but unacknowledged (delayed retries
/// included). After this, no further delivery attempt will come.
///
/// # Errors
/// When work remains after `deadline`.
pub async fn wait_for_consumer_idle(
    js: &jetstream::Context,
    stream: &str,
    consumer: &str,
    deadline: Duration,
) -> Result<()> {
    let end = Instant::now() + deadline;
    loop {
        let state = match js.get_stream(stream).await {
            Ok(s) => s
                .consumer_info(consumer)
                .await
                .map(|i| (i.num_pending, i.num_ack_pending))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if matches!(state, Ok((0, 0))) {
            return Ok(());
        }
        if Instant::now() >= end {
            bail!(
                "timed out after {deadline:?} waiting for consumer {consumer} to be idle; (pending, ack pending): {state:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
