//! In-process ordering of events that share a correlation.
//!
//! Lifecycle events of one run (`rotation.started`, then `rotation.completed`)
//! often arrive within milliseconds. Delivered concurrently, a thread reply could
//! race its parent, or a resolve could overtake its trigger. Deliveries of one
//! destination that share a correlation therefore take turns, in the order they
//! were pulled; other events are not held up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

/// One lock per live correlation; entries vanish when the last holder is done.
#[derive(Debug, Default)]
pub(super) struct Turns {
    locks: Mutex<HashMap<String, Weak<TurnLock<()>>>>,
}

impl Turns {
    /// The lock for `key`, created on first use (tokio's mutex is fair: turns are
    /// taken in the order `acquire` was called).
    fn lock_for(&self, key: &str) -> Arc<TurnLock<()>> {
        let mut locks = match self.locks.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(lock) = locks.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        locks.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(TurnLock::new(()));
        locks.insert(key.to_owned(), Arc::downgrade(&lock));
        lock
    }

    /// Waits for this correlation's turn.
    pub(super) async fn acquire(&self, key: &str) -> OwnedMutexGuard<()> {
        self.lock_for(key).lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_key_waits_other_keys_do_not() {
        let turns = Turns::default();
        let held = turns.acquire("run-1").await;
        assert!(turns.lock_for("run-1").try_lock().is_err());
        assert!(turns.lock_for("run-2").try_lock().is_ok());
        drop(held);
        assert!(turns.lock_for("run-1").try_lock().is_ok());
    }
}
