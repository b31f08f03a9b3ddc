//! When to retry a failed delivery, and when to give up.

use std::time::Duration;

use crate::config::RetryConfig;

/// A destination's retry policy, checked and ready to use.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    schedule: Vec<Duration>,
    jitter: f64,
    max_retry_after: Duration,
}

/// What to do after a retryable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Redeliver after this delay.
    RetryAfter(Duration),
    /// Attempts are used up: dead-letter.
    GiveUp,
}

impl RetryPolicy {
    /// Builds the policy from configuration (already validated: schedule not empty,
    /// jitter in 0..=1, at least one attempt).
    pub fn new(config: &RetryConfig) -> Self {
        Self {
            max_attempts: config.max_attempts.max(1),
            schedule: config.schedule.iter().map(|d| d.0).collect(),
            jitter: config.jitter.clamp(0.0, 1.0),
            max_retry_after: config.max_retry_after.0,
        }
    }

    /// Attempts allowed in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Decides after attempt `attempt` (1-based) failed. The delay is the schedule's
    /// step for this attempt with jitter, raised to the provider's `Retry-After`
    /// (clamped to `max_retry_after`). `unit` is a random number in `[0, 1)`.
    pub fn decide(&self, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Decision {
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let index = usize::try_from(attempt.saturating_sub(1))
            .unwrap_or(usize::MAX)
            .min(self.schedule.len().saturating_sub(1));
        let base = self.schedule.get(index).copied().unwrap_or_default();
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let jittered = base.mul_f64(factor.max(0.0));
        let floor = retry_after.map_or(Duration::ZERO, |r| r.min(self.max_retry_after));
        Decision::RetryAfter(jittered.max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(&RetryConfig {
            max_attempts: 4,
            schedule: vec![HumanDuration::from_secs(2), HumanDuration::from_secs(10)],
            jitter: 0.2,
            max_retry_after: HumanDuration::from_secs(60),
        })
    }

    #[test]
    fn follows_the_schedule_with_bounded_jitter() {
        let p = policy();
        assert_eq!(
            p.decide(1, None, 0.5),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            p.decide(1, None, 0.0),
            Decision::RetryAfter(Duration::from_millis(1600))
        );
        assert_eq!(
            p.decide(2, None, 0.5),
            Decision::RetryAfter(Duration::from_secs(10))
        );
        assert_eq!(
            p.decide(3, None, 0.5),
            Decision::RetryAfter(Duration::from_secs(10))
        );
        assert_eq!(p.decide(4, None, 0.5), Decision::GiveUp);
    }

    #[test]
    fn retry_after_is_a_floor_and_is_clamped() {
        let p = policy();
        assert_eq!(
            p.decide(1, Some(Duration::from_secs(7)), 0.0),
            Decision::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            p.decide(1, Some(Duration::from_secs(3600)), 0.5),
            Decision::RetryAfter(Duration::from_secs(60))
        );
    }
}
