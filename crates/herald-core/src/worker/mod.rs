//! The JetStream worker runtime: one process serving every destination of one channel.
//!
//! [`Worker::start`] connects, provisions the streams, the receipts bucket and one
//! durable pull consumer per (destination, pattern), and starts pulling. It
//! returns once every consumer exists, so events published after it returns are
//! delivered. [`Worker::shutdown`] stops pulling, hands back events not started,
//! lets in-flight deliveries finish within `worker.shutdown_timeout`, flushes the
//! acks and drains the connection.

mod deliver;
mod prepare;
mod runtime;
mod serial;
mod stats;

pub use prepare::{Prepared, prepare};
pub use stats::{DestinationStats, StatsSnapshot};

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use async_nats::jetstream;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::channel::Channel;
use crate::config::{ConfigErrors, FleetConfig};
use crate::dlq::DeadLetters;
use crate::envelope::IngestLimits;
use crate::jetstream::{
    ConsumerSettings, SetupError, connect, consumer_name, ensure_consumer, ensure_dlq_stream,
    ensure_event_stream, ensure_receipts_bucket,
};
use crate::memory::Memory;
use crate::ratelimit::Gate;
use crate::receipts::Receipts;
use runtime::{DestinationRuntime, Shared, pull_loop};
use serial::Turns;

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// NATS could not be reached or set up.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// No destination uses this channel.
    #[error("no destination in {file} uses the `{channel}` channel")]
    NoDestinations {
        /// The configuration file.
        file: String,
        /// The channel.
        channel: &'static str,
    },
}

/// A running worker.
#[derive(Debug)]
pub struct Worker {
    client: async_nats::Client,
    shared: Arc<Shared>,
    loops: TaskTracker,
    stats: BTreeMap<String, Arc<DestinationStats>>,
    shutdown_timeout: std::time::Duration,
}

impl Worker {
    /// Starts serving every destination of channel `C` in `config`.
    ///
    /// # Errors
    /// [`StartError`] when the configuration is invalid or NATS cannot be set up.
    pub async fn start<C: Channel>(config: &FleetConfig, file: &str) -> Result<Self, StartError> {
        let prepared = prepare::<C>(config, file)?;
        if prepared.is_empty() {
            return Err(StartError::NoDestinations {
                file: file.to_string(),
                channel: C::NAME,
            });
        }
        let client = connect(&config.nats, &format!("herald-{}", C::NAME)).await?;
        let js = jetstream::new(client.clone());
        let stream = ensure_event_stream(&js, &config.stream).await?;
        ensure_dlq_stream(&js, &config.dlq).await?;
        let kv = ensure_receipts_bucket(&js, &config.receipts).await?;
        let shared = Arc::new(Shared {
            memory: Memory::kv(kv.clone()),
            receipts: Receipts::new(kv, client.clone(), &config.receipts.bucket),
            dlq: DeadLetters::new(
                js.clone(),
                config.dlq.subject_prefix.clone(),
                config.dlq.response_excerpt_bytes,
            ),
            limits: IngestLimits {
                max_event_bytes: config.worker.max_event_bytes,
            },
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            pull_expires: config.worker.pull_expires.0,
            max_batch: usize::try_from(config.worker.max_batch.max(1)).unwrap_or(1),
        });
        let loops = TaskTracker::new();
        let mut stats = BTreeMap::new();
        for p in prepared {
            let name = p.destination.name().to_string();
            let concurrency = usize::try_from(p.concurrency).unwrap_or(1);
            let rt = Arc::new(DestinationRuntime {
                name: name.clone(),
                channel: p.channel,
                when: p.destination.when.clone(),
                retry: p.retry,
                timeout: p.timeout,
                gate: Gate::new(p.rate_limit),
                slots: Arc::new(Semaphore::new(concurrency)),
                stats: Arc::new(DestinationStats::default()),
                memory: shared.memory.scoped(&name),
                turns: Turns::default(),
                shared: shared.clone(),
            });
            stats.insert(name.clone(), rt.stats.clone());
            let settings = ConsumerSettings {
                ack_wait: config.worker.ack_wait.0,
                max_ack_pending: config.worker.max_ack_pending,
            };
            for pattern in &p.destination.events.value {
                let cname = consumer_name(C::NAME, &name, pattern);
                let consumer = ensure_consumer(&stream, &cname, pattern, settings).await?;
                info!(destination = %name, consumer = %cname, filter = %pattern, "Consuming.");
                loops.spawn(pull_loop(rt.clone(), consumer, cname));
            }
        }
        Ok(Self {
            client,
            shared,
            loops,
            stats,
            shutdown_timeout: config.worker.shutdown_timeout.0,
        })
    }

    /// The live counters of a destination.
    pub fn stats(&self, destination: &str) -> Option<StatsSnapshot> {
        self.stats.get(destination).map(|s| s.snapshot())
    }

    /// The names of the destinations served.
    pub fn destinations(&self) -> impl Iterator<Item = &str> {
        self.stats.keys().map(String::as_str)
    }

    /// Stops gracefully: stop pulling, NAK what was not started, let in-flight
    /// deliveries finish (up to `worker.shutdown_timeout`), flush acks, drain.
    pub async fn shutdown(self) {
        self.shared.cancel.cancel();
        self.loops.close();
        self.loops.wait().await;
        self.shared.tracker.close();
        let in_flight = self.shared.tracker.len();
        if tokio::time::timeout(self.shutdown_timeout, self.shared.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                in_flight = self.shared.tracker.len(),
                "Shutdown deadline passed; unfinished deliveries will be redelivered."
            );
        }
        if let Err(e) = self.client.flush().await {
            warn!(error = %e, "Could not flush acknowledgements.");
        }
        if let Err(e) = self.client.drain().await {
            warn!(error = %e, "Could not drain the NATS connection.");
        }
        info!(in_flight_at_stop = in_flight, "Worker stopped.");
    }
}

/// Runs a worker until `stop` completes, then shuts it down gracefully.
///
/// # Errors
/// [`StartError`] when the worker cannot start.
pub async fn run<C: Channel>(
    config: &FleetConfig,
    file: &str,
    stop: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let worker = Worker::start::<C>(config, file).await?;
    info!(
        channel = C::NAME,
        destinations = worker.stats.len(),
        "Worker ready."
    );
    stop.await;
    info!("Stopping.");
    worker.shutdown().await;
    Ok(())
}
