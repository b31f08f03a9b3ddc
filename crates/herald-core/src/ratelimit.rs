//! Per-destination pacing: a proactive token bucket, and a shared pause when the
//! provider throttles (429 with `Retry-After`).

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::config::RateLimitConfig;

/// Admission control for one destination, shared by all its pull loops and tasks.
#[derive(Debug)]
pub struct Gate {
    limiter: Option<DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
}

impl Gate {
    /// A gate with an optional proactive limit.
    pub fn new(limit: Option<RateLimitConfig>) -> Self {
        let limiter = limit.and_then(|l| {
            let period = Duration::try_from_secs_f64(1.0 / l.per_second).ok()?;
            let quota = Quota::with_period(period)?
                .allow_burst(NonZeroU32::new(l.burst).unwrap_or(NonZeroU32::MIN));
            Some(RateLimiter::direct(quota))
        });
        Self {
            limiter,
            paused_until: Mutex::new(None),
        }
    }

    /// Waits until one more request may go: after any pause, then for a token.
    pub async fn ready(&self) {
        while let Some(left) = self.pause_remaining() {
            tokio::time::sleep(left).await;
        }
        if let Some(l) = &self.limiter {
            l.until_ready().await;
        }
    }

    /// Takes a token if one is free now (and no pause is on).
    pub fn try_ready(&self) -> bool {
        if self.pause_remaining().is_some() {
            return false;
        }
        self.limiter.as_ref().is_none_or(|l| l.check().is_ok())
    }

    /// Pauses every send to the destination for `d` (extends, never shortens).
    pub fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut guard = self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none_or(|cur| cur < until) {
            *guard = Some(until);
        }
    }

    /// How long the current pause still lasts.
    pub fn pause_remaining(&self) -> Option<Duration> {
        let guard = self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let left = (*guard)?.checked_duration_since(Instant::now())?;
        (!left.is_zero()).then_some(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_paces_after_the_burst() {
        let gate = Gate::new(Some(RateLimitConfig {
            per_second: 2.0,
            burst: 2,
        }));
        assert!(gate.try_ready());
        assert!(gate.try_ready());
        assert!(!gate.try_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_caller() {
        let gate = Gate::new(None);
        assert!(gate.try_ready());
        gate.pause_for(Duration::from_secs(2));
        gate.pause_for(Duration::from_secs(1));
        assert!(!gate.try_ready());
        let start = Instant::now();
        gate.ready().await;
        assert!(start.elapsed() >= Duration::from_secs(2));
        assert!(gate.try_ready());
    }
}
