//! Digest destinations at run time: holding events in their window, and
//! sending each closed window once.
//!
//! Holding is a delivery like any other: the event is appended to its window in
//! the digest stream (confirmed by JetStream), a receipt is written, then the
//! event is acked. Sending runs in a loop per destination on every replica:
//! each closed window with events is claimed ([`Leases`]); the winner reads it,
//! has the channel render the digest, sends it with the destination's retry
//! schedule (renewing the claim while it waits), marks the window sent and
//! purges it. A replica that dies while sending leaves a claim that goes stale,
//! and another replica (or the same one, restarted) sends the window instead.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use chrono::{DateTime, Utc};
use tracing::{debug, error, info, warn};

use super::deliver::{INFRA_RETRY, SEND_GRACE, ack, report_failure};
use super::runtime::DestinationRuntime;
use super::stats::Count;
use crate::channel::{Channel, DeliveryContext};
use crate::digest::{Claim, Digest, DigestStore, Lease, Leases, Schedule, Stored};
use crate::dlq::{DeadLetter, DeadLetterReason};
use crate::envelope::{Envelope, RawEvent, ingest};
use crate::feed::Noted;
use crate::metrics::AttemptOutcome;
use crate::outcome::{Failure, Outcome};
use crate::receipts::{Receipt, idempotency_key, receipt_key};
use crate::replay;
use crate::retry::Decision;

/// What the digest destinations of a worker share.
#[derive(Debug)]
pub(super) struct Digests {
    pub(super) store: DigestStore,
    pub(super) leases: Leases,
    pub(super) grace: Duration,
    pub(super) lease: Duration,
    pub(super) check_interval: Duration,
}

/// Appends an event to its open window, records a receipt and acks it.
pub(super) async fn hold<C: Channel>(
    rt: &DestinationRuntime<C>,
    msg: &Message,
    event: &Envelope,
    schedule: &Schedule,
    attempt: u32,
) {
    let Some(digests) = rt.shared.digests.as_ref() else {
        warn!(destination = %rt.name, "Digest stream not set up; retrying later.");
        ack(msg, AckKind::Nak(Some(INFRA_RETRY))).await;
        return;
    };
    let now = Utc::now();
    let end = schedule.window_end(now);
    let subject = replay::original_subject(msg.headers.as_ref()).unwrap_or(msg.subject.as_str());
    // A replayed event must not be taken for the first append of the same event.
    let tag = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(replay::headers::DLQ_SEQ))
        .map(|s| format!(".replay{}", s.as_str()))
        .unwrap_or_default();
    if let Err(e) = digests
        .store
        .append(
            &rt.name,
            end,
            &event.id,
            subject,
            msg.headers.as_ref(),
            msg.payload.clone(),
            &tag,
        )
        .await
    {
        warn!(destination = %rt.name, error = %e, "Cannot add the event to its digest; retrying later.");
        ack(msg, AckKind::Nak(Some(INFRA_RETRY))).await;
        return;
    }
    let receipt = Receipt {
        delivered_at: now,
        handle: Some(format!("digest window ending {}", end.to_rfc3339())),
        attempt,
    };
    if let Err(e) = rt
        .shared
        .receipts
        .record(&receipt_key(&rt.name, &event.id), &receipt)
        .await
    {
        debug!(destination = %rt.name, error = %e, "Held, but the receipt was not written.");
    }
    debug!(destination = %rt.name, event = %event.id, window_end = %end, "Held for the digest.");
    rt.stats.bump(Count::Held);
    rt.note(msg, Some(event), Noted::held(attempt));
    ack(msg, AckKind::Ack).await;
}

