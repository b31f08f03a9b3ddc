//! Waiting on a condition with a deadline, never for a fixed time.

use std::future::Future;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(20);

/// Polls `condition` every few milliseconds until it holds, or fails naming
/// `what` once `deadline` has passed.
///
/// # Errors
/// When the condition still does not hold after `deadline`.
pub async fn wait_until<F, Fut>(deadline: Duration, what: &str, mut condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for_some(deadline, what, || {
        let fut = condition();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Polls `probe` until it returns `Some`, and returns that value; fails naming
/// `what` once `deadline` has passed.
///
/// # Errors
/// When the probe still returns `None` after `deadline`.
pub async fn wait_for_some<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    let end = start + deadline;
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if Instant::now() >= end {
            bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(POLL.min(end.saturating_duration_since(Instant::now()))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_once_the_condition_holds() {
        let n = AtomicU32::new(0);
        wait_until(Duration::from_secs(5), "three polls", || async {
            n.fetch_add(1, Ordering::Relaxed) >= 2
        })
        .await
        .unwrap();
        assert_eq!(n.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn fails_with_the_description() {
        let err = wait_until(Duration::from_millis(50), "the impossible", || async {
            false
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("the impossible"), "{err}");
    }
}
