//! Helpers shared by the end-to-end tests: starting workers in-process and
//! naming their consumers.

use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_core::config::FleetConfig;
use herald_core::jetstream::consumer_name;
use herald_core::routing::SubjectPattern;
use herald_core::worker::Worker;
use herald_testkit::{ConfigFile, EVENT_STREAM, wait_for_consumer, wait_for_consumer_idle};
use herald_webhook::Webhook;

/// A deadline for things that take well under a second on an idle machine;
/// generous so a loaded 2-core CI machine still passes.
pub(crate) const SOON: Duration = Duration::from_secs(30);

/// Starts an in-process webhook worker on `config`. It returns once every
/// consumer exists, so events published afterwards are delivered.
pub(crate) async fn start_worker(config: &ConfigFile) -> Result<Worker> {
    let name = config.name();
    let parsed = FleetConfig::from_yaml(&config.text()?, &name)
        .with_context(|| format!("test config:\n{}", config.text().unwrap_or_default()))?;
    Worker::start::<Webhook>(&parsed, &name)
        .await
        .with_context(|| format!("starting the worker on {name}"))
}

/// The durable consumer of a webhook destination for one pattern.
pub(crate) fn consumer(destination: &str, pattern: &str) -> Result<String> {
    let p = SubjectPattern::parse(pattern).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(consumer_name("webhook", destination, &p))
}

/// Waits until a worker process has created the consumer of `destination` for `pattern`.
pub(crate) async fn wait_ready(
    js: &async_nats::jetstream::Context,
    destination: &str,
    pattern: &str,
) -> Result<()> {
    wait_for_consumer(js, EVENT_STREAM, &consumer(destination, pattern)?, SOON).await
}

/// Waits until the consumer of `destination` for `pattern` has nothing left:
/// every event acked or terminated, no retry scheduled.
pub(crate) async fn wait_idle(
    js: &async_nats::jetstream::Context,
    destination: &str,
    pattern: &str,
) -> Result<()> {
    wait_for_consumer_idle(js, EVENT_STREAM, &consumer(destination, pattern)?, SOON).await
}

/// `prefix-000` .. `prefix-<n-1>`.
pub(crate) fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}
