//! Handling one event for one destination: from message to ack, NAK or dead letter.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{AckKind, Message};
use chrono::{DateTime, Utc};
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tokio::sync::OwnedSemaphorePermit;
use tracing::field::Empty;
use tracing::{Instrument as _, Span, debug, error, info, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::runtime::DestinationRuntime;
use super::serial::Ticket;
use super::stats::Count;
use crate::channel::{Channel, DeliveryContext};
use crate::dlq::{DeadLetter, DeadLetterReason};
use crate::envelope::{Envelope, RawEvent, ingest};
use crate::feed::Noted;
use crate::metrics::{AttemptOutcome, failure_reason};
use crate::outcome::{Failure, Outcome};
use crate::receipts::{Receipt, idempotency_key, receipt_key};
use crate::replay;
use crate::retry::Decision;
use crate::telemetry::TRACE_TARGET;

/// Where a message was pulled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// The event stream.
    Live,
    /// The destination's replay subject (`herald dlq replay`).
    Replay,
}

/// How long to wait before retrying when NATS itself (receipts, DLQ) failed.
pub(super) const INFRA_RETRY: Duration = Duration::from_secs(5);

/// Extra time given to a send beyond the channel's own timeout before the core
/// gives up on it.
pub(super) const SEND_GRACE: Duration = Duration::from_secs(5);

/// What the pull loop learns of a message before handing it to a delivery task:
/// read in pull order, so the correlation's [`Ticket`] keeps that order.
#[derive(Debug)]
pub(super) struct Admission {
    /// The JetStream attempt number and publish time, or why the message has no
    /// metadata.
    attempt: Result<(u32, DateTime<Utc>), String>,
    /// The event, or why it cannot be read.
    event: Result<Envelope, String>,
    /// Whether the receipt check is skipped (a forced replay).
    forced: bool,
    /// The event's place in its correlation's line, if it has one.
    turn: Option<Ticket>,
}

/// Reads a message's metadata and event and takes its correlation's ticket.
/// Synchronous: called by the pull loop in the order messages arrive.
pub(super) fn admit<C: Channel>(
    rt: &DestinationRuntime<C>,
    msg: &Message,
    source: Source,
) -> Admission {
    let info = msg.info().map_err(|e| e.to_string());
    let subject = subject_of(msg, source);
    let forced = source == Source::Replay && replay::forced(msg.headers.as_ref());
    let (attempt, event) = match info {
        Ok(i) => {
            let raw = RawEvent {
                subject,
                payload: &msg.payload,
                headers: msg.headers.as_ref(),
                published: i.published,
            };
            (
                Ok((
                    u32::try_from(i.delivered.max(1)).unwrap_or(u32::MAX),
                    i.published,
                )),
                ingest(&raw, rt.shared.limits).map_err(|e| e.to_string()),
            )
        }
        Err(e) => (Err(e), Err("no JetStream metadata".to_owned())),
    };
    let turn = event
        .as_ref()
        .ok()
        .and_then(|e| e.correlation.as_deref())
        .map(|c| rt.turns.ticket(c));
    Admission {
        attempt,
        event,
        forced,
        turn,
    }
}

/// The subject the event was published on (for a replay, the original one).
fn subject_of(msg: &Message, source: Source) -> &str {
    match source {
        Source::Live => msg.subject.as_str(),
        Source::Replay => {
            replay::original_subject(msg.headers.as_ref()).unwrap_or(msg.subject.as_str())
        }
    }
}

/// The span of one delivery: an OpenTelemetry messaging `process` span (kind
/// consumer) whose parent is the publisher's span when the message carries a
/// W3C `traceparent` (and `tracestate`). Disabled, and so free, unless traces
/// are on or the log filter asks for it.
pub(super) fn delivery_span<C: Channel>(
    rt: &DestinationRuntime<C>,
    msg: &Message,
    consumer: &str,
    source: Source,
) -> Span {
    let subject = subject_of(msg, source);
    let span = tracing::debug_span!(
        target: TRACE_TARGET,
        "process",
        otel.name = %format_args!("{subject} process"),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %subject,
        messaging.consumer.group.name = %consumer,
        herald.destination = %rt.name,
        herald.channel = C::NAME,
    );
    if !span.is_disabled()
        && let Some(headers) = msg.headers.as_ref()
    {
        let parent = TraceContextPropagator::new().extract(&NatsHeaders(headers));
        // Fails only when no OpenTelemetry layer is installed (debug logs alone).
        let _ = span.set_parent(parent);
    }
    span
}

/// The span of one send (kind client), a child of the delivery span. The
/// status, outcome and retry delay are recorded when they are known.
fn attempt_span<C: Channel>(rt: &DestinationRuntime<C>, attempt: u32) -> Span {
    tracing::debug_span!(
        target: TRACE_TARGET,
        "send",
        otel.name = %format_args!("{} send", C::NAME),
        otel.kind = "client",
        otel.status_code = Empty,
        herald.destination = %rt.name,
        herald.channel = C::NAME,
        herald.attempt = i64::from(attempt),
        http.response.status_code = Empty,
        herald.smtp.status_code = Empty,
        herald.outcome = Empty,
        herald.retry_delay_ms = Empty,
        error.type = Empty,
    )
}

