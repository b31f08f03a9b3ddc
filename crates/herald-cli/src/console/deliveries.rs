//! Live deliveries: the console follows the workers' feed
//! (`<status.feed_subject_prefix>.*.*`) and keeps the last entries in memory;
//! the page polls `GET /api/deliveries?after=<n>` for what is new. Workers
//! publish entries only while a watcher is there, so the console announces
//! itself on `<prefix>.watchers` every `WATCH_INTERVAL` and answers a starting
//! worker's question there.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use anyhow::Context as _;
use axum::Json;
use axum::extract::{Query, State};
use bytes::Bytes;
use futures::StreamExt as _;
use herald_core::config::StatusConfig;
use herald_core::feed::{FeedEntry, WATCH_INTERVAL, feed_filter, watch_subject};
use serde::{Deserialize, Serialize};
use tracing::debug;

use super::Console;
use super::error::ApiResult;

/// The last feed entries, numbered from 1 in arrival order.
#[derive(Debug)]
pub(crate) struct Deliveries {
    keep: usize,
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    last: u64,
    entries: VecDeque<(u64, FeedEntry)>,
}

impl Deliveries {
    /// Subscribes to the feed on `client` (when the workers publish one),
    /// announces the console to the workers and keeps the last `keep` entries.
    /// Returns once the subscription is in place and the first announcement
    /// sent.
    pub(crate) async fn follow(
        client: &async_nats::Client,
        status: &StatusConfig,
        keep: usize,
    ) -> anyhow::Result<Arc<Self>> {
        let deliveries = Arc::new(Self {
            keep,
            ring: Mutex::new(Ring::default()),
        });
        if !status.feed {
            return Ok(deliveries);
        }
        let mut sub = client
            .subscribe(feed_filter(&status.feed_subject_prefix))
            .await
            .context("subscribing to the live feed")?;
        let watchers = watch_subject(&status.feed_subject_prefix);
        let questions = client
            .subscribe(watchers.clone())
            .await
            .context("subscribing to the feed's watchers")?;
        client
            .publish(watchers.clone(), Bytes::new())
            .await
            .context("announcing the console to the workers")?;
        client
            .flush()
            .await
            .context("subscribing to the live feed")?;
        tokio::spawn(announce(
            client.clone(),
            watchers,
            questions,
            Arc::downgrade(&deliveries),
        ));
        let weak = Arc::downgrade(&deliveries);
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let Some(d) = weak.upgrade() else { break };
                match serde_json::from_slice::<FeedEntry>(&msg.payload) {
                    Ok(entry) => d.push(entry),
                    Err(e) => debug!(subject = %msg.subject, error = %e, "Not a feed entry."),
                }
            }
        });
        Ok(deliveries)
    }

    fn push(&self, entry: FeedEntry) {
        let mut ring = match self.ring.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        ring.last += 1;
        let n = ring.last;
        ring.entries.push_back((n, entry));
        while ring.entries.len() > self.keep {
            ring.entries.pop_front();
        }
    }

    /// The entries numbered after `after`, oldest first, and the last number.
    fn since(&self, after: u64) -> (Vec<(u64, FeedEntry)>, u64) {
        let ring = match self.ring.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entries = ring
            .entries
            .iter()
            .filter(|(n, _)| *n > after)
            .cloned()
            .collect();
        (entries, ring.last)
    }
}

/// Announces the console every [`WATCH_INTERVAL`] and answers the workers'
/// questions on `watchers`, until the deliveries are dropped.
async fn announce(
    client: async_nats::Client,
    watchers: String,
    mut questions: async_nats::Subscriber,
    deliveries: Weak<Deliveries>,
) {
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is now; the first announcement was sent already.
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if deliveries.strong_count() == 0 {
                    break;
                }
                if let Err(e) = client.publish(watchers.clone(), Bytes::new()).await {
                    debug!(error = %e, "Announcement to the workers not sent.");
                }
            }
            question = questions.next() => match question {
                Some(q) => {
                    if let Some(reply) = q.reply
                        && let Err(e) = client.publish(reply, Bytes::new()).await
                    {
                        debug!(error = %e, "Answer to a worker not sent.");
                    }
                }
                None => break,
            },
        }
    }
}

/// `?after=`.
#[derive(Debug, Deserialize)]
pub(crate) struct After {
    #[serde(default)]
    after: u64,
}

/// One delivery as the page shows it.
#[derive(Debug, Serialize)]
pub(crate) struct DeliveryView {
    /// Its number, for `?after=`.
    n: u64,
    #[serde(flatten)]
    entry: FeedEntry,
    /// Jaeger's page of the trace, when linked.
    trace_url: Option<String>,
}

/// `GET /api/deliveries`.
#[derive(Debug, Serialize)]
pub(crate) struct Recent {
    /// The last number handed out (pass it as `after` next time).
    last: u64,
    entries: Vec<DeliveryView>,
}

/// `GET /api/deliveries?after=<n>`: the kept entries after `n`.
pub(crate) async fn recent(
    State(console): State<Arc<Console>>,
    Query(after): Query<After>,
) -> ApiResult<Recent> {
    let (entries, last) = console.deliveries.since(after.after);
    let entries = entries
        .into_iter()
        .map(|(n, entry)| DeliveryView {
            n,
            trace_url: match (&console.jaeger_url, &entry.trace_id) {
                (Some(url), Some(id)) => Some(format!("{url}/trace/{id}")),
                _ => None,
            },
            entry,
        })
        .collect();
    Ok(Json(Recent { last, entries }))
}

#[cfg(test)]
mod unit {
    use super::*;
    use herald_core::feed::FeedOutcome;

    fn entry(id: &str) -> FeedEntry {
        FeedEntry {
            time: chrono::Utc::now(),
            destination: "ops".into(),
            channel: "webhook".into(),
            event_id: id.into(),
            event_type: "rotation.failed".into(),
            subject: "rotation.failed".into(),
            outcome: FeedOutcome::Delivered,
            status: Some(200),
            reason: None,
            attempt: 1,
            trace_id: None,
        }
    }

    #[test]
    fn only_the_last_entries_are_kept_and_numbered() {
        let d = Deliveries {
            keep: 2,
            ring: Mutex::new(Ring::default()),
        };
        for id in ["a", "b", "c"] {
            d.push(entry(id));
        }
        let (all, last) = d.since(0);
        assert_eq!(last, 3);
        let ids: Vec<_> = all.iter().map(|(n, e)| (*n, e.event_id.as_str())).collect();
        assert_eq!(ids, vec![(2, "b"), (3, "c")]);
        assert!(d.since(3).0.is_empty());
    }
}
