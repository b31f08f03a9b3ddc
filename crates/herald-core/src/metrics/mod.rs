//! Prometheus metrics and the health endpoints of a worker.
//!
//! Every worker keeps one [`Metrics`] registry (the Prometheus project's
//! `prometheus-client`: typed label sets, no global state) and serves it with
//! `/healthz` and `/readyz` on `worker.metrics_listen`. Labels are bounded: the
//! channel, the destination (from the configuration), the consumer, and small
//! fixed sets of reasons and outcomes; never an event id, a subject or a
//! recipient.
//!
//! - [`Metrics`] / [`DestinationMetrics`]: the families and one destination's view.
//! - [`Health`] / [`Monitor`]: readiness (NATS connected, consumers bound).
//! - [`server`]: the HTTP endpoints.
//! - [`consumers`]: the consumer gauges, refreshed from consumer info.

pub mod consumers;
pub mod server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::dlq::DeadLetterReason;
use crate::outcome::Failure;

/// Metric names, as scraped (counters get `_total` from the encoder).
pub mod names {
    /// Events the provider accepted.
    pub const SENT: &str = "herald_notifications_sent_total";
    /// Failed attempts, by reason.
    pub const FAILED: &str = "herald_notifications_failed_total";
    /// Failed attempts scheduled again.
    pub const RETRIED: &str = "herald_notifications_retried_total";
    /// Events dead-lettered, by reason.
    pub const DEAD_LETTERED: &str = "herald_notifications_dead_lettered_total";
    /// Throttling answers (429) from the provider.
    pub const RATE_LIMITED: &str = "herald_notifications_rate_limited_total";
    /// 1 while the destination is reported broken.
    pub const BROKEN: &str = "herald_destination_broken";
    /// Time of one delivery attempt.
    pub const ATTEMPT_DURATION: &str = "herald_delivery_attempt_duration_seconds";
    /// Age of an event (since its JetStream publish time) when delivered.
    pub const EVENT_AGE: &str = "herald_event_age_seconds";
    /// Events not yet delivered to the consumer.
    pub const CONSUMER_PENDING: &str = "herald_consumer_pending";
    /// Events delivered to the consumer and not yet acked (delayed retries included).
    pub const CONSUMER_ACK_PENDING: &str = "herald_consumer_ack_pending";
    /// Events the consumer delivered more than once.
    pub const CONSUMER_REDELIVERED: &str = "herald_consumer_redelivered";
}

/// `channel`, `destination`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabels {
    channel: &'static str,
    destination: String,
}

/// `channel`, `destination`, `reason`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    channel: &'static str,
    destination: String,
    reason: &'static str,
}

/// `channel`, `destination`, `outcome`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    channel: &'static str,
    destination: String,
    outcome: &'static str,
}

/// `channel`, `destination`, `consumer`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ConsumerLabels {
    channel: &'static str,
    destination: String,
    consumer: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn attempt_buckets() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

fn age_buckets() -> Histogram {
    Histogram::new([
        0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0,
    ])
}

/// Every metric family of a worker, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    sent: Family<DestinationLabels, Counter>,
    failed: Family<ReasonLabels, Counter>,
    retried: Family<DestinationLabels, Counter>,
    dead_lettered: Family<ReasonLabels, Counter>,
    rate_limited: Family<DestinationLabels, Counter>,
    broken: Family<DestinationLabels, Gauge>,
    attempt_duration: HistogramFamily<OutcomeLabels>,
    event_age: HistogramFamily<DestinationLabels>,
    pub(crate) consumer_pending: Family<ConsumerLabels, Gauge>,
    pub(crate) consumer_ack_pending: Family<ConsumerLabels, Gauge>,
    pub(crate) consumer_redelivered: Family<ConsumerLabels, Gauge>,
}

