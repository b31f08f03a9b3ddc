//! Provisioning retried while JetStream is not ready.
//!
//! A worker started with (or just after) a NATS cluster may find it still
//! electing leaders: API requests time out or are answered "temporarily
//! unavailable". Rather than exit and leave the restart to a supervisor, each
//! provisioning step is retried with backoff until one deadline for the whole
//! start (`worker.provision_timeout`). A definite refusal is returned at once.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use tokio::time::Instant;
use tracing::warn;

use super::SetupError;

/// The first wait after a failed step.
const FIRST_WAIT: Duration = Duration::from_millis(200);
/// The longest wait between two tries of a step.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// One deadline shared by every provisioning step of a start.
#[derive(Debug, Clone, Copy)]
pub struct Provisioning {
    started: Instant,
    timeout: Duration,
}

impl Provisioning {
    /// Starts the clock: steps are retried until `timeout` from now.
    pub fn new(timeout: Duration) -> Self {
        Self {
            started: Instant::now(),
            timeout,
        }
    }

    fn deadline(&self) -> Instant {
        self.started + self.timeout
    }

    /// Runs `step`, retrying it (200 ms, doubling with jitter, at most 5 s
    /// apart) while it fails with a transient error and the deadline has not
    /// passed.
    ///
    /// # Errors
    /// The step's error: at once when it is definite, or the last one when
    /// the deadline passed, saying how long it was retried.
    pub async fn run<T, F, Fut>(&self, step: F) -> Result<T, SetupError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SetupError>>,
    {
        let deadline = self.deadline();
        let mut retries = 0u32;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(FIRST_WAIT)
            .with_max_delay(LONGEST_WAIT)
            .with_jitter()
            .without_max_times();
        let result = step
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e: &SetupError| e.is_transient() && Instant::now() < deadline)
            .adjust(|_, wait| {
                // Never sleep past the deadline: the last try comes at it.
                wait.map(|w| w.min(deadline.saturating_duration_since(Instant::now())))
            })
            .notify(|e: &SetupError, wait: Duration| {
                retries += 1;
                warn!(
                    error = %e,
                    retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "JetStream is not ready; retrying."
                );
            })
            .await;
        result.map_err(|e| {
            if e.is_transient() && retries > 0 {
                e.gave_up(retries, self.started.elapsed(), self.timeout)
            } else {
                e
            }
        })
    }
}
