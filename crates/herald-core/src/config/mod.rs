//! The fleet configuration: one YAML file shared by every worker.
//!
//! Each worker reads the whole file and serves the destinations of its channel.
//! Unknown keys are rejected, every field has a default where one makes sense,
//! and every error names the file, line and field.
//!
//! - [`FleetConfig`]: the file (NATS, streams, receipts, worker tuning, destinations).
//! - [`NatsConfig`]: servers, authentication and TLS to NATS.
//! - [`OutboundConfig`]: the deployment's outbound allow-list.
//! - [`Destination`]: one destination; its channel keys are read by the channel.
//! - [`SecretRef`] / [`Secret`]: `{from: {env: NAME}}`, `{from: {file: PATH}}`.
//! - [`HumanDuration`]: `10s`, `2m`, `1h`.

mod destination;
mod digest;
mod duration;
mod load;
mod nats;
mod secret;

pub use destination::{
    COMMON_KEYS, Destination, DestinationTls, RateLimitConfig, RetryConfig, When,
};
pub use digest::DigestConfig;
pub use duration::HumanDuration;
pub use load::{ConfigError, ConfigErrors};
pub use nats::{NatsAuth, NatsConfig, NatsTlsConfig};
pub use secret::{Secret, SecretError, SecretRef, SecretSource};

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::outbound::{AllowRule, OutboundPolicy};
use crate::routing::SubjectPattern;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// How to reach NATS.
    #[serde(default, deserialize_with = "nats::checked")]
    pub nats: NatsConfig,
    /// The stream events are published to.
    #[serde(default)]
    pub stream: StreamConfig,
    /// Where undeliverable events go.
    #[serde(default)]
    pub dlq: DlqConfig,
    /// Idempotency receipts (which events each destination already received).
    #[serde(default)]
    pub receipts: ReceiptsConfig,
    /// Worker tuning shared by every destination.
    #[serde(default)]
    pub worker: WorkerConfig,
    /// Per-destination status records (last success, last error, broken) that
    /// `herald status` reads.
    #[serde(default)]
    pub status: StatusConfig,
    /// Where `herald dlq replay` puts events for one destination to take again.
    #[serde(default)]
    pub replay: ReplayConfig,
    /// Digest windows (destinations that send digests instead of one message per event).
    #[serde(default)]
    pub digest: DigestConfig,
    /// Where events go.
    #[serde(default)]
    pub destinations: Vec<Spanned<Destination>>,
}

/// The event stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// Stream name.
    #[serde(default = "default_stream_name")]
    pub name: String,
    /// Subjects the stream captures.
    #[serde(default = "default_stream_subjects")]
    pub subjects: Vec<SubjectPattern>,
    /// How long events are kept; must cover the whole retry horizon.
    #[serde(default = "default_stream_max_age")]
    pub max_age: HumanDuration,
    /// Window in which a repeated `Nats-Msg-Id` is dropped as a duplicate.
    #[serde(default = "default_duplicate_window")]
    pub duplicate_window: HumanDuration,
    /// Replicas (3 in a production cluster).
    #[serde(default = "one")]
    pub replicas: usize,
    /// Create the stream when it is missing (turn off when a deploy job owns it).
    #[serde(default = "yes")]
    pub create: bool,
}

fn default_stream_name() -> String {
    "HERALD_EVENTS".to_string()
}

/// The event domains Herald's publishers use.
pub const DEFAULT_SUBJECTS: &[&str] = &[
    "rotation.>",
    "update.>",
    "secret.>",
    "cert.>",
    "incident.>",
    "scan.>",
    "vault.>",
    "discovery.>",
    "sync.>",
    "report.>",
];

fn default_stream_subjects() -> Vec<SubjectPattern> {
    DEFAULT_SUBJECTS
        .iter()
        .filter_map(|s| SubjectPattern::parse(s).ok())
        .collect()
}

fn default_stream_max_age() -> HumanDuration {
    HumanDuration::from_secs(7 * 24 * 3600)
}

fn default_duplicate_window() -> HumanDuration {
    HumanDuration::from_secs(15 * 60)
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            name: default_stream_name(),
            subjects: default_stream_subjects(),
            max_age: default_stream_max_age(),
            duplicate_window: default_duplicate_window(),
            replicas: 1,
            create: true,
        }
    }
}