// Integers are recorded as `i64`: the OpenTelemetry layer exports `u64`
// fields as strings.

/// Records an attempt's provider status: an SMTP reply code for the email
/// channel, an HTTP status for the others.
fn record_status<C: Channel>(span: &Span, status: Option<u16>) {
    if let Some(status) = status {
        if C::NAME == "email" {
            span.record("herald.smtp.status_code", i64::from(status));
        } else {
            span.record("http.response.status_code", i64::from(status));
        }
    }
}

/// Records a failed attempt on its span.
fn record_failure<C: Channel>(span: &Span, failure: &Failure, outcome: &'static str) {
    record_status::<C>(span, failure.status);
    span.record("herald.outcome", outcome);
    span.record("otel.status_code", "error");
    span.record("error.type", failure_reason(failure));
}

/// Reads W3C trace context from NATS headers.
struct NatsHeaders<'a>(&'a HeaderMap);

impl Extractor for NatsHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(async_nats::HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

pub(super) async fn deliver<C: Channel>(
    rt: Arc<DestinationRuntime<C>>,
    msg: Message,
    _slot: OwnedSemaphorePermit,
    admission: Admission,
) {
    let Admission {
        attempt,
        event,
        forced,
        turn,
    } = admission;
    let (attempt, published) = match attempt {
        Ok(a) => a,
        Err(e) => {
            warn!(destination = %rt.name, error = %e, "Message without JetStream metadata; terminating it.");
            ack(&msg, AckKind::Term).await;
            return;
        }
    };
    let event = match event {
        Ok(e) => e,
        Err(error) => {
            rt.metrics.failed("bad_input");
            rt.shared
                .status
                .local_error(&rt.name, C::NAME, Utc::now(), &error);
            let letter = DeadLetter::local(DeadLetterReason::BadInput, &error, attempt);
            dead_letter(&rt, &msg, &letter).await;
            return;
        }
    };
    // Every path from here ends with an ack, NAK or dead letter while the turn is
    // held, so the next event of this correlation waits for it. (A ticket must not
    // be dropped before its turn: the next one would go ahead of this one's
    // predecessor.)
    let _turn = match turn {
        Some(mut t) => {
            t.wait().await;
            Some(t)
        }
        None => None,
    };
    if !rt.when.matches(&event) {
        rt.stats.bump(Count::Filtered);
        rt.note(&msg, Some(&event), Noted::filtered(attempt));
        ack(&msg, AckKind::Ack).await;
        return;
    }
    // The receipt key, when this destination keeps receipts.
    let key = rt.receipts.then(|| receipt_key(&rt.name, &event.id));
    let receipt = match &key {
        Some(k) if !forced => rt.shared.receipts.get(k).await,
        _ => Ok(None),
    };
    match receipt {
        Ok(Some(_)) => {
            debug!(destination = %rt.name, event = %event.id, "Already delivered; acking the redelivery.");
            rt.stats.bump(Count::Duplicate);
            rt.note(&msg, Some(&event), Noted::duplicate(attempt));
            ack(&msg, AckKind::Ack).await;
            return;
        }
        Ok(None) => {}
        Err(e) => {
            warn!(destination = %rt.name, error = %e, "Cannot read receipts; retrying later.");
            ack(&msg, AckKind::Nak(Some(INFRA_RETRY))).await;
            return;
        }
    }
    if let Some(schedule) = rt.channel.schedule() {
        super::digest::hold(&rt, &msg, &event, schedule, attempt).await;
        return;
    }
    let ctx = DeliveryContext {
        destination: rt.name.clone(),
        idempotency_key: idempotency_key(&rt.name, &event.id),
        attempt,
        now: Utc::now(),
        memory: rt.memory.clone(),
    };
    let payload = match rt.channel.render(&event, &ctx) {
        Ok(p) => p,
        Err(e) => {
            let error = e.to_string();
            rt.metrics.failed("render");
            rt.shared
                .status
                .local_error(&rt.name, C::NAME, Utc::now(), &error);
            let letter = DeadLetter::local(DeadLetterReason::Render, &error, attempt);
            dead_letter(&rt, &msg, &letter).await;
            return;
        }
    };
    let span = attempt_span(&rt, attempt);
    let started = tokio::time::Instant::now();
    // Boxed: the send future is most of this one's size, and this one is moved
    // into its task whole.
    let send = Box::pin(rt.channel.send(&payload, &ctx));
    let outcome = tokio::time::timeout(rt.timeout + SEND_GRACE, send)
        .instrument(span.clone())
        .await
        .unwrap_or_else(|_| Outcome::Retry(Failure::new("the send did not finish in time")));
    let took = started.elapsed();
    match outcome {
        Outcome::Delivered {
            handle,
            status,
            hold,
        } => {
            record_status::<C>(&span, status);
            span.record("herald.outcome", "delivered");
            if let Some(hold) = hold {
                debug!(destination = %rt.name, hold_ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX), "The provider's budget is spent; holding sends.");
                rt.gate.pause_for(hold);
            }
            let receipt = Receipt {
                delivered_at: ctx.now,
                handle,
                attempt,
            };
            if let Some(key) = &key
                && let Err(e) = rt.shared.receipts.record(key, &receipt).await
            {
                warn!(destination = %rt.name, error = %e, "Delivered, but the receipt was not written.");
            }
            debug!(destination = %rt.name, event = %event.id, status, attempt, "Delivered.");
            rt.stats.bump(Count::Delivered);
            let now = Utc::now();
            rt.metrics.attempt(AttemptOutcome::Delivered, took);
            rt.metrics.sent((now - published).to_std().ok());
            rt.shared.status.success(&rt.name, C::NAME, now);
            rt.note(&msg, Some(&event), Noted::delivered(status, attempt));
            ack(&msg, AckKind::Ack).await;
        }
        Outcome::Retry(failure) => {
            rt.metrics.attempt(AttemptOutcome::Retry, took);
            report_failure(&rt, &failure);
            if failure.throttled {
                rt.metrics.rate_limited();
                rt.stats.bump(Count::Throttled);
                rt.gate
                    .pause_for(failure.retry_after.unwrap_or(Duration::from_secs(1)));
            }
            match rt
                .retry
                .decide(attempt, failure.retry_after, rand::random::<f64>())
            {
                Decision::RetryAfter(delay) => {
                    record_failure::<C>(&span, &failure, "retry");
                    span.record(
                        "herald.retry_delay_ms",
                        i64::try_from(delay.as_millis()).unwrap_or(i64::MAX),
                    );
                    info!(
                        destination = %rt.name, event = %event.id, attempt,
                        status = failure.status, reason = %failure.reason,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "Delivery failed; will retry."
                    );
                    rt.stats.bump(Count::Retried);
                    rt.metrics.retried();
                    rt.note(&msg, Some(&event), Noted::retry(&failure, attempt));
                    ack(&msg, AckKind::Nak(Some(delay))).await;
                }
                Decision::GiveUp => {
                    record_failure::<C>(&span, &failure, "dead_lettered");
                    let letter = letter(DeadLetterReason::Exhausted, &failure, attempt);
                    dead_letter(&rt, &msg, &letter).await;
                }
            }
        }
        Outcome::Permanent(failure) => {
            rt.metrics.attempt(AttemptOutcome::Permanent, took);
            record_failure::<C>(&span, &failure, "permanent");
            report_failure(&rt, &failure);
            let letter = letter(DeadLetterReason::Permanent, &failure, attempt);
            dead_letter(&rt, &msg, &letter).await;
        }
    }
}

