//! The per-destination runtime and its pull loops.
//!
//! Each (destination, pattern) pair has one durable pull consumer and one pull
//! loop. A loop only asks JetStream for as many events as it holds credits for:
//! a credit is a free delivery slot (the destination's concurrency) plus a rate
//! limit token. So nothing waits, ack-pending, in a local buffer where another
//! replica could not take it.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{Consumer, pull};
use async_nats::jetstream::{AckKind, Message};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, debug, warn};

use super::deliver::{Source, ack, admit, deliver, delivery_span};
use super::pull::{Pulled, Puller};
use super::serial::Turns;
use super::stats::DestinationStats;
use super::status::StatusBoard;
use crate::channel::Channel;
use crate::config::When;
use crate::dlq::DeadLetters;
use crate::envelope::Envelope;
use crate::envelope::IngestLimits;
use crate::feed::{Feed, Noted};
use crate::memory::Memory;
use crate::metrics::DestinationMetrics;
use crate::ratelimit::Gate;
use crate::receipts::Receipts;
use crate::retry::RetryPolicy;

/// How long a live pull loop waits for more free slots before it pulls with
/// fewer than `min_pull` credits.
const GATHER: Duration = Duration::from_millis(2);

/// What every destination of a worker shares.
#[derive(Debug)]
pub(super) struct Shared {
    /// The JetStream context of the worker's connection.
    pub(super) js: async_nats::jetstream::Context,
    pub(super) receipts: Receipts,
    pub(super) memory: Memory,
    pub(super) dlq: DeadLetters,
    pub(super) status: StatusBoard,
    /// The live feed of delivery decisions.
    pub(super) feed: Feed,
    pub(super) limits: IngestLimits,
    pub(super) tracker: TaskTracker,
    pub(super) cancel: CancellationToken,
    pub(super) pull_expires: Duration,
    pub(super) max_batch: usize,
    /// The digest stream and claims, when a destination sends digests.
    pub(super) digests: Option<super::digest::Digests>,
}

/// One destination at run time.
#[derive(Debug)]
pub(super) struct DestinationRuntime<C> {
    pub(super) name: String,
    pub(super) channel: C,
    pub(super) when: When,
    pub(super) retry: RetryPolicy,
    pub(super) timeout: Duration,
    /// Whether receipts are looked up before a send and recorded after.
    pub(super) receipts: bool,
    pub(super) gate: Gate,
    pub(super) slots: Arc<Semaphore>,
    /// The fewest credits a live pull request waits for: a quarter of the
    /// slots (at least 1, at most `worker.max_batch`).
    pub(super) min_pull: usize,
    pub(super) stats: Arc<DestinationStats>,
    pub(super) metrics: DestinationMetrics,
    pub(super) shared: Arc<Shared>,
    /// This destination's notes.
    pub(super) memory: Memory,
    /// Turns of events sharing a correlation.
    pub(super) turns: Arc<Turns>,
}

impl<C: Channel> DestinationRuntime<C> {
    /// Publishes one decision about `msg` on the live feed.
    pub(super) fn note(&self, msg: &Message, event: Option<&Envelope>, noted: Noted<'_>) {
        self.shared
            .feed
            .note(C::NAME, &self.name, msg, event, noted);
    }

    /// Waits for one credit: a free slot, then a rate-limit token.
    async fn credit(&self) -> Option<OwnedSemaphorePermit> {
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        self.gate.ready().await;
        Some(slot)
    }

    /// Waits for the credits of one pull request: one credit, then, for
    /// `min_pull > 1`, more slots until there are `min_pull` of them (more if
    /// free right now). Under load, slots come free one at a time; pulling for
    /// each one would make a pull request per event or two, which costs the
    /// server and the worker more than the events themselves. When nothing is
    /// in flight every slot is free, so this never delays a quiet destination.
    /// The wait is short ([`GATHER`]): slots another loop holds (an idle
    /// replay pull) must not hold this one back. A rate limit that holds back
    /// the next token ends it too: the request goes out with what it has.
    async fn credits(&self, min_pull: usize) -> Option<Vec<OwnedSemaphorePermit>> {
        let first = self.credit().await?;
        let mut credits = vec![first];
        self.more_credits(&mut credits);
        if credits.len() >= min_pull {
            return Some(credits);
        }
        let until = tokio::time::Instant::now() + GATHER;
        while credits.len() < min_pull {
            let Ok(slot) = tokio::time::timeout_at(until, self.slots.clone().acquire_owned()).await
            else {
                break;
            };
            let slot = slot.ok()?;
            if !self.gate.try_ready() {
                break;
            }
            credits.push(slot);
            self.more_credits(&mut credits);
        }
        Some(credits)
    }

    /// Takes more credits while they are free right now.
    fn more_credits(&self, credits: &mut Vec<OwnedSemaphorePermit>) {
        while credits.len() < self.shared.max_batch {
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                return;
            };
            if !self.gate.try_ready() {
                return;
            }
            credits.push(slot);
        }
    }
}