/// `herald_notifications_sent_total` is registered as `herald_notifications_sent`.
fn base(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let sent = Family::default();
        let failed = Family::default();
        let retried = Family::default();
        let dead_lettered = Family::default();
        let rate_limited = Family::default();
        let broken = Family::default();
        let attempt_duration: HistogramFamily<OutcomeLabels> =
            Family::new_with_constructor(attempt_buckets);
        let event_age: HistogramFamily<DestinationLabels> =
            Family::new_with_constructor(age_buckets);
        let consumer_pending = Family::default();
        let consumer_ack_pending = Family::default();
        let consumer_redelivered = Family::default();
        registry.register(
            base(names::SENT),
            "Events the provider accepted.",
            sent.clone(),
        );
        registry.register(
            base(names::FAILED),
            "Failed delivery attempts, by reason (status_4xx, status_5xx, no_answer, throttled, broken, render, bad_input).",
            failed.clone(),
        );
        registry.register(
            base(names::RETRIED),
            "Failed attempts scheduled for another try.",
            retried.clone(),
        );
        registry.register(
            base(names::DEAD_LETTERED),
            "Events sent to the dead-letter stream, by reason (bad_input, render, permanent, exhausted).",
            dead_lettered.clone(),
        );
        registry.register(
            base(names::RATE_LIMITED),
            "Throttling answers (429) from the provider.",
            rate_limited.clone(),
        );
        registry.register(
            names::BROKEN,
            "1 while the destination reports itself broken (revoked token, deleted channel), until a delivery succeeds.",
            broken.clone(),
        );
        registry.register(
            names::ATTEMPT_DURATION,
            "Time of one delivery attempt (render and send), by outcome (delivered, retry, permanent).",
            attempt_duration.clone(),
        );
        registry.register(
            names::EVENT_AGE,
            "Age of an event when it was delivered, from its JetStream publish time.",
            event_age.clone(),
        );
        registry.register(
            names::CONSUMER_PENDING,
            "Events in the stream not yet delivered to the consumer.",
            consumer_pending.clone(),
        );
        registry.register(
            names::CONSUMER_ACK_PENDING,
            "Events delivered and not yet acknowledged, delayed retries included.",
            consumer_ack_pending.clone(),
        );
        registry.register(
            names::CONSUMER_REDELIVERED,
            "Events delivered more than once and not yet acknowledged.",
            consumer_redelivered.clone(),
        );
        Self {
            registry,
            sent,
            failed,
            retried,
            dead_lettered,
            rate_limited,
            broken,
            attempt_duration,
            event_age,
            consumer_pending,
            consumer_ack_pending,
            consumer_redelivered,
        }
    }
}

impl Metrics {
    /// The exposition (OpenMetrics text, which Prometheus reads), ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// The view of one destination; its counters appear (at zero) at once.
    pub fn destination(
        self: &Arc<Self>,
        channel: &'static str,
        destination: &str,
    ) -> DestinationMetrics {
        let labels = DestinationLabels {
            channel,
            destination: destination.to_owned(),
        };
        self.sent.get_or_create(&labels).inc_by(0);
        self.retried.get_or_create(&labels).inc_by(0);
        self.rate_limited.get_or_create(&labels).inc_by(0);
        self.broken.get_or_create(&labels).set(0);
        let delivered = OutcomeLabels {
            channel,
            destination: destination.to_owned(),
            outcome: AttemptOutcome::Delivered.as_str(),
        };
        DestinationMetrics {
            metrics: self.clone(),
            hot: HotMetrics {
                sent: self.sent.get_or_create(&labels).clone(),
                broken: self.broken.get_or_create(&labels).clone(),
                event_age: self.event_age.get_or_create(&labels).clone(),
                delivered_duration: self.attempt_duration.get_or_create(&delivered).clone(),
            },
            labels,
        }
    }

    pub(crate) fn consumer_labels(
        channel: &'static str,
        destination: &str,
        consumer: &str,
    ) -> ConsumerLabels {
        ConsumerLabels {
            channel,
            destination: destination.to_owned(),
            consumer: consumer.to_owned(),
        }
    }
}

/// The bounded `reason` of a failed attempt.
pub fn failure_reason(f: &Failure) -> &'static str {
    if f.broken {
        "broken"
    } else if f.throttled {
        "throttled"
    } else {
        match f.status {
            Some(400..=499) => "status_4xx",
            Some(500..=599) => "status_5xx",
            Some(_) => "status_other",
            None => "no_answer",
        }
    }
}

/// The outcome of one attempt, for the latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The provider accepted it.
    Delivered,
    /// It failed and may be tried again.
    Retry,
    /// It failed for good.
    Permanent,
}

impl AttemptOutcome {
    fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Permanent => "permanent",
        }
    }
}

/// One destination's metrics.
#[derive(Debug, Clone)]
pub struct DestinationMetrics {
    metrics: Arc<Metrics>,
    labels: DestinationLabels,
    hot: HotMetrics,
}

/// The series every delivery touches, looked up once: the handles share their
/// values with the families, so a delivery does not hash its labels again.
#[derive(Debug, Clone)]
struct HotMetrics {
    sent: Counter,
    broken: Gauge,
    event_age: Histogram,
    delivered_duration: Histogram,
}

impl DestinationMetrics {
    fn with_reason(&self, reason: &'static str) -> ReasonLabels {
        ReasonLabels {
            channel: self.labels.channel,
            destination: self.labels.destination.clone(),
            reason,
        }
    }

    /// The provider accepted an event `age` after it was published.
    pub fn sent(&self, age: Option<Duration>) {
        self.hot.sent.inc();
        self.hot.broken.set(0);
        if let Some(age) = age {
            self.hot.event_age.observe(age.as_secs_f64());
        }
    }

    /// An attempt failed (or an event could not be attempted) for `reason`.
    pub fn failed(&self, reason: &'static str) {
        self.metrics
            .failed
            .get_or_create(&self.with_reason(reason))
            .inc();
    }