/// Counts a failed attempt and records it in the status record; says loudly
/// when the destination itself needs fixing.
pub(super) fn report_failure<C: Channel>(rt: &DestinationRuntime<C>, failure: &Failure) {
    rt.metrics.failed(failure_reason(failure));
    rt.shared
        .status
        .failure(&rt.name, C::NAME, Utc::now(), failure);
    if failure.broken {
        rt.metrics.broken();
        error!(
            destination = %rt.name, channel = C::NAME, status = failure.status,
            reason = %failure.reason,
            "The destination is broken: every event will fail until its configuration is fixed."
        );
        rt.stats.broken(&failure.reason);
    }
}

fn letter(reason: DeadLetterReason, f: &Failure, attempts: u32) -> DeadLetter<'_> {
    DeadLetter {
        reason,
        error: &f.reason,
        status: f.status,
        excerpt: f.excerpt.as_deref(),
        attempts,
    }
}

/// Stores the dead letter, then terminates the original; if the DLQ cannot be
/// written the event is retried instead, so nothing is lost.
async fn dead_letter<C: Channel>(
    rt: &DestinationRuntime<C>,
    msg: &Message,
    letter: &DeadLetter<'_>,
) {
    match rt
        .shared
        .dlq
        .publish(C::NAME, &rt.name, msg, letter, Utc::now())
        .await
    {
        Ok(seq) => {
            warn!(
                destination = %rt.name, reason = letter.reason.as_str(), error = letter.error,
                status = letter.status, attempts = letter.attempts, dlq_seq = seq,
                "Event dead-lettered."
            );
            rt.stats.bump(Count::DeadLettered);
            rt.metrics.dead_lettered(letter.reason);
            rt.note(msg, None, Noted::letter(letter));
            ack(msg, AckKind::Term).await;
        }
        Err(e) => {
            warn!(destination = %rt.name, error = %e, "Cannot dead-letter; retrying later.");
            ack(msg, AckKind::Nak(Some(INFRA_RETRY))).await;
        }
    }
}

/// Sends an acknowledgement. A failure is logged: the event is then redelivered
/// after `ack_wait`, and the receipt keeps it from being sent twice.
pub(super) async fn ack(msg: &Message, kind: AckKind) {
    if let Err(e) = msg.ack_with(kind).await {
        debug!(error = %e, "Acknowledgement not sent.");
    }
}
