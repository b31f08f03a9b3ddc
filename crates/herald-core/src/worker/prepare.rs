//! Turning configured destinations into ready channel instances.

use std::time::Duration;

use crate::channel::Channel;
use crate::config::{ConfigErrors, Destination, FleetConfig, RateLimitConfig};
use crate::retry::RetryPolicy;

/// A destination of channel `C`, checked and built.
#[derive(Debug)]
pub struct Prepared<C> {
    /// The destination as configured.
    pub destination: Destination,
    /// The built channel.
    pub channel: C,
    /// Request timeout in force.
    pub timeout: Duration,
    /// Proactive rate limit in force.
    pub rate_limit: Option<RateLimitConfig>,
    /// Deliveries in flight at once.
    pub concurrency: u32,
    /// Retry policy.
    pub retry: RetryPolicy,
}

/// Builds every destination of channel `C` in `config`, reporting all problems.
///
/// # Errors
/// Every problem found, each naming file, line and field.
pub fn prepare<C: Channel>(
    config: &FleetConfig,
    file: &str,
) -> Result<Vec<Prepared<C>>, ConfigErrors> {
    let defaults = C::defaults();
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for d in config.destinations_for(C::NAME) {
        let timeout = d.timeout.as_ref().map_or(defaults.timeout, |t| t.value.0);
        if timeout >= config.worker.ack_wait.0 {
            errors.push(d.error_at(
                file,
                "timeout",
                format!(
                    "the timeout ({}) must be shorter than `worker.ack_wait` ({})",
                    humantime::format_duration(timeout),
                    config.worker.ack_wait
                ),
            ));
            continue;
        }
        let settings = match d.settings::<C::Settings>(file) {
            Ok(s) => s,
            Err(mut e) => {
                errors.append(&mut e);
                continue;
            }
        };
        match C::build(d, settings, timeout) {
            Ok(channel) => out.push(Prepared {
                destination: d.clone(),
                channel,
                timeout,
                rate_limit: d.rate_limit.or(defaults.rate_limit),
                concurrency: d.concurrency.unwrap_or(config.worker.concurrency),
                retry: RetryPolicy::new(&d.retry),
            }),
            Err(e) => errors.push(d.error_at(file, &e.field, e.message)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}
