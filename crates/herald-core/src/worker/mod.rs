//! The JetStream worker runtime: one process serving every destination of one channel.
//!
//! [`Worker::start`] connects, provisions the streams, the receipts bucket and one
//! durable pull consumer per (destination, pattern), and starts pulling. It
//! returns once every consumer exists, so events published after it returns are
//! delivered. While JetStream is not ready (a cluster electing its leaders) each
//! step is retried within `worker.provision_timeout`. [`Worker::shutdown`] stops pulling, delivers the events already
//! pulled and lets in-flight deliveries finish, all within
//! `worker.shutdown_timeout`, then flushes the acks and drains the connection.
//!
//! Each destination also has a durable consumer on its own replay subject
//! (`herald dlq replay`), delivered through the same path. The worker keeps
//! Prometheus metrics ([`crate::metrics`]) and writes status records
//! ([`crate::status`]); [`run`] serves `/metrics`, `/healthz` and `/readyz` on
//! `worker.metrics_listen`.

mod deliver;
mod digest;
mod prepare;
mod pull;
mod runtime;
mod serial;
mod stats;
mod status;

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
use crate::feed::Feed;
use crate::jetstream::{
    ConsumerSettings, Provisioning, SetupError, connect, consumer_name, ensure_consumer,
    ensure_digest_bucket, ensure_digest_stream, ensure_dlq_stream, ensure_event_stream,
    ensure_receipts_bucket, ensure_replay_consumer, ensure_replay_stream, ensure_status_bucket,
    replay_consumer_name, replay_subject,
};
use crate::memory::Memory;
use crate::metrics::consumers::{Watched, refresh_loop};
use crate::metrics::{Monitor, server};
use crate::ratelimit::Gate;
use crate::receipts::Receipts;
use crate::status::StatusStore;
use deliver::Source;
use runtime::{DestinationRuntime, Shared, pull_loop};
use serial::Turns;
use status::StatusBoard;

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// NATS could not be reached or set up.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The metrics and health address could not be bound.
    #[error(transparent)]
    Metrics(#[from] server::BindError),
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
    monitor: Monitor,
}

impl Worker {
    /// Starts serving every destination of channel `C` in `config`.
    ///
    /// # Errors
    /// [`StartError`] when the configuration is invalid or NATS cannot be set up.
    pub async fn start<C: Channel>(config: &FleetConfig, file: &str) -> Result<Self, StartError> {
        Self::start_monitored::<C>(config, file, Monitor::default()).await
    }

