//! Counters per destination, read by tests, the demo and (later) metrics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one destination.
#[derive(Debug, Default)]
pub struct DestinationStats {
    delivered: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    filtered: AtomicU64,
    duplicates: AtomicU64,
    throttled: AtomicU64,
    held: AtomicU64,
    digests: AtomicU64,
    broken: AtomicU64,
    broken_reason: Mutex<Option<String>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Events the provider accepted.
    pub delivered: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Events sent to the DLQ.
    pub dead_lettered: u64,
    /// Events skipped by the destination's `when` filter.
    pub filtered: u64,
    /// Redeliveries acked without sending because a receipt existed.
    pub duplicates: u64,
    /// Throttling answers (429) received.
    pub throttled: u64,
    /// Events added to a digest window.
    pub held: u64,
    /// Digests the provider accepted.
    pub digests: u64,
    /// Failures that said the destination itself is broken.
    pub broken: u64,
}

/// Which counter to bump.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Delivered,
    Retried,
    DeadLettered,
    Filtered,
    Duplicate,
    Throttled,
    Held,
    Digest,
}

impl DestinationStats {
    pub(crate) fn bump(&self, c: Count) {
        let counter = match c {
            Count::Delivered => &self.delivered,
            Count::Retried => &self.retried,
            Count::DeadLettered => &self.dead_lettered,
            Count::Filtered => &self.filtered,
            Count::Duplicate => &self.duplicates,
            Count::Throttled => &self.throttled,
            Count::Held => &self.held,
            Count::Digest => &self.digests,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            held: self.held.load(Ordering::Relaxed),
            digests: self.digests.load(Ordering::Relaxed),
            broken: self.broken.load(Ordering::Relaxed),
        }
    }

    /// Records that the destination reported itself broken, and why.
    pub(crate) fn broken(&self, reason: &str) {
        self.broken.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut r) = self.broken_reason.lock() {
            *r = Some(reason.to_owned());
        }
    }

    /// Why the destination last reported itself broken, if it ever did.
    pub fn broken_reason(&self) -> Option<String> {
        self.broken_reason.lock().ok().and_then(|r| r.clone())
    }
}