/// Pulls events for one consumer until cancelled.
pub(super) async fn pull_loop<C: Channel>(
    rt: Arc<DestinationRuntime<C>>,
    consumer: Consumer<pull::Config>,
    consumer_name: String,
    source: Source,
) {
    let cancel = rt.shared.cancel.clone();
    let mut failures: u32 = 0;
    // Replays are rare and short: they pull for whatever is free.
    let min_pull = match source {
        Source::Live => rt.min_pull,
        Source::Replay => 1,
    };
    let js = rt.shared.js.clone();
    let client = js.client();
    let mut puller = loop {
        let puller = tokio::select! {
            () = cancel.cancelled() => return,
            p = Puller::new(&client, js.clone(), consumer.clone()) => p,
        };
        match puller {
            Ok(p) => break p,
            Err(e) => {
                failures += 1;
                let wait = backoff(failures);
                warn!(consumer = %consumer_name, error = %e, retry_in_ms = wait.as_millis() as u64, "Pull failed.");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    };
    failures = 0;
    loop {
        if source == Source::Replay {
            // The replay consumer is idle nearly always: it waits for work
            // without a delivery slot, so it never holds one the live loops need.
            tokio::select! {
                () = cancel.cancelled() => break,
                () = replay_pending(&consumer, &consumer_name, rt.shared.pull_expires) => {}
            }
        }
        let credits = tokio::select! {
            () = cancel.cancelled() => break,
            c = rt.credits(min_pull) => c,
        };
        let Some(mut credits) = credits else { break };

        let batch = puller.request(credits.len(), rt.shared.pull_expires).await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                failures += 1;
                let wait = backoff(failures);
                warn!(consumer = %consumer_name, error = %e, retry_in_ms = wait.as_millis() as u64, "Pull failed.");
                drop(credits);
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(wait) => continue,
                }
            }
        };
        failures = 0;
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => {
                    finish_batch(&rt, &mut batch, &mut credits, &consumer_name, source).await;
                    return;
                }
                m = batch.next() => m,
            };
            match next {
                None => break,
                Some(Err(e)) => {
                    debug!(consumer = %consumer_name, error = %e, "Pull request ended.");
                    break;
                }
                Some(Ok(msg)) => {
                    let Some(slot) = credits.pop() else {
                        // More than requested: should not happen; let another pull take it.
                        ack(&msg, AckKind::Nak(None)).await;
                        continue;
                    };
                    spawn_delivery(&rt, msg, slot, &consumer_name, source);
                }
            }
        }
    }
}

fn spawn_delivery<C: Channel>(
    rt: &Arc<DestinationRuntime<C>>,
    msg: Message,
    slot: OwnedSemaphorePermit,
    consumer: &str,
    source: Source,
) {
    let span = delivery_span(rt, &msg, consumer, source);
    let admission = admit(rt, &msg, source);
    rt.shared
        .tracker
        .spawn(deliver(rt.clone(), msg, slot, admission).instrument(span));
}

/// On shutdown, the events already on their way to this pull request are
/// delivered like those before them: each holds a credit, and the request ends
/// when its count is reached or the server expires it. (A NAK would leave each
/// one pending on the consumer, unacknowledged, until another pull takes it,
/// and dropping the request would strand it until `ack_wait`.)
async fn finish_batch<C: Channel>(
    rt: &Arc<DestinationRuntime<C>>,
    batch: &mut Pulled<'_>,
    credits: &mut Vec<OwnedSemaphorePermit>,
    consumer: &str,
    source: Source,
) {
    let deadline = tokio::time::Instant::now() + rt.shared.pull_expires + Duration::from_secs(1);
    let mut finished = 0usize;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, batch.next()).await {
        match credits.pop() {
            Some(slot) => {
                spawn_delivery(rt, msg, slot, consumer, source);
                finished += 1;
            }
            None => ack(&msg, AckKind::Nak(None)).await,
        }
    }
    debug!(
        consumer,
        finished, "Events already pulled delivered on shutdown."
    );
}

/// Returns once the replay consumer has events to deliver (new ones, or ones
/// waiting for a redelivery), asking the server every `interval` (at most 1 s).
async fn replay_pending(consumer: &Consumer<pull::Config>, name: &str, interval: Duration) {
    let interval = interval.min(Duration::from_secs(1));
    loop {
        match consumer.get_info().await {
            Ok(info) if info.num_pending > 0 || info.num_ack_pending > 0 => return,
            Ok(_) => {}
            Err(e) => debug!(consumer = %name, error = %e, "Replay consumer info failed."),
        }
        tokio::time::sleep(interval).await;
    }
}

/// 100 ms, doubling, at most 5 s.
fn backoff(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << failures.min(6));
    Duration::from_millis(ms.min(5_000))
}
