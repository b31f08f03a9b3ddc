//! Web API sends, and the threads of lifecycle events.
//!
//! The first event of a `correlation` is posted with `chat.postMessage`; its
//! channel, `ts` and time are remembered (the core's per-destination memory, a
//! JetStream key-value bucket shared by replicas and kept across restarts). Every
//! later event of that correlation is posted as a reply in its thread
//! (`thread_ts`), then the first message is edited with `chat.update` to show the
//! newest status (started → completed, failed, rolled back).
//!
//! Events can arrive out of order: a failed event is retried later, so a newer
//! one may be delivered first. The first message only ever moves forward in event
//! time: an event older than the status it shows is posted in the thread and the
//! first message is left as it is. A retry never posts the same reply twice: the
//! reply's `ts` is remembered under the event's idempotency key before the edit.

use chrono::{DateTime, Utc};
use herald_core::DeliveryContext;
use herald_core::outcome::{Failure, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tracing::{info, warn};

use crate::api::{Api, Posted, UPDATE_SKIPPED};
use crate::request::{SlackRequest, ThreadKey};

/// What is remembered about a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ThreadNote {
    /// The channel id of the first message.
    pub(crate) channel: String,
    /// The first message's `ts`: the thread.
    pub(crate) ts: String,
    /// The time of the event the first message shows.
    pub(crate) shown: DateTime<Utc>,
    /// That event's type.
    pub(crate) shown_type: String,
}

fn thread_key(correlation: &str) -> String {
    format!("slack.thread.{correlation}")
}

fn reply_key(idempotency_key: &str) -> String {
    format!("slack.reply.{idempotency_key}")
}

/// Sends one rendered message through the Web API.
pub(crate) async fn send(api: &Api, req: &SlackRequest, ctx: &DeliveryContext) -> Outcome {
    let Some(key) = &req.thread else {
        return match post(api, &req.message).await {
            Ok(p) => delivered(p.ts),
            Err(o) => o,
        };
    };
    let note = match ctx.memory.recall(&thread_key(&key.correlation)).await {
        Ok(n) => n.and_then(|n| serde_json::from_str::<ThreadNote>(&n).ok()),
        Err(e) => return Outcome::Retry(Failure::new(e.to_string())),
    };
    match note {
        None => start_thread(api, req, key, ctx).await,
        Some(note) => continue_thread(api, req, key, note, ctx).await,
    }
}

/// The first event of a correlation: post it and remember the thread.
async fn start_thread(
    api: &Api,
    req: &SlackRequest,
    key: &ThreadKey,
    ctx: &DeliveryContext,
) -> Outcome {
    let posted = match post(api, &req.message).await {
        Ok(p) => p,
        Err(o) => return o,
    };
    let note = ThreadNote {
        channel: posted.channel.clone(),
        ts: posted.ts.clone(),
        shown: key.time,
        shown_type: key.event_type.clone(),
    };
    if let Err(e) = remember(ctx, &thread_key(&key.correlation), &note).await {
        warn!(destination = %ctx.destination, error = %e, "Posted, but the thread was not remembered; later events of this correlation will start a new one.");
    }
    delivered(posted.ts)
}

/// A later event: reply in the thread (once), then move the first message forward.
async fn continue_thread(
    api: &Api,
    req: &SlackRequest,
    key: &ThreadKey,
    note: ThreadNote,
    ctx: &DeliveryContext,
) -> Outcome {
    let reply_note = reply_key(&ctx.idempotency_key);
    let reply_ts = match ctx.memory.recall(&reply_note).await {
        Ok(Some(ts)) => ts,
        Ok(None) => {
            let mut reply = req.message.clone();
            reply.insert("channel".into(), json!(note.channel));
            reply.insert("thread_ts".into(), json!(note.ts));
            let posted = match post(api, &reply).await {
                Ok(p) => p,
                Err(o) => return o,
            };
            if let Err(e) = ctx.memory.remember(&reply_note, &posted.ts).await {
                warn!(destination = %ctx.destination, error = %e, "Reply posted, but not remembered; a retry may post it again.");
            }
            posted.ts
        }
        Err(e) => return Outcome::Retry(Failure::new(e.to_string())),
    };
    if key.time < note.shown {
        info!(
            destination = %ctx.destination, correlation = %key.correlation,
            event_type = %key.event_type, shown = %note.shown_type,
            "Older than the status the thread shows; posted in the thread, first message left as it is."
        );
        return delivered(reply_ts);
    }
    let mut update = Map::new();
    update.insert("channel".into(), json!(note.channel));
    update.insert("ts".into(), json!(note.ts));
    for k in ["text", "blocks", "attachments"] {
        if let Some(v) = req.message.get(k) {
            update.insert(k.into(), v.clone());
        }
    }
    match api.call("chat.update", &Value::Object(update)).await {
        Ok(_) => {}
        Err(f)
            if f.code
                .as_deref()
                .is_some_and(|c| UPDATE_SKIPPED.contains(&c)) =>
        {
            warn!(
                destination = %ctx.destination, correlation = %key.correlation,
                error = f.code.as_deref().unwrap_or_default(),
                "The thread's first message cannot be edited; the reply was posted."
            );
            return delivered(reply_ts);
        }
        Err(f) => return f.outcome,
    }
    let moved = ThreadNote {
        shown: key.time,
        shown_type: key.event_type.clone(),
        ..note
    };
    if let Err(e) = remember(ctx, &thread_key(&key.correlation), &moved).await {
        warn!(destination = %ctx.destination, error = %e, "The first message was edited, but its new status was not remembered.");
    }
    delivered(reply_ts)
}

async fn post(api: &Api, message: &Map<String, Value>) -> Result<Posted, Outcome> {
    let answer = api
        .call("chat.postMessage", &Value::Object(message.clone()))
        .await
        .map_err(|f| f.outcome)?;
    Posted::from_answer(&answer)
}

async fn remember(
    ctx: &DeliveryContext,
    key: &str,
    note: &ThreadNote,
) -> Result<(), herald_core::memory::MemoryError> {
    let text = serde_json::to_string(note).unwrap_or_default();
    ctx.memory.remember(key, &text).await
}

fn delivered(ts: String) -> Outcome {
    Outcome::Delivered {
        handle: Some(ts),
        status: Some(200),
        hold: None,
    }
}