/// Sends the closed windows of one destination, until the worker stops.
pub(super) async fn send_loop<C: Channel>(rt: Arc<DestinationRuntime<C>>, schedule: Schedule) {
    let Some(digests) = rt.shared.digests.as_ref() else {
        return;
    };
    let cancel = rt.shared.cancel.clone();
    loop {
        let now = Utc::now();
        match digests.store.windows(&rt.name).await {
            Ok(ends) => {
                for end in ends {
                    let due = end + chrono::TimeDelta::from_std(digests.grace).unwrap_or_default();
                    if due > now || cancel.is_cancelled() {
                        break;
                    }
                    send_window(&rt, digests, &schedule, end).await;
                }
            }
            Err(e) => debug!(destination = %rt.name, error = %e, "Cannot list digest windows."),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(digests.check_interval) => {}
        }
    }
}

/// Claims, reads, renders and sends one closed window.
async fn send_window<C: Channel>(
    rt: &DestinationRuntime<C>,
    digests: &Digests,
    schedule: &Schedule,
    end: DateTime<Utc>,
) {
    let mut lease = match digests.leases.claim(&rt.name, end, Utc::now()).await {
        Ok(Claim::Won(lease)) => lease,
        Ok(Claim::Busy) => return,
        Ok(Claim::Done) => {
            move_late(rt, digests, schedule, end).await;
            return;
        }
        Err(e) => {
            warn!(destination = %rt.name, error = %e, "Cannot claim a digest window.");
            return;
        }
    };
    let stored = match digests.store.read(&rt.name, end).await {
        Ok(s) => s,
        Err(e) => {
            warn!(destination = %rt.name, error = %e, "Cannot read a digest window; trying again.");
            let _ = digests.leases.release(lease).await;
            return;
        }
    };
    let Some(last) = stored.iter().map(|s| s.sequence).max() else {
        // An empty window sends nothing.
        let _ = digests.leases.sent(&lease, Utc::now()).await;
        return;
    };
    let mut events = Vec::with_capacity(stored.len());
    for s in &stored {
        match read_event(rt, &s.message) {
            Ok(e) => events.push(e),
            Err(error) => {
                // Checked before it was held, so only a changed limit gets here.
                let letter = DeadLetter::local(DeadLetterReason::BadInput, &error, 1);
                if !dead_letter(rt, std::slice::from_ref(s), &letter).await {
                    let _ = digests.leases.release(lease).await;
                    return;
                }
            }
        }
    }
    let digest = Digest::new(&rt.name, schedule, schedule.window_start(end), end, events);
    let mut ctx = DeliveryContext {
        destination: rt.name.clone(),
        idempotency_key: idempotency_key(&rt.name, &format!("digest:{}", end.timestamp_millis())),
        attempt: 1,
        now: Utc::now(),
        memory: rt.memory.clone(),
    };
    if digest.events.is_empty() {
        finish(rt, digests, &lease, end, last, false).await;
        return;
    }
    let payload = match rt.channel.render_digest(&digest, &ctx) {
        Ok(Some(p)) => p,
        Ok(None) => {
            info!(destination = %rt.name, events = digest.events.len(), window_end = %end, "Nothing to send for this window.");
            finish(rt, digests, &lease, end, last, false).await;
            return;
        }
        Err(e) => {
            let error = e.to_string();
            rt.metrics.failed("render");
            rt.shared
                .status
                .local_error(&rt.name, C::NAME, Utc::now(), &error);
            let letter = DeadLetter::local(DeadLetterReason::Render, &error, 1);
            give_up(rt, digests, lease, &stored, &letter, end, last).await;
            return;
        }
    };
    loop {
        rt.gate.ready().await;
        let started = tokio::time::Instant::now();
        let outcome = {
            let send =
                tokio::time::timeout(rt.timeout + SEND_GRACE, rt.channel.send(&payload, &ctx));
            tokio::pin!(send);
            loop {
                tokio::select! {
                    o = &mut send => break o.unwrap_or_else(|_| Outcome::Retry(Failure::new("the send did not finish in time"))),
                    () = tokio::time::sleep(digests.lease / 3) => {
                        if !renew(rt, digests, &mut lease).await {
                            return;
                        }
                    }
                }
            }
        };
        let took = started.elapsed();
        match outcome {
            Outcome::Delivered { hold, .. } => {
                if let Some(hold) = hold {
                    rt.gate.pause_for(hold);
                }
                rt.metrics.attempt(AttemptOutcome::Delivered, took);
                rt.metrics.sent((Utc::now() - end).to_std().ok());
                rt.shared.status.success(&rt.name, C::NAME, Utc::now());
                rt.stats.bump(Count::Digest);
                info!(
                    destination = %rt.name, events = digest.events.len(), window_end = %end,
                    attempt = ctx.attempt, "Digest sent."
                );
                finish(rt, digests, &lease, end, last, true).await;
                return;
            }
            Outcome::Retry(failure) => {
                rt.metrics.attempt(AttemptOutcome::Retry, took);
                report_failure(rt, &failure);
                if failure.throttled {
                    rt.metrics.rate_limited();
                    rt.stats.bump(Count::Throttled);
                    rt.gate
                        .pause_for(failure.retry_after.unwrap_or(Duration::from_secs(1)));
                }
                match rt
                    .retry
                    .decide(ctx.attempt, failure.retry_after, rand::random::<f64>())
                {
                    Decision::RetryAfter(delay) => {
                        info!(
                            destination = %rt.name, attempt = ctx.attempt, status = failure.status,
                            reason = %failure.reason,
                            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                            "Digest not sent; will retry."
                        );
                        rt.stats.bump(Count::Retried);
                        rt.metrics.retried();
                        if !wait(rt, digests, &mut lease, delay).await {
                            return;
                        }
                        ctx.attempt += 1;
                        ctx.now = Utc::now();
                    }
                    Decision::GiveUp => {
                        let letter = letter(DeadLetterReason::Exhausted, &failure, ctx.attempt);
                        give_up(rt, digests, lease, &stored, &letter, end, last).await;
                        return;
                    }
                }
            }
            Outcome::Permanent(failure) => {
                rt.metrics.attempt(AttemptOutcome::Permanent, took);
                report_failure(rt, &failure);
                let letter = letter(DeadLetterReason::Permanent, &failure, ctx.attempt);
                give_up(rt, digests, lease, &stored, &letter, end, last).await;
                return;
            }
        }
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

/// Reads a held event back as the worker first read it.
fn read_event<C: Channel>(rt: &DestinationRuntime<C>, msg: &Message) -> Result<Envelope, String> {
    let info = msg.info().map_err(|e| e.to_string())?;
    let raw = RawEvent {
        subject: replay::original_subject(msg.headers.as_ref()).unwrap_or(msg.subject.as_str()),
        payload: &msg.payload,
        headers: msg.headers.as_ref(),
        published: info.published,
    };
    ingest(&raw, rt.shared.limits).map_err(|e| e.to_string())
}

/// Renews the claim; `false` (and a warning) when another replica took it.
async fn renew<C: Channel>(
    rt: &DestinationRuntime<C>,
    digests: &Digests,
    lease: &mut Lease,
) -> bool {
    match digests.leases.renew(lease, Utc::now()).await {
        Ok(true) => true,
        Ok(false) => {
            warn!(destination = %rt.name, "Another replica took this digest over; leaving it to it.");
            false
        }
        // Keep going: the claim is good until it goes stale.
        Err(e) => {
            debug!(destination = %rt.name, error = %e, "Cannot renew the digest claim.");
            true
        }
    }
}

/// Waits `delay` before a retry, renewing the claim. `false` when the worker
/// stops (the claim is released for the next start) or the claim was lost.
async fn wait<C: Channel>(
    rt: &DestinationRuntime<C>,
    digests: &Digests,
    lease: &mut Lease,
    delay: Duration,
) -> bool {
    let until = tokio::time::Instant::now() + delay;
    loop {
        let step =
            (digests.lease / 3).min(until.saturating_duration_since(tokio::time::Instant::now()));
        if step.is_zero() {
            return true;
        }
        tokio::select! {
            () = rt.shared.cancel.cancelled() => {
                let _ = digests.leases.release(lease.clone()).await;
                return false;
            }
            () = tokio::time::sleep(step) => {
                if !renew(rt, digests, lease).await {
                    return false;
                }
            }
        }
    }
}

/// Marks the window sent and purges what it held.
async fn finish<C: Channel>(
    rt: &DestinationRuntime<C>,
    digests: &Digests,
    lease: &Lease,
    end: DateTime<Utc>,
    last: u64,
    sent: bool,
) {
    if let Err(e) = digests.leases.sent(lease, Utc::now()).await {
        warn!(destination = %rt.name, error = %e, sent, "Cannot mark the digest window done.");
        return;
    }
    if let Err(e) = digests.store.purge(&rt.name, end, last).await {
        warn!(destination = %rt.name, error = %e, "Cannot purge the digest window.");
    }
}

/// Dead-letters every event of a window whose digest cannot be sent, forgets
/// their receipts (so a replay delivers them), marks the window failed and
/// purges it.
async fn give_up<C: Channel>(
    rt: &DestinationRuntime<C>,
    digests: &Digests,
    lease: Lease,
    stored: &[Stored],
    letter: &DeadLetter<'_>,
    end: DateTime<Utc>,
    last: u64,
) {
    error!(
        destination = %rt.name, events = stored.len(), reason = letter.error,
        "Digest not sent; its events are dead-lettered."
    );
    if !dead_letter(rt, stored, letter).await {
        let _ = digests.leases.release(lease).await;
        return;
    }
    if let Err(e) = digests.leases.failed(&lease, Utc::now()).await {
        warn!(destination = %rt.name, error = %e, "Cannot mark the digest window failed.");
        return;
    }
    if let Err(e) = digests.store.purge(&rt.name, end, last).await {
        warn!(destination = %rt.name, error = %e, "Cannot purge the digest window.");
    }
}

/// Dead-letters stored events; `false` when the DLQ refused one (nothing is
/// purged then, and the window is tried again: the DLQ's message ids keep
/// letters from being stored twice).
async fn dead_letter<C: Channel>(
    rt: &DestinationRuntime<C>,
    stored: &[Stored],
    letter: &DeadLetter<'_>,
) -> bool {
    for s in stored {
        if let Err(e) = rt
            .shared
            .dlq
            .publish(C::NAME, &rt.name, &s.message, letter, Utc::now())
            .await
        {
            warn!(destination = %rt.name, error = %e, "Cannot dead-letter a digest event; trying again.");
            return false;
        }
        rt.stats.bump(Count::DeadLettered);
        rt.metrics.dead_lettered(letter.reason);
        if let Ok(event) = read_event(rt, &s.message) {
            let _ = rt
                .shared
                .receipts
                .forget(&receipt_key(&rt.name, &event.id))
                .await;
        }
    }
    true
}

/// Events that reached a window after its digest was sent go to the open window.
async fn move_late<C: Channel>(
    rt: &DestinationRuntime<C>,
    digests: &Digests,
    schedule: &Schedule,
    end: DateTime<Utc>,
) {
    let Ok(stored) = digests.store.read(&rt.name, end).await else {
        return;
    };
    let Some(last) = stored.iter().map(|s| s.sequence).max() else {
        return;
    };
    let next = schedule.window_end(Utc::now());
    for s in &stored {
        let Ok(event) = read_event(rt, &s.message) else {
            continue;
        };
        let subject = replay::original_subject(s.message.headers.as_ref())
            .unwrap_or(s.message.subject.as_str());
        if let Err(e) = digests
            .store
            .append(
                &rt.name,
                next,
                &event.id,
                subject,
                s.message.headers.as_ref(),
                s.message.payload.clone(),
                &format!(".late{}", s.sequence),
            )
            .await
        {
            warn!(destination = %rt.name, error = %e, "Cannot move a late event to the open digest window.");
            return;
        }
    }
    info!(destination = %rt.name, events = stored.len(), window_end = %next, "Late events moved to the open digest window.");
    if let Err(e) = digests.store.purge(&rt.name, end, last).await {
        warn!(destination = %rt.name, error = %e, "Cannot purge a sent digest window.");
    }
}
