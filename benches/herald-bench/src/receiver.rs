//! The HTTP receiver every delivery lands on: answers `204` at once, counts
//! distinct events and duplicates, and records publish → arrival latency.
//!
//! Events carry `"seq":<n>` and `"sent_ns":<ns since the bench started>` in their
//! JSON; both appear verbatim in Herald's `envelope` body (under `data`) and in the
//! bare consumer's body (the payload itself), so one byte search serves both.
//!
//! With several destinations (fan-out), destination `i` posts to `/hook/<i>`
//! and a delivery is distinct per (destination, event). A delay set with
//! [`Tally::set_delay`] plays a slow receiver: each request waits that long,
//! and is counted when it is answered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use tokio::task::JoinHandle;

/// Counters and samples of one receiver.
#[derive(Debug)]
pub(crate) struct Tally {
    base: Instant,
    /// One flag per (destination, event): `destination * events + seq`.
    seen: Vec<AtomicBool>,
    /// Events per destination (the stride of `seen`).
    events: u64,
    /// Each request waits this long (ms) before it is answered and counted.
    delay_ms: AtomicU64,
    /// Events with `seq` below this are latency-phase events.
    paced: u64,
    pub(crate) requests: AtomicU64,
    pub(crate) distinct: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) malformed: AtomicU64,
    /// Arrival time (ns since `base`) of the request that made `distinct` reach `target`.
    target: AtomicU64,
    done_ns: AtomicU64,
    lat_paced_us: Mutex<Vec<u32>>,
    lat_burst_us: Mutex<Vec<u32>>,
}

impl Tally {
    /// The arrival time of the event that completed the target, once it has.
    pub(crate) fn done_ns(&self) -> Option<u64> {
        match self.done_ns.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }

    /// Waits for `distinct` to reach `target` (set before publishing).
    pub(crate) fn set_target(&self, target: u64) {
        self.done_ns.store(0, Ordering::Release);
        self.target.store(target, Ordering::Release);
        if self.distinct.load(Ordering::Acquire) >= target {
            self.done_ns.store(
                u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX),
                Ordering::Release,
            );
        }
    }

    /// Makes every later request wait `delay` before it is answered.
    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
    }

    /// Latency samples (µs) of the paced phase and of the burst.
    pub(crate) fn latencies(&self) -> (Vec<u32>, Vec<u32>) {
        let take = |m: &Mutex<Vec<u32>>| m.lock().unwrap_or_else(PoisonError::into_inner).clone();
        (take(&self.lat_paced_us), take(&self.lat_burst_us))
    }

    fn record(&self, body: &[u8], destination: u64) {
        let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let (Some(seq), Some(sent)) = (
            number_after(body, b"\"seq\":"),
            number_after(body, b"\"sent_ns\":"),
        ) else {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let index = (seq < self.events)
            .then(|| destination.saturating_mul(self.events).saturating_add(seq))
            .and_then(|i| usize::try_from(i).ok());
        let Some(flag) = index.and_then(|i| self.seen.get(i)) else {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if flag.swap(true, Ordering::AcqRel) {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let lat_us = u32::try_from(now.saturating_sub(sent) / 1_000).unwrap_or(u32::MAX);
        let samples = if seq < self.paced {
            &self.lat_paced_us
        } else {
            &self.lat_burst_us
        };
        samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(lat_us);
        let d = self.distinct.fetch_add(1, Ordering::AcqRel) + 1;
        if d == self.target.load(Ordering::Acquire) {
            self.done_ns.store(now.max(1), Ordering::Release);
        }
    }
}

/// The decimal number right after the first occurrence of `key`.
pub(crate) fn number_after(body: &[u8], key: &[u8]) -> Option<u64> {
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let digits =
        body[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold((0u64, 0usize), |(n, len), b| {
                (
                    n.saturating_mul(10).saturating_add(u64::from(b - b'0')),
                    len + 1,
                )
            });
    (digits.1 > 0).then_some(digits.0)
}

async fn hook(State(tally): State<Arc<Tally>>, body: Bytes) -> StatusCode {
    answer(&tally, &body, 0).await
}

async fn hook_of(
    State(tally): State<Arc<Tally>>,
    Path(destination): Path<u64>,
    body: Bytes,
) -> StatusCode {
    answer(&tally, &body, destination).await
}

async fn answer(tally: &Tally, body: &[u8], destination: u64) -> StatusCode {
    let delay = tally.delay_ms.load(Ordering::Acquire);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    tally.record(body, destination);
    StatusCode::NO_CONTENT
}

/// A running receiver.
#[derive(Debug)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    pub(crate) tally: Arc<Tally>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Listens on 127.0.0.1, a free port, for events `0..capacity` to each of `destinations` destinations
    /// (`/hook/0` .. `/hook/<destinations - 1>`; `/hook` is destination 0).
    pub(crate) async fn start_fanout(
        base: Instant,
        capacity: u64,
        paced: u64,
        destinations: u64,
    ) -> anyhow::Result<Self> {
        let slots = capacity.saturating_mul(destinations.max(1));
        let tally = Arc::new(Tally {
            base,
            seen: (0..slots).map(|_| AtomicBool::new(false)).collect(),
            events: capacity,
            delay_ms: AtomicU64::new(0),
            paced,
            requests: AtomicU64::new(0),
            distinct: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            target: AtomicU64::new(u64::MAX),
            done_ns: AtomicU64::new(0),
            lat_paced_us: Mutex::new(Vec::with_capacity(usize::try_from(paced)?)),
            lat_burst_us: Mutex::new(Vec::with_capacity(usize::try_from(slots)?)),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let app = Router::new()
            .route("/hook", post(hook))
            .route("/hook/{destination}", post(hook_of))
            .with_state(tally.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("receiver stopped: {e}");
            }
        });
        Ok(Self { url, tally, task })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_in_both_body_shapes() {
        let bare = br#"{"id":"bench-7","seq":7,"sent_ns":123456}"#;
        assert_eq!(number_after(bare, b"\"seq\":"), Some(7));
        assert_eq!(number_after(bare, b"\"sent_ns\":"), Some(123_456));
        let env = br#"{"id":"bench-7","type":"x","data":{"seq":42,"sent_ns":9}}"#;
        assert_eq!(number_after(env, b"\"seq\":"), Some(42));
        assert_eq!(number_after(env, b"\"nope\":"), None);
        assert_eq!(number_after(br#"{"seq":"x"}"#, b"\"seq\":"), None);
    }
}