    /// Like [`Worker::start`], recording metrics and readiness in `monitor`
    /// (which an HTTP server may already be serving).
    ///
    /// # Errors
    /// [`StartError`] when the configuration is invalid or NATS cannot be set up.
    pub async fn start_monitored<C: Channel>(
        config: &FleetConfig,
        file: &str,
        monitor: Monitor,
    ) -> Result<Self, StartError> {
        let prepared = prepare::<C>(config, file)?;
        if prepared.is_empty() {
            return Err(StartError::NoDestinations {
                file: file.to_string(),
                channel: C::NAME,
            });
        }
        let client = connect(&config.nats, &format!("herald-{}", C::NAME)).await?;
        let js = jetstream::new(client.clone());
        // A cluster that is still electing leaders is waited for (with
        // backoff, within `worker.provision_timeout`); a refusal stops here.
        let setup = Provisioning::new(config.worker.provision_timeout.0);
        let stream = setup
            .run(|| ensure_event_stream(&js, &config.stream))
            .await?;
        setup.run(|| ensure_dlq_stream(&js, &config.dlq)).await?;
        let kv = setup
            .run(|| ensure_receipts_bucket(&js, &config.receipts))
            .await?;
        let status_kv = setup
            .run(|| ensure_status_bucket(&js, &config.status))
            .await?;
        let replay_stream = setup
            .run(|| ensure_replay_stream(&js, &config.replay))
            .await?;
        let digests = if prepared.iter().any(|p| p.channel.schedule().is_some()) {
            let d = &config.digest;
            let stream = setup.run(|| ensure_digest_stream(&js, d)).await?;
            let bucket = setup.run(|| ensure_digest_bucket(&js, d)).await?;
            let owner = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
            Some(digest::Digests {
                store: crate::digest::DigestStore::new(
                    js.clone(),
                    stream,
                    d.subject_prefix.clone(),
                ),
                leases: crate::digest::Leases::new(bucket, owner, d.lease.0),
                grace: d.grace.0,
                lease: d.lease.0,
                check_interval: d.check_interval.0,
            })
        } else {
            None
        };
        let shared = Arc::new(Shared {
            js: js.clone(),
            status: StatusBoard::new(StatusStore::new(status_kv)),
            feed: Feed::start(client.clone(), &config.status),
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
            digests,
        });
        let loops = TaskTracker::new();
        let mut stats = BTreeMap::new();
        let mut watched = Vec::new();
        let settings = ConsumerSettings {
            ack_wait: config.worker.ack_wait.0,
            max_ack_pending: config.worker.max_ack_pending,
        };
        for p in prepared {
            let name = p.destination.name().to_string();
            let concurrency = usize::try_from(p.concurrency).unwrap_or(1);
            let rt = Arc::new(DestinationRuntime {
                name: name.clone(),
                channel: p.channel,
                when: p.destination.when.clone(),
                retry: p.retry,
                timeout: p.timeout,
                receipts: p.destination.receipts,
                gate: Gate::new(p.rate_limit),
                slots: Arc::new(Semaphore::new(concurrency)),
                min_pull: (concurrency / 4).clamp(1, shared.max_batch),
                stats: Arc::new(DestinationStats::default()),
                metrics: monitor.metrics.destination(C::NAME, &name),
                memory: shared.memory.scoped(&name),
                turns: Arc::new(Turns::default()),
                shared: shared.clone(),
            });
            stats.insert(name.clone(), rt.stats.clone());
            for pattern in &p.destination.events.value {
                let cname = consumer_name(C::NAME, &name, pattern);
                let consumer = setup
                    .run(|| ensure_consumer(&stream, &cname, pattern, settings))
                    .await?;
                info!(destination = %name, consumer = %cname, filter = %pattern, "Consuming.");
                watched.push(Watched::new(stream.clone(), C::NAME, &name, &cname));
                loops.spawn(pull_loop(rt.clone(), consumer, cname, Source::Live));
            }
            if let Some(schedule) = rt.channel.schedule() {
                info!(destination = %name, schedule = %schedule, "Sending digests.");
                loops.spawn(digest::send_loop(rt.clone(), schedule.clone()));
            }
            let rname = replay_consumer_name(C::NAME, &name);
            let rsubject = replay_subject(&config.replay, &name);
            let consumer = setup
                .run(|| ensure_replay_consumer(&replay_stream, &rname, &rsubject, settings))
                .await?;
            watched.push(Watched::new(replay_stream.clone(), C::NAME, &name, &rname));
            loops.spawn(pull_loop(rt.clone(), consumer, rname, Source::Replay));
        }
        let status_shared = shared.clone();
        let status_interval = config.status.interval.0;
        loops.spawn(async move {
            status_shared
                .status
                .run(status_interval, status_shared.cancel.clone())
                .await;
        });
        loops.spawn(refresh_loop(
            monitor.metrics.clone(),
            watched,
            config.worker.metrics_refresh.0,
            shared.cancel.clone(),
        ));
        monitor.health.set_bound(client.clone());
        Ok(Self {
            client,
            shared,
            loops,
            stats,
            shutdown_timeout: config.worker.shutdown_timeout.0,
            monitor,
        })
    }

    /// The worker's metrics and readiness.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The live counters of a destination.
    pub fn stats(&self, destination: &str) -> Option<StatsSnapshot> {
        self.stats.get(destination).map(|s| s.snapshot())
    }

    /// The names of the destinations served.
    pub fn destinations(&self) -> impl Iterator<Item = &str> {
        self.stats.keys().map(String::as_str)
    }

    /// Stops gracefully: stop pulling, deliver what was already pulled, let
    /// in-flight deliveries finish (all within `worker.shutdown_timeout`),
    /// flush acks, drain. Nothing pulled is NAKed: a NAKed event stays pending
    /// on the consumer, unacknowledged, until another pull takes it.
    pub async fn shutdown(self) {
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        self.monitor.health.set_stopping();
        self.shared.cancel.cancel();
        self.loops.close();
        // The pull loops end once their last request is answered or expired.
        let _ = tokio::time::timeout_at(deadline, self.loops.wait()).await;
        self.shared.tracker.close();
        let in_flight = self.shared.tracker.len();
        if tokio::time::timeout_at(deadline, self.shared.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                in_flight = self.shared.tracker.len(),
                "Shutdown deadline passed; unfinished deliveries will be redelivered."
            );
        }
        self.shared.status.flush().await;
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
    let monitor = Monitor::default();
    let http_stop = CancellationToken::new();
    let http = match config.worker.metrics_listen {
        Some(addr) => {
            let listener = server::bind(addr).await?;
            let bound = listener.local_addr().unwrap_or(addr);
            info!(address = %bound, "Serving /metrics, /healthz and /readyz.");
            Some(tokio::spawn(server::serve(
                listener,
                monitor.clone(),
                http_stop.clone(),
            )))
        }
        None => None,
    };
    let worker = match Worker::start_monitored::<C>(config, file, monitor).await {
        Ok(w) => w,
        Err(e) => {
            http_stop.cancel();
            return Err(e);
        }
    };
    info!(
        channel = C::NAME,
        destinations = worker.stats.len(),
        "Worker ready."
    );
    stop.await;
    info!("Stopping.");
    worker.shutdown().await;
    http_stop.cancel();
    if let Some(h) = http {
        let _ = h.await;
    }
    Ok(())
}
