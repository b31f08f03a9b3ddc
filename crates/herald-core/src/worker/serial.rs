//! In-order delivery of events that share a correlation.
//!
//! Lifecycle events of one run (`rotation.started`, then `rotation.completed`)
//! often arrive within milliseconds. Delivered concurrently, a thread reply could
//! race its parent, or a resolve could overtake its trigger. So the pull loop
//! takes a [`Ticket`] for each event's correlation, in the order the consumer
//! delivered the events, before the delivery task is spawned; a delivery waits
//! until every earlier ticket of its correlation is done. Other events are not
//! held up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// The last ticket of every correlation with a delivery in progress.
#[derive(Debug, Default)]
pub(super) struct Turns {
    next_id: AtomicU64,
    /// Per correlation: the newest ticket's id, and the signal that it is done.
    tails: Mutex<HashMap<String, (u64, oneshot::Receiver<()>)>>,
}

/// A place in the line of one correlation. Dropping it lets the next one go, so
/// a holder must [`Ticket::wait`] before it drops the ticket (every delivery
/// path does).
#[derive(Debug)]
pub(super) struct Ticket {
    turns: Arc<Turns>,
    key: String,
    id: u64,
    /// Done when the previous ticket of the correlation is dropped.
    previous: Option<oneshot::Receiver<()>>,
    /// Dropped with this ticket, which wakes the next one.
    _done: oneshot::Sender<()>,
}

impl Turns {
    fn tails(&self) -> MutexGuard<'_, HashMap<String, (u64, oneshot::Receiver<()>)>> {
        match self.tails.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Joins the line of `key`, behind every ticket taken before. Synchronous, so
    /// the caller's order is the delivery order.
    pub(super) fn ticket(self: &Arc<Self>, key: &str) -> Ticket {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, rx) = oneshot::channel();
        let previous = self
            .tails()
            .insert(key.to_owned(), (id, rx))
            .map(|(_, prev)| prev);
        Ticket {
            turns: self.clone(),
            key: key.to_owned(),
            id,
            previous,
            _done: done,
        }
    }
}

impl Ticket {
    /// Waits until every earlier ticket of the correlation is done.
    pub(super) async fn wait(&mut self) {
        if let Some(previous) = self.previous.take() {
            // Err means the previous ticket was dropped: its delivery is over.
            let _ = previous.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut tails = self.turns.tails();
        if tails.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            // Nobody is behind this ticket: forget the correlation.
            tails.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn tickets_are_served_in_the_order_taken() {
        let turns = Arc::new(Turns::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        // Taken in order 0..5, but the tasks start in reverse.
        let tickets: Vec<Ticket> = (0..5).map(|_| turns.ticket("run-1")).collect();
        for (i, mut t) in tickets.into_iter().enumerate().rev() {
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                t.wait().await;
                tx.send(i).unwrap();
                tokio::task::yield_now().await;
                drop(t);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order: Vec<usize> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
        assert!(turns.tails().is_empty(), "finished lines are forgotten");
    }

    #[tokio::test]
    async fn other_correlations_do_not_wait() {
        let turns = Arc::new(Turns::default());
        let _held = turns.ticket("run-1");
        let mut same = turns.ticket("run-1");
        let mut other = turns.ticket("run-2");
        tokio::time::timeout(Duration::from_secs(5), other.wait())
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), same.wait())
                .await
                .is_err(),
            "the second ticket of run-1 waits for the first"
        );
    }
}
