//! Who watches the feed: workers build and publish entries only while a
//! watcher (`herald console`) has announced itself in the last [`WATCH_TTL`].
//!
//! The watch subject is `<status.feed_subject_prefix>.watchers`, outside the
//! entries' `<prefix>.<channel>.<destination>`. On it:
//! - a watcher publishes an announcement (no reply subject) when it starts
//!   and every [`WATCH_INTERVAL`] after, and answers every request;
//! - a worker, when it starts, asks once (a request): an answer means a
//!   watcher is already there, so the first decisions are not missed.
//!
//! Requests seen by a worker are other workers asking; they are ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use tokio::time::Instant;
use tracing::debug;

/// How often a watcher announces itself.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// How long a worker keeps publishing after the last announcement: three
/// announcements may be lost before entries stop.
pub const WATCH_TTL: Duration = Duration::from_secs(6);

/// How long a starting worker waits for a watcher's answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// The subject watchers announce themselves on.
pub fn watch_subject(prefix: &str) -> String {
    format!("{prefix}.watchers")
}

/// Whether a watcher announced itself lately; read on every decision.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watched(Arc<AtomicBool>);

impl Watched {
    /// Always watched (`status.feed_always`).
    pub(crate) fn always() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    /// Whether entries are wanted now.
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

/// Subscribes to the watch subject, asks once whether a watcher is there,
/// then keeps `watched` up to date until the connection closes. When the
/// subscription cannot be made, entries are published regardless.
pub(crate) async fn follow(client: async_nats::Client, prefix: String, watched: Watched) {
    let subject = watch_subject(&prefix);
    let sub = match client.subscribe(subject.clone()).await {
        Ok(s) => s,
        Err(e) => {
            debug!(error = %e, "Cannot follow the feed's watchers; publishing every entry.");
            watched.set(true);
            return;
        }
    };
    // The question is answered (or not) while announcements are followed: an
    // answer counts as one announcement.
    let ask = async move {
        let asked = tokio::time::timeout(ASK_TIMEOUT, client.request(subject, Bytes::new())).await;
        matches!(asked, Ok(Ok(_)))
    };
    let answer = futures::stream::once(ask);
    let heard = futures::stream::select(sub.map(|m| m.reply.is_none()), answer);
    track(heard, watched).await;
}

/// The watch state machine: `heard` yields one item per message on the watch
/// subject (`true` for an announcement or a watcher's answer, `false` for
/// anything else); `watched` turns on at each announcement and off
/// [`WATCH_TTL`] after the last one.
pub(crate) async fn track(heard: impl Stream<Item = bool>, watched: Watched) {
    let mut heard = std::pin::pin!(heard);
    let mut until: Option<Instant> = None;
    watched.set(false);
    loop {
        let expiry = async {
            match until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            item = heard.next() => match item {
                Some(true) => {
                    until = Some(Instant::now() + WATCH_TTL);
                    if !watched.get() {
                        debug!("A watcher announced itself; publishing the feed.");
                    }
                    watched.set(true);
                }
                Some(false) => {}
                None => break,
            },
            () = expiry => {
                debug!("No watcher announced itself lately; the feed is quiet.");
                until = None;
                watched.set(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc;

    /// Lets the tracker task run until it waits again.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn announcements_turn_the_feed_on_until_they_stop() {
        let (tx, rx) = mpsc::unbounded::<bool>();
        let watched = Watched::default();
        let task = tokio::spawn(track(rx, watched.clone()));
        settle().await;
        assert!(!watched.get(), "nobody announced yet");

        // Another worker's question changes nothing.
        tx.unbounded_send(false).unwrap();
        settle().await;
        assert!(!watched.get());

        tx.unbounded_send(true).unwrap();
        settle().await;
        assert!(watched.get(), "on at the announcement");

        // Announcements every interval keep it on past one TTL.
        for _ in 0..5 {
            tokio::time::advance(WATCH_INTERVAL).await;
            tx.unbounded_send(true).unwrap();
            settle().await;
            assert!(watched.get());
        }

        // Silence: still on just before the TTL, off after it.
        tokio::time::advance(WATCH_TTL - Duration::from_millis(1)).await;
        settle().await;
        assert!(watched.get(), "still within the TTL");
        tokio::time::advance(Duration::from_millis(2)).await;
        settle().await;
        assert!(!watched.get(), "off after the TTL");

        // A later announcement turns it on again.
        tx.unbounded_send(true).unwrap();
        settle().await;
        assert!(watched.get());

        drop(tx);
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_at_start_turns_it_on_for_one_ttl() {
        let (tx, rx) = mpsc::unbounded::<bool>();
        let watched = Watched::default();
        // The answer to the start-up question, then silence.
        let answer = futures::stream::once(async { true });
        let task = tokio::spawn(track(futures::stream::select(rx, answer), watched.clone()));
        settle().await;
        assert!(watched.get());
        tokio::time::advance(WATCH_TTL + Duration::from_millis(1)).await;
        settle().await;
        assert!(!watched.get());
        drop(tx);
        task.await.unwrap();
    }
}