/// The dead-letter stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqConfig {
    /// Stream name.
    #[serde(default = "default_dlq_stream")]
    pub stream: String,
    /// Subject prefix; entries go to `<prefix>.<channel>.<destination>`.
    #[serde(default = "default_dlq_prefix")]
    pub subject_prefix: String,
    /// How long dead letters are kept.
    #[serde(default = "default_dlq_max_age")]
    pub max_age: HumanDuration,
    /// Replicas.
    #[serde(default = "one")]
    pub replicas: usize,
    /// Largest response excerpt kept with a dead letter, in bytes.
    #[serde(default = "default_excerpt")]
    pub response_excerpt_bytes: usize,
}

fn default_dlq_stream() -> String {
    "HERALD_DLQ".to_string()
}

fn default_dlq_prefix() -> String {
    "herald.dlq".to_string()
}

fn default_dlq_max_age() -> HumanDuration {
    HumanDuration::from_secs(30 * 24 * 3600)
}

fn default_excerpt() -> usize {
    512
}

impl Default for DlqConfig {
    fn default() -> Self {
        Self {
            stream: default_dlq_stream(),
            subject_prefix: default_dlq_prefix(),
            max_age: default_dlq_max_age(),
            replicas: 1,
            response_excerpt_bytes: default_excerpt(),
        }
    }
}

/// The idempotency receipts bucket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsConfig {
    /// Key-value bucket name.
    #[serde(default = "default_bucket")]
    pub bucket: String,
    /// How long a receipt is kept; at least the stream's `max_age`.
    #[serde(default = "default_stream_max_age")]
    pub max_age: HumanDuration,
    /// Replicas.
    #[serde(default = "one")]
    pub replicas: usize,
}

fn default_bucket() -> String {
    "herald_receipts".to_string()
}

impl Default for ReceiptsConfig {
    fn default() -> Self {
        Self {
            bucket: default_bucket(),
            max_age: default_stream_max_age(),
            replicas: 1,
        }
    }
}

/// Worker tuning shared by all destinations of a process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Deliveries in flight at once per destination (a destination may override it).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// How long JetStream waits for an ack before redelivering to another replica.
    #[serde(default = "default_ack_wait")]
    pub ack_wait: HumanDuration,
    /// Largest event accepted; larger ones are dead-lettered.
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    /// How long in-flight deliveries may run after SIGTERM before the worker exits.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: HumanDuration,
    /// How long the worker keeps retrying at start while JetStream cannot yet
    /// create or read its streams, buckets and consumers (a request timed out,
    /// a cluster still electing its leaders, no suitable peers yet); a definite
    /// refusal (a conflicting stream, a changed consumer filter) stops it at once.
    #[serde(default = "default_provision_timeout")]
    pub provision_timeout: HumanDuration,
    /// How long one pull request waits for events.
    #[serde(default = "default_pull_expires")]
    pub pull_expires: HumanDuration,
    /// Largest number of events pulled in one request.
    #[serde(default = "default_max_batch")]
    pub max_batch: u32,
    /// Events a consumer may have delivered but not acked, delayed retries
    /// included; when reached, that destination's consumer pauses.
    #[serde(default = "default_max_ack_pending")]
    pub max_ack_pending: i64,
    /// Address of the HTTP server for `/metrics`, `/healthz` and `/readyz`;
    /// `null` turns it off. Port 0 picks a free port (the worker logs the address).
    /// `HERALD_METRICS_LISTEN` overrides it (`off` turns it off).
    #[serde(default = "default_metrics_listen")]
    pub metrics_listen: Option<SocketAddr>,
    /// How often the consumer gauges (pending, ack pending, redelivered) are
    /// read from JetStream.
    #[serde(default = "default_metrics_refresh")]
    pub metrics_refresh: HumanDuration,
    /// Which hosts and networks destinations may reach; every host when absent.
    #[serde(default)]
    pub outbound: OutboundConfig,
}

