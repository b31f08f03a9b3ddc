//! Writing status records: this process's view of each destination, merged
//! into the status bucket when it changes.
//!
//! Writes are throttled: a change of state (a destination starts failing,
//! recovers, or reports itself broken) is written at once, but at most once per
//! [`MIN_GAP`]; any other change (one more success) waits for `status.interval`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::outcome::Failure;
use crate::status::{StatusRecord, StatusStore};

/// Shortest time between two rounds of writes.
const MIN_GAP: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Local {
    record: StatusRecord,
    dirty: bool,
    /// Written at least once by this process.
    written: bool,
}

/// The records of every destination of this process.
#[derive(Debug)]
pub(super) struct StatusBoard {
    store: StatusStore,
    records: Mutex<BTreeMap<String, Local>>,
    urgent: Notify,
}

impl StatusBoard {
    pub(super) fn new(store: StatusStore) -> Self {
        Self {
            store,
            records: Mutex::new(BTreeMap::new()),
            urgent: Notify::new(),
        }
    }

    /// Applies `change` to the destination's record; wakes the writer at once
    /// when the destination's state (failing, broken) changed.
    fn update(
        &self,
        destination: &str,
        channel: &str,
        now: DateTime<Utc>,
        change: impl FnOnce(&mut StatusRecord),
    ) {
        let mut records = match self.records.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let local = records
            .entry(destination.to_owned())
            .or_insert_with(|| Local {
                record: StatusRecord::new(destination, channel, now),
                dirty: false,
                written: false,
            });
        let before = (local.record.is_failing(), local.record.is_broken());
        change(&mut local.record);
        local.record.updated_at = now;
        let first = !local.written;
        local.dirty = true;
        let after = (local.record.is_failing(), local.record.is_broken());
        drop(records);
        if before != after || first {
            self.urgent.notify_one();
        }
    }

    pub(super) fn success(&self, destination: &str, channel: &str, now: DateTime<Utc>) {
        self.update(destination, channel, now, |r| r.success(now));
    }

    pub(super) fn failure(
        &self,
        destination: &str,
        channel: &str,
        now: DateTime<Utc>,
        f: &Failure,
    ) {
        let reason = match f.status {
            Some(s) => format!("{s}: {}", f.reason),
            None => f.reason.clone(),
        };
        self.update(destination, channel, now, |r| {
            r.error(now, &reason, f.status);
            if f.broken {
                r.broken(now, &f.reason);
            }
        });
    }

    pub(super) fn local_error(
        &self,
        destination: &str,
        channel: &str,
        now: DateTime<Utc>,
        reason: &str,
    ) {
        self.update(destination, channel, now, |r| r.error(now, reason, None));
    }

    /// Writes every changed record. A record that cannot be written stays
    /// marked and is tried again next round.
    pub(super) async fn flush(&self) {
        let dirty: Vec<StatusRecord> = {
            let mut records = match self.records.lock() {
                Ok(r) => r,
                Err(poisoned) => poisoned.into_inner(),
            };
            records
                .values_mut()
                .filter(|l| l.dirty)
                .map(|l| {
                    l.dirty = false;
                    l.record.clone()
                })
                .collect()
        };
        for record in dirty {
            let written = self.store.merge(&record).await;
            let mut records = match self.records.lock() {
                Ok(r) => r,
                Err(poisoned) => poisoned.into_inner(),
            };
            let Some(local) = records.get_mut(&record.destination) else {
                continue;
            };
            if let Err(e) = written {
                debug!(destination = %record.destination, error = %e, "Status record not written; trying again later.");
                local.dirty = true;
            } else {
                local.written = true;
            }
        }
    }

    /// Writes changes until `stop` is cancelled: at once after a change of
    /// state (at most once per [`MIN_GAP`]), else every `interval`.
    pub(super) async fn run(&self, interval: Duration, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.urgent.notified() => {}
                () = tokio::time::sleep(interval) => {}
            }
            self.flush().await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(MIN_GAP) => {}
            }
        }
    }
}
