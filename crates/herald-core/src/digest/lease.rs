//! Who sends a window's digest: a claim in a key-value bucket, taken with
//! create or compare-and-set, so with several replicas exactly one sends it.
//!
//! The key is `<destination>.<window end, Unix milliseconds>`. A claim names its
//! owner and is renewed while the owner works; one not renewed for the lease
//! time is taken over (the owner died). Once the digest is accepted the key
//! says `sent`, and nobody sends that window again.

use std::time::Duration;

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A lease read or write failed.
#[derive(Debug, thiserror::Error)]
#[error("digest leases: {0}")]
pub struct LeaseError(String);

fn fail(e: impl std::fmt::Display) -> LeaseError {
    LeaseError(e.to_string())
}

/// What a window's key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    /// A replica is sending it.
    Sending,
    /// Its digest was accepted (or it had nothing to send).
    Sent,
    /// Its digest could not be sent; its events were dead-lettered.
    Failed,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    state: State,
    owner: String,
    at: DateTime<Utc>,
}

/// A claim this replica holds.
#[derive(Debug, Clone)]
pub struct Lease {
    key: String,
    revision: u64,
}

/// The answer to a claim.
#[derive(Debug)]
pub enum Claim {
    /// This replica sends the window.
    Won(Lease),
    /// Another replica is sending it.
    Busy,
    /// The window's digest was already sent (or dead-lettered).
    Done,
}

/// The leases bucket, for one replica.
#[derive(Debug, Clone)]
pub struct Leases {
    kv: kv::Store,
    owner: String,
    stale_after: Duration,
}

impl Leases {
    /// Claims in `kv` made as `owner`; a claim not renewed for `stale_after` may
    /// be taken over.
    pub fn new(kv: kv::Store, owner: impl Into<String>, stale_after: Duration) -> Self {
        Self {
            kv,
            owner: owner.into(),
            stale_after,
        }
    }

    fn key(destination: &str, end: DateTime<Utc>) -> String {
        format!("{destination}.{}", end.timestamp_millis())
    }

    fn record(&self, state: State, now: DateTime<Utc>) -> Result<bytes::Bytes, LeaseError> {
        serde_json::to_vec(&Record {
            state,
            owner: self.owner.clone(),
            at: now,
        })
        .map(Into::into)
        .map_err(fail)
    }

    /// Tries to claim `destination`'s window ending at `end`.
    ///
    /// # Errors
    /// [`LeaseError`] when the bucket cannot be read or written.
    pub async fn claim(
        &self,
        destination: &str,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Claim, LeaseError> {
        let key = Self::key(destination, end);
        let value = self.record(State::Sending, now)?;
        match self.kv.create(&key, value.clone()).await {
            Ok(revision) => return Ok(Claim::Won(Lease { key, revision })),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(e)),
        }
        let Some(entry) = self.kv.entry(&key).await.map_err(fail)? else {
            return Ok(Claim::Busy);
        };
        let record: Option<Record> = serde_json::from_slice(&entry.value).ok();
        let stale = match &record {
            Some(r) if r.state != State::Sending => return Ok(Claim::Done),
            Some(r) => (now - r.at)
                .to_std()
                .is_ok_and(|age| age > self.stale_after),
            // Unreadable or deleted: take it.
            None => true,
        };
        if !stale {
            return Ok(Claim::Busy);
        }
        match self.kv.update(&key, value, entry.revision).await {
            Ok(revision) => Ok(Claim::Won(Lease { key, revision })),
            Err(_) => Ok(Claim::Busy),
        }
    }

    /// Renews a claim. `false` when it was lost (taken over meanwhile).
    ///
    /// # Errors
    /// [`LeaseError`] when the bucket cannot be written.
    pub async fn renew(&self, lease: &mut Lease, now: DateTime<Utc>) -> Result<bool, LeaseError> {
        let value = self.record(State::Sending, now)?;
        match self.kv.update(&lease.key, value, lease.revision).await {
            Ok(revision) => {
                lease.revision = revision;
                Ok(true)
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
            Err(e) => Err(fail(e)),
        }
    }

    /// Gives a claim up, so this or another replica can claim the window again soon.
    ///
    /// # Errors
    /// [`LeaseError`] when the bucket cannot be written.
    pub async fn release(&self, lease: Lease) -> Result<(), LeaseError> {
        self.kv.delete(&lease.key).await.map_err(fail)
    }

    /// Marks the window sent.
    ///
    /// # Errors
    /// [`LeaseError`] when the bucket cannot be written.
    pub async fn sent(&self, lease: &Lease, now: DateTime<Utc>) -> Result<(), LeaseError> {
        self.finish(lease, State::Sent, now).await
    }

    /// Marks the window failed (its events were dead-lettered).
    ///
    /// # Errors
    /// [`LeaseError`] when the bucket cannot be written.
    pub async fn failed(&self, lease: &Lease, now: DateTime<Utc>) -> Result<(), LeaseError> {
        self.finish(lease, State::Failed, now).await
    }

    async fn finish(
        &self,
        lease: &Lease,
        state: State,
        now: DateTime<Utc>,
    ) -> Result<(), LeaseError> {
        let value = self.record(state, now)?;
        self.kv
            .update(&lease.key, value, lease.revision)
            .await
            .map_err(fail)?;
        Ok(())
    }
}
