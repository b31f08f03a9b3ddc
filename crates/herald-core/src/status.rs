//! Status records: what every process can read about a destination.
//!
//! One small JSON record per destination, key `<destination>` in the status
//! bucket (`herald_status`): when it last delivered, its last error, and when it
//! last reported itself broken. Workers write it when something changes
//! (throttled, see `worker::status`); `herald status` reads it. Several replicas
//! write the same key, so a write merges with what is stored (the newest of each
//! field wins) under a compare-and-set on the entry's revision.

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest error text kept in a record.
const MAX_ERROR: usize = 512;

/// How many times a write retries after another replica wrote first.
const CAS_TRIES: usize = 5;

/// A destination's last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What went wrong (the provider's status and reason, as logged).
    pub reason: String,
    /// The provider's status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// The last time a destination reported itself broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenReport {
    /// When.
    pub at: DateTime<Utc>,
    /// Why (the provider's answer).
    pub reason: String,
}

/// What is known about one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// The destination.
    pub destination: String,
    /// Its channel.
    pub channel: String,
    /// When an event was last delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<Utc>>,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// The last report that the destination is broken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_broken: Option<BrokenReport>,
    /// When the record was last written.
    pub updated_at: DateTime<Utc>,
}

fn newest<T: Clone>(a: Option<&T>, b: Option<&T>, at: impl Fn(&T) -> DateTime<Utc>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if at(y) > at(x) { y.clone() } else { x.clone() }),
        (x, y) => x.or(y).cloned(),
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl StatusRecord {
    /// An empty record.
    pub fn new(destination: &str, channel: &str, now: DateTime<Utc>) -> Self {
        Self {
            destination: destination.to_owned(),
            channel: channel.to_owned(),
            last_success: None,
            last_error: None,
            last_broken: None,
            updated_at: now,
        }
    }

    /// Broken when the last broken report is newer than the last success.
    pub fn is_broken(&self) -> bool {
        match (&self.last_broken, self.last_success) {
            (Some(b), Some(ok)) => b.at > ok,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Failing when the last error is newer than the last success.
    pub fn is_failing(&self) -> bool {
        match (&self.last_error, self.last_success) {
            (Some(e), Some(ok)) => e.at > ok,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Records a delivery.
    pub fn success(&mut self, at: DateTime<Utc>) {
        self.last_success = self.last_success.max(Some(at));
    }

    /// Records a failure (the reason is cut to a bounded length).
    pub fn error(&mut self, at: DateTime<Utc>, reason: &str, status: Option<u16>) {
        self.last_error = Some(LastError {
            at,
            reason: bounded(reason, MAX_ERROR),
            status,
        });
    }

    /// Records that the destination said it is broken.
    pub fn broken(&mut self, at: DateTime<Utc>, reason: &str) {
        self.last_broken = Some(BrokenReport {
            at,
            reason: bounded(reason, MAX_ERROR),
        });
    }

    /// Keeps the newest of each field from `self` and `other`.
    #[must_use]
    pub fn merged(&self, other: &Self) -> Self {
        Self {
            destination: self.destination.clone(),
            channel: self.channel.clone(),
            last_success: self.last_success.max(other.last_success),
            last_error: newest(self.last_error.as_ref(), other.last_error.as_ref(), |e| {
                e.at
            }),
            last_broken: newest(self.last_broken.as_ref(), other.last_broken.as_ref(), |b| {
                b.at
            }),
            updated_at: self.updated_at.max(other.updated_at),
        }
    }
}

/// A status record could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("status records: {0}")]
pub struct StatusError(String);

/// The status bucket.
#[derive(Debug, Clone)]
pub struct StatusStore {
    store: kv::Store,
}

impl StatusStore {
    /// Wraps an opened bucket.
    pub fn new(store: kv::Store) -> Self {
        Self { store }
    }

    /// The record of `destination`, if any process ever wrote one.
    ///
    /// # Errors
    /// [`StatusError`] when the bucket cannot be read.
    pub async fn get(&self, destination: &str) -> Result<Option<StatusRecord>, StatusError> {
        let entry = self
            .store
            .get(destination)
            .await
            .map_err(|e| StatusError(e.to_string()))?;
        Ok(entry.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Merges `record` into the stored one (newest of each field) and writes
    /// the result, retrying when another process wrote in between.
    ///
    /// # Errors
    /// [`StatusError`] when the bucket cannot be read or written.
    pub async fn merge(&self, record: &StatusRecord) -> Result<(), StatusError> {
        let key = record.destination.as_str();
        let mut last = String::new();
        for _ in 0..CAS_TRIES {
            let entry = self
                .store
                .entry(key)
                .await
                .map_err(|e| StatusError(e.to_string()))?;
            let (merged, revision) = match entry.filter(|e| e.operation == kv::Operation::Put) {
                Some(e) => {
                    let stored: Option<StatusRecord> = serde_json::from_slice(&e.value).ok();
                    let merged = stored.map_or_else(|| record.clone(), |s| record.merged(&s));
                    (merged, Some(e.revision))
                }
                None => (record.clone(), None),
            };
            let bytes = serde_json::to_vec(&merged).map_err(|e| StatusError(e.to_string()))?;
            let written = match revision {
                Some(r) => self
                    .store
                    .update(key, bytes.into(), r)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => self
                    .store
                    .create(key, bytes.into())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            match written {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(StatusError(format!(
            "{key}: gave up after {CAS_TRIES} concurrent writes: {last}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
    }

    #[test]
    fn broken_until_a_later_success() {
        let mut r = StatusRecord::new("ops", "slack", t(0));
        assert!(!r.is_broken());
        r.success(t(1));
        r.error(t(2), "channel_not_found", Some(404));
        r.broken(t(2), "channel_not_found");
        assert!(r.is_broken() && r.is_failing());
        r.success(t(3));
        assert!(!r.is_broken() && !r.is_failing());
    }

    #[test]
    fn merging_keeps_the_newest_of_each_field_whatever_the_order() {
        let mut a = StatusRecord::new("ops", "slack", t(0));
        a.success(t(5));
        a.error(t(1), "old", None);
        let mut b = StatusRecord::new("ops", "slack", t(0));
        b.error(t(7), "new", Some(500));
        b.broken(t(7), "gone");
        let ab = a.merged(&b);
        let ba = b.merged(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.last_success, Some(t(5)));
        assert_eq!(
            ab.last_error.as_ref().map(|e| e.reason.as_str()),
            Some("new")
        );
        assert!(ab.is_broken());
    }

    #[test]
    fn long_errors_are_cut() {
        let mut r = StatusRecord::new("ops", "slack", t(0));
        r.error(t(1), &"é".repeat(600), None);
        assert!(r.last_error.unwrap().reason.len() <= MAX_ERROR + 3);
    }
}