/// The deployment's outbound allow-list (see [`crate::outbound`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Host names (`hooks.slack.com`), wildcard names (`*.example.com`),
    /// addresses and networks (`10.0.0.0/8`) that destinations may connect to.
    /// Absent: any host. Redirects are never followed either way.
    #[serde(default)]
    pub allow: Option<Vec<AllowRule>>,
}

impl OutboundConfig {
    /// The policy this list describes.
    pub fn policy(&self) -> OutboundPolicy {
        self.allow
            .clone()
            .map_or_else(OutboundPolicy::open, OutboundPolicy::allow)
    }
}

fn default_metrics_listen() -> Option<SocketAddr> {
    Some(SocketAddr::from(([0, 0, 0, 0], 9464)))
}

fn default_metrics_refresh() -> HumanDuration {
    HumanDuration::from_secs(15)
}

fn default_max_ack_pending() -> i64 {
    1000
}

fn default_concurrency() -> u32 {
    32
}

fn default_ack_wait() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_max_event_bytes() -> usize {
    1024 * 1024
}

fn default_shutdown_timeout() -> HumanDuration {
    HumanDuration::from_secs(20)
}

fn default_provision_timeout() -> HumanDuration {
    HumanDuration::from_secs(120)
}

fn default_pull_expires() -> HumanDuration {
    HumanDuration::from_secs(2)
}

fn default_max_batch() -> u32 {
    256
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: default_concurrency(),
            ack_wait: default_ack_wait(),
            max_event_bytes: default_max_event_bytes(),
            shutdown_timeout: default_shutdown_timeout(),
            provision_timeout: default_provision_timeout(),
            pull_expires: default_pull_expires(),
            max_batch: default_max_batch(),
            max_ack_pending: default_max_ack_pending(),
            metrics_listen: default_metrics_listen(),
            metrics_refresh: default_metrics_refresh(),
            outbound: OutboundConfig::default(),
        }
    }
}

/// The status records bucket: one small record per destination, written by the
/// workers when its state changes (throttled) and read by `herald status`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// Key-value bucket name.
    #[serde(default = "default_status_bucket")]
    pub bucket: String,
    /// Replicas.
    #[serde(default = "one")]
    pub replicas: usize,
    /// Longest time a changed record waits before it is written; a change of
    /// state (failing, recovered, broken) is written at once, at most once a second.
    #[serde(default = "default_status_interval")]
    pub interval: HumanDuration,
    /// Whether workers publish each delivery outcome on the live feed (core
    /// NATS, never stored) that `herald console` shows. Entries are published
    /// only while a console watches (it announces itself on
    /// `<feed_subject_prefix>.watchers`), unless `feed_always` is set.
    #[serde(default = "yes")]
    pub feed: bool,
    /// Publish every feed entry even when no console watches, for other
    /// subscribers of `<feed_subject_prefix>.*.*` (a `nats sub`, a log
    /// shipper). Costs one NATS message and its JSON per delivery decision.
    #[serde(default)]
    pub feed_always: bool,
    /// Subject prefix of the live feed; an outcome is published on
    /// `<prefix>.<channel>.<destination>`. Must not be inside `stream.subjects`.
    #[serde(default = "default_feed_prefix")]
    pub feed_subject_prefix: String,
}

fn default_feed_prefix() -> String {
    "herald.feed".to_string()
}

fn default_status_bucket() -> String {
    "herald_status".to_string()
}

fn default_status_interval() -> HumanDuration {
    HumanDuration::from_secs(10)
}

impl Default for StatusConfig {
    fn default() -> Self {
        Self {
            bucket: default_status_bucket(),
            replicas: 1,
            interval: default_status_interval(),
            feed: true,
            feed_always: false,
            feed_subject_prefix: default_feed_prefix(),
        }
    }
}

/// The replay stream: `herald dlq replay` publishes dead letters there, one
/// subject per destination, and only that destination takes them again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// Stream name.
    #[serde(default = "default_replay_stream")]
    pub stream: String,
    /// Subject prefix; replays for a destination go to `<prefix>.<destination>`.
    #[serde(default = "default_replay_prefix")]
    pub subject_prefix: String,
    /// How long replayed events are kept.
    #[serde(default = "default_stream_max_age")]
    pub max_age: HumanDuration,
    /// Replicas.
    #[serde(default = "one")]
    pub replicas: usize,
}