    /// A failed attempt was scheduled again.
    pub fn retried(&self) {
        self.metrics.retried.get_or_create(&self.labels).inc();
    }

    /// An event was dead-lettered.
    pub fn dead_lettered(&self, reason: DeadLetterReason) {
        self.metrics
            .dead_lettered
            .get_or_create(&self.with_reason(reason.as_str()))
            .inc();
    }

    /// The provider throttled us.
    pub fn rate_limited(&self) {
        self.metrics.rate_limited.get_or_create(&self.labels).inc();
    }

    /// The destination reported itself broken.
    pub fn broken(&self) {
        self.metrics.broken.get_or_create(&self.labels).set(1);
    }

    /// One attempt took `took` and ended with `outcome`.
    pub fn attempt(&self, outcome: AttemptOutcome, took: Duration) {
        if outcome == AttemptOutcome::Delivered {
            self.hot.delivered_duration.observe(took.as_secs_f64());
            return;
        }
        let labels = OutcomeLabels {
            channel: self.labels.channel,
            destination: self.labels.destination.clone(),
            outcome: outcome.as_str(),
        };
        self.metrics
            .attempt_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

/// What `/readyz` checks: consumers bound, NATS connected, not stopping.
#[derive(Debug, Default)]
pub struct Health {
    bound: AtomicBool,
    stopping: AtomicBool,
    client: OnceLock<async_nats::Client>,
}

impl Health {
    /// Every consumer exists and pulls on `client`.
    pub fn set_bound(&self, client: async_nats::Client) {
        let _ = self.client.set(client);
        self.bound.store(true, Ordering::Release);
    }

    /// The worker began to shut down.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Why the worker is not ready, or `None` when it is.
    pub fn not_ready(&self) -> Option<&'static str> {
        if self.stopping.load(Ordering::Acquire) {
            return Some("shutting down");
        }
        if !self.bound.load(Ordering::Acquire) {
            return Some("consumers not bound yet");
        }
        match self.client.get().map(async_nats::Client::connection_state) {
            Some(async_nats::connection::State::Connected) => None,
            _ => Some("NATS disconnected"),
        }
    }
}

/// The metrics and health of one worker, shared with its HTTP server.
#[derive(Debug, Clone, Default)]
pub struct Monitor {
    /// The metric families.
    pub metrics: Arc<Metrics>,
    /// Readiness.
    pub health: Arc<Health>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_are_encoded_with_bounded_labels() {
        let m = Arc::new(Metrics::default());
        let d = m.destination("webhook", "ops");
        d.sent(Some(Duration::from_millis(20)));
        d.failed(failure_reason(&Failure::new("x").with_status(503)));
        d.retried();
        d.dead_lettered(DeadLetterReason::Permanent);
        d.attempt(AttemptOutcome::Delivered, Duration::from_millis(3));
        d.broken();
        let text = m.encode();
        for line in [
            "herald_notifications_sent_total{channel=\"webhook\",destination=\"ops\"} 1",
            "herald_notifications_failed_total{channel=\"webhook\",destination=\"ops\",reason=\"status_5xx\"} 1",
            "herald_notifications_retried_total{channel=\"webhook\",destination=\"ops\"} 1",
            "herald_notifications_dead_lettered_total{channel=\"webhook\",destination=\"ops\",reason=\"permanent\"} 1",
            "herald_notifications_rate_limited_total{channel=\"webhook\",destination=\"ops\"} 0",
            "herald_destination_broken{channel=\"webhook\",destination=\"ops\"} 1",
            "herald_delivery_attempt_duration_seconds_count{channel=\"webhook\",destination=\"ops\",outcome=\"delivered\"} 1",
            "herald_event_age_seconds_count{channel=\"webhook\",destination=\"ops\"} 1",
        ] {
            assert!(text.contains(line), "`{line}` missing:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        d.sent(None);
        assert!(
            m.encode()
                .contains("herald_destination_broken{channel=\"webhook\",destination=\"ops\"} 0")
        );
    }

    #[test]
    fn failure_reasons_are_a_small_fixed_set() {
        assert_eq!(failure_reason(&Failure::new("x")), "no_answer");
        assert_eq!(
            failure_reason(&Failure::new("x").with_status(404)),
            "status_4xx"
        );
        assert_eq!(
            failure_reason(&Failure::new("x").with_status(429).throttled(None)),
            "throttled"
        );
        assert_eq!(
            failure_reason(&Failure::new("x").with_status(404).broken()),
            "broken"
        );
    }

    #[test]
    fn readiness_needs_bound_consumers_and_not_stopping() {
        let h = Health::default();
        assert_eq!(h.not_ready(), Some("consumers not bound yet"));
        h.set_stopping();
        assert_eq!(h.not_ready(), Some("shutting down"));
    }
}
