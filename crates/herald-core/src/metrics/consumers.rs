//! The consumer gauges: pending, ack pending and redelivered, read from
//! JetStream's consumer info every `worker.metrics_refresh`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream::Stream;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::{ConsumerLabels, Metrics};

/// One consumer whose gauges are kept.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The stream it reads.
    pub stream: Stream,
    /// Its durable name.
    pub consumer: String,
    labels: ConsumerLabels,
}

impl Watched {
    /// The consumer `consumer` of `destination` on `stream`.
    pub fn new(stream: Stream, channel: &'static str, destination: &str, consumer: &str) -> Self {
        Self {
            stream,
            consumer: consumer.to_owned(),
            labels: Metrics::consumer_labels(channel, destination, consumer),
        }
    }
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Reads every watched consumer's info once and sets its gauges.
pub async fn refresh(metrics: &Metrics, watched: &[Watched]) {
    for w in watched {
        match w.stream.consumer_info(&w.consumer).await {
            Ok(info) => {
                metrics
                    .consumer_pending
                    .get_or_create(&w.labels)
                    .set(gauge_value(info.num_pending));
                metrics
                    .consumer_ack_pending
                    .get_or_create(&w.labels)
                    .set(gauge_value(info.num_ack_pending as u64));
                metrics
                    .consumer_redelivered
                    .get_or_create(&w.labels)
                    .set(gauge_value(info.num_redelivered as u64));
            }
            Err(e) => debug!(consumer = %w.consumer, error = %e, "Cannot read consumer info."),
        }
    }
}

/// Refreshes the gauges every `every` until `stop` is cancelled.
pub async fn refresh_loop(
    metrics: Arc<Metrics>,
    watched: Vec<Watched>,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        refresh(&metrics, &watched).await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every.max(Duration::from_millis(100))) => {}
        }
    }
}
