//! Memory: small notes a channel keeps across events of one destination.
//!
//! Some channels need to remember something from one event to the next: the
//! Slack message a rotation's later events thread under, the Jira issue a
//! correlation opened. A channel reads and writes notes through the [`Memory`]
//! in its [`DeliveryContext`](crate::channel::DeliveryContext), by any string key
//! (usually the event's correlation); it never sees NATS. The worker backs it
//! with the receipts bucket, so notes live as long as receipts
//! (`receipts.max_age`) and every replica sees them. [`Memory::local`] keeps
//! notes in the process, for one-shot sends such as `herald send`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_nats::jetstream::kv;
use sha2::{Digest, Sha256};

/// A memory read or write failed.
#[derive(Debug, thiserror::Error)]
#[error("memory: {0}")]
pub struct MemoryError(String);

/// Notes scoped to one destination.
#[derive(Clone)]
pub struct Memory {
    backend: Backend,
    scope: String,
}

#[derive(Clone)]
enum Backend {
    Kv(Arc<kv::Store>),
    Local(Arc<Mutex<HashMap<String, String>>>),
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.backend {
            Backend::Kv(_) => "kv",
            Backend::Local(_) => "local",
        };
        f.debug_struct("Memory")
            .field("backend", &backend)
            .field("scope", &self.scope)
            .finish()
    }
}

impl Memory {
    /// Notes kept in a key-value bucket, shared by every replica.
    pub fn kv(store: kv::Store) -> Self {
        Self {
            backend: Backend::Kv(Arc::new(store)),
            scope: String::new(),
        }
    }

    /// Notes kept in this process only.
    pub fn local() -> Self {
        Self {
            backend: Backend::Local(Arc::default()),
            scope: String::new(),
        }
    }

    /// The same store, scoped to one destination.
    pub fn scoped(&self, destination: &str) -> Self {
        Self {
            backend: self.backend.clone(),
            scope: destination.to_owned(),
        }
    }

    /// The bucket key of a note: `mem.<destination>.<sha256(key) hex>` (keys may
    /// hold characters bucket keys cannot; receipt keys have two tokens, so the
    /// two never meet).
    fn bucket_key(&self, key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        format!("mem.{}.{}", self.scope, hex::encode(&digest[..20]))
    }

    /// The note stored under `key`, if any.
    ///
    /// # Errors
    /// [`MemoryError`] when the store cannot be read.
    pub async fn recall(&self, key: &str) -> Result<Option<String>, MemoryError> {
        let k = self.bucket_key(key);
        match &self.backend {
            Backend::Kv(store) => {
                let entry = store
                    .get(&k)
                    .await
                    .map_err(|e| MemoryError(e.to_string()))?;
                Ok(entry.map(|b| String::from_utf8_lossy(&b).into_owned()))
            }
            Backend::Local(map) => Ok(lock(map)?.get(&k).cloned()),
        }
    }

    /// Stores `value` under `key`, replacing any earlier note, and waits until the
    /// store has it.
    ///
    /// # Errors
    /// [`MemoryError`] when the store cannot be written.
    pub async fn remember(&self, key: &str, value: &str) -> Result<(), MemoryError> {
        let k = self.bucket_key(key);
        match &self.backend {
            Backend::Kv(store) => store
                .put(&k, value.to_owned().into_bytes().into())
                .await
                .map(|_| ())
                .map_err(|e| MemoryError(e.to_string())),
            Backend::Local(map) => {
                lock(map)?.insert(k, value.to_owned());
                Ok(())
            }
        }
    }
}

fn lock(
    map: &Mutex<HashMap<String, String>>,
) -> Result<std::sync::MutexGuard<'_, HashMap<String, String>>, MemoryError> {
    map.lock()
        .map_err(|_| MemoryError("local memory poisoned".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_notes_are_scoped_by_destination() {
        let root = Memory::local();
        let a = root.scoped("a");
        let b = root.scoped("b");
        a.remember("run-1", "ts=1").await.unwrap();
        assert_eq!(a.recall("run-1").await.unwrap().as_deref(), Some("ts=1"));
        assert_eq!(b.recall("run-1").await.unwrap(), None);
        a.remember("run-1", "ts=2").await.unwrap();
        assert_eq!(a.recall("run-1").await.unwrap().as_deref(), Some("ts=2"));
    }

    #[test]
    fn bucket_keys_are_valid() {
        let m = Memory::local().scoped("ops-slack");
        let k = m.bucket_key("rot 1/ä.*>");
        assert!(k.starts_with("mem.ops-slack."));
        assert_eq!(k.split('.').count(), 3);
        assert!(
            k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
    }
}