fn default_replay_stream() -> String {
    "HERALD_REPLAY".to_string()
}

fn default_replay_prefix() -> String {
    "herald.replay".to_string()
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            stream: default_replay_stream(),
            subject_prefix: default_replay_prefix(),
            max_age: default_stream_max_age(),
            replicas: 1,
        }
    }
}

impl FleetConfig {
    /// Applies environment overrides (`NATS_URL` and the other `NATS_*`
    /// variables, see [`NatsConfig`]; `HERALD_METRICS_LISTEN`), reading
    /// variables through `get`. An unparsable `HERALD_METRICS_LISTEN` is
    /// ignored here and reported by [`FleetConfig::env_problems`].
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        self.nats.apply_env(&get);
        if let Some(listen) = get("HERALD_METRICS_LISTEN").filter(|u| !u.is_empty())
            && let Ok(addr) = parse_listen(&listen)
        {
            self.worker.metrics_listen = addr;
        }
    }

    /// Environment overrides that cannot be used, one message each.
    pub fn env_problems(get: impl Fn(&str) -> Option<String>) -> Vec<String> {
        get("HERALD_METRICS_LISTEN")
            .filter(|u| !u.is_empty())
            .and_then(|v| parse_listen(&v).err())
            .into_iter()
            .collect()
    }

    /// The destinations served by `channel`.
    pub fn destinations_for<'a>(
        &'a self,
        channel: &'a str,
    ) -> impl Iterator<Item = &'a Destination> + 'a {
        self.destinations
            .iter()
            .map(|d| &d.value)
            .filter(move |d| d.channel() == channel)
    }

    /// Hands every destination the deployment-wide settings it needs when it
    /// is built (the outbound policy).
    fn share_with_destinations(&mut self) {
        let policy = Arc::new(self.worker.outbound.policy());
        for d in &mut self.destinations {
            d.value.outbound = policy.clone();
        }
    }

    /// Checks what the types alone cannot: unique names, patterns inside the stream.
    fn validate(&self, file: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut seen = HashSet::new();
        for d in self.destinations.iter().map(|d| &d.value) {
            if !seen.insert(d.name()) {
                errors.push(ConfigError::at(
                    file,
                    d.name.referenced,
                    format!("{}.name", d.path()),
                    format!("destination name `{}` is used twice", d.name()),
                ));
            }
            for pattern in &d.events.value {
                if !self.stream.subjects.iter().any(|s| pattern.is_within(s)) {
                    errors.push(ConfigError::at(
                        file,
                        d.events.referenced,
                        format!("{}.events", d.path()),
                        format!(
                            "`{pattern}` is not inside the stream's subjects ({}); add it to `stream.subjects`",
                            self.stream
                                .subjects
                                .iter()
                                .map(SubjectPattern::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
        }
        if self.worker.concurrency == 0 {
            errors.push(ConfigError::file(
                file,
                "`worker.concurrency` must be at least 1",
            ));
        }
        if self.status.feed {
            let feed = SubjectPattern::parse(&format!("{}.>", self.status.feed_subject_prefix));
            match feed {
                Ok(feed) => {
                    if let Some(s) = self.stream.subjects.iter().find(|s| feed.overlaps(s)) {
                        errors.push(ConfigError::file(
                            file,
                            format!(
                                "`status.feed_subject_prefix` `{}` overlaps the stream subject `{s}`: the live feed would be stored as events; choose another prefix or set `status.feed: false`",
                                self.status.feed_subject_prefix
                            ),
                        ));
                    }
                }
                Err(e) => errors.push(ConfigError::file(
                    file,
                    format!("`status.feed_subject_prefix` is not a valid subject prefix: {e}"),
                )),
            }
        }
        if self.stream.subjects.is_empty() {
            errors.push(ConfigError::file(
                file,
                "`stream.subjects` must not be empty",
            ));
        }
        errors
    }
}

/// `off` (or `none`) for no server, else `host:port`.
fn parse_listen(value: &str) -> Result<Option<SocketAddr>, String> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|e| {
        format!("HERALD_METRICS_LISTEN=`{v}` is not `off` or an address such as 0.0.0.0:9464: {e}")
    })
}

#[cfg(test)]
mod tests;
