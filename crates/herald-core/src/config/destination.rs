//! One destination: where events matching its patterns are delivered.
//!
//! The keys every destination shares (`name`, `channel`, `events`, `when`,
//! `rate_limit`, `retry`, `timeout`, `concurrency`, `tls`, `receipts`) are read here; every other key
//! belongs to the channel and is kept, with its position in the file, until the
//! channel's worker reads it with [`Destination::settings`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::{Location, Spanned};

use super::duration::HumanDuration;
use super::load::{ConfigError, field_names};
use crate::envelope::{Envelope, Severity};
use crate::outbound::OutboundPolicy;
use crate::routing::SubjectPattern;

/// One destination as written in the configuration file.
///
/// `Debug` lists the channel keys but not their values, which may hold inline secrets.
#[derive(Clone)]
pub struct Destination {
    /// Unique name (`ops-slack`): lowercase letters, digits, `-` and `_`. It names the
    /// JetStream consumers, the DLQ subject and the idempotency receipts.
    pub name: Spanned<String>,
    /// The channel that delivers it (`webhook`, `slack`, ...).
    pub channel: Spanned<String>,
    /// NATS subject patterns of the events to deliver (`rotation.>`, `update.completed`).
    pub events: Spanned<Vec<SubjectPattern>>,
    /// Optional filter on the event itself.
    pub when: When,
    /// Proactive rate limit; the channel's default when absent.
    pub rate_limit: Option<RateLimitConfig>,
    /// Retry schedule and attempt budget.
    pub retry: RetryConfig,
    /// Per-request timeout (with where it was written); the channel's default when absent.
    pub timeout: Option<Spanned<HumanDuration>>,
    /// Deliveries in flight at once for this destination, per worker process;
    /// `worker.concurrency` when absent.
    pub concurrency: Option<u32>,
    /// How HTTPS connections to the provider verify its certificate (with
    /// where it was written; the destination's position when absent).
    pub tls: Spanned<DestinationTls>,
    /// Whether idempotency receipts are kept (default): each event is looked
    /// up before it is sent and recorded after, so a redelivery after a crash
    /// is not sent twice. `false` leaves de-duplication to the receiver (the
    /// idempotency key: `webhook-id`, PagerDuty `dedup_key`, Opsgenie `alias`)
    /// and saves two NATS messages per delivery.
    pub receipts: bool,
    /// The deployment's outbound allow-list (`worker.outbound`), shared by
    /// every destination of the file.
    pub outbound: Arc<OutboundPolicy>,
    /// The channel's own keys, with where each was written.
    pub settings: Vec<(String, Spanned<serde_json::Value>)>,
    /// Where the destination starts in the file.
    pub location: Location,
}

/// Keys every destination understands, in the order they are documented.
pub const COMMON_KEYS: &[&str] = &[
    "name",
    "channel",
    "events",
    "when",
    "rate_limit",
    "retry",
    "timeout",
    "concurrency",
    "tls",
    "receipts",
];

/// Certificate verification for a destination's HTTPS connections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationTls {
    /// A PEM bundle of extra CA certificates to trust (a private CA), besides
    /// the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate: no verification at all. Only for tests against
    /// a provider stand-in; logged as a warning every time the worker starts.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// A proactive rate limit for one destination.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second (may be fractional: `0.5` is one every two seconds).
    pub per_second: f64,
    /// Requests allowed at once after a quiet period.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_burst() -> u32 {
    1
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included, before the event is dead-lettered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Delay before retry n (the last entry repeats).
    #[serde(default = "default_schedule")]
    pub schedule: Vec<HumanDuration>,
    /// Random spread applied to each delay, as a fraction (`0.2` = ±20 %).
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// The longest provider `Retry-After` honoured; longer ones are clamped to it.
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after: HumanDuration,
}

fn default_max_attempts() -> u32 {
    10
}

/// CertifyClouds' first steps (2 s, 5 s, 10 s), then longer ones up to hours:
/// nine retries spanning about five hours.
fn default_schedule() -> Vec<HumanDuration> {
    [2, 5, 10, 30, 120, 600, 1800, 3600, 10_800]
        .into_iter()
        .map(HumanDuration::from_secs)
        .collect()
}

fn default_jitter() -> f64 {
    0.2
}

fn default_max_retry_after() -> HumanDuration {
    HumanDuration::from_secs(3600)
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            schedule: default_schedule(),
            jitter: default_jitter(),
            max_retry_after: default_max_retry_after(),
        }
    }
}

/// A filter on the event: every matcher must hold.
///
/// `severity_at_least: warning` keeps warnings, errors and criticals. Any other key
/// names an envelope attribute (`type`, `source`, `severity`, `resource`,
/// `environment`, `correlation`, or `fields.<title>`) and is one value or a list of
/// accepted values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct When {
    /// The least severity delivered.
    pub severity_at_least: Option<Severity>,
    /// Attribute → accepted values.
    pub equals: BTreeMap<String, Vec<String>>,
}

const WHEN_ATTRIBUTES: &[&str] = &[
    "type",
    "source",
    "severity",
    "resource",
    "environment",
    "correlation",
];

impl When {
    /// True when the event passes every matcher.
    pub fn matches(&self, e: &Envelope) -> bool {
        if self.severity_at_least.is_some_and(|min| e.severity < min) {
            return false;
        }
        self.equals.iter().all(|(attr, accepted)| {
            e.attribute(attr)
                .is_some_and(|v| accepted.iter().any(|a| a == v))
        })
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let raw: BTreeMap<String, OneOrMany> = BTreeMap::deserialize(d)?;
        let mut when = When::default();
        for (key, value) in raw {
            let values = match value {
                OneOrMany::One(v) => vec![v],
                OneOrMany::Many(v) => v,
            };
            if key == "severity_at_least" {
                let [one] = values.as_slice() else {
                    return Err(de::Error::custom("`severity_at_least` takes one severity"));
                };
                when.severity_at_least = Some(Severity::parse(one).ok_or_else(|| {
                    de::Error::custom(format!(
                        "unknown severity `{one}`; expected success, info, warning, error or critical"
                    ))
                })?);
            } else if WHEN_ATTRIBUTES.contains(&key.as_str()) || key.starts_with("fields.") {
                when.equals.insert(key, values);
            } else {
                return Err(de::Error::custom(format!(
                    "unknown `when` key `{key}`; expected severity_at_least, {}, or fields.<title>",
                    WHEN_ATTRIBUTES.join(", ")
                )));
            }
        }
        Ok(when)
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.name.value)
            .field("channel", &self.channel.value)
            .field("events", &self.events.value)
            .field("when", &self.when)
            .field("rate_limit", &self.rate_limit)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout.as_ref().map(|t| t.value))
            .field("concurrency", &self.concurrency)
            .field("tls", &self.tls.value)
            .field("receipts", &self.receipts)
            .field(
                "settings",
                &self
                    .settings
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// The destination name.
    pub fn name(&self) -> &str {
        &self.name.value
    }

    /// The channel name.
    pub fn channel(&self) -> &str {
        &self.channel.value
    }

    /// Reads the channel's own keys into `T` (the channel's settings type, which
    /// should deny unknown fields). Every problem is reported with its position.
    ///
    /// # Errors
    /// One [`ConfigError`] per problem found.
    pub fn settings<T: DeserializeOwned>(&self, file: &str) -> Result<T, Vec<ConfigError>> {
        let known = field_names::<T>();
        let mut errors = Vec::new();
        if let Some(known) = known {
            for (key, value) in &self.settings {
                if !known.contains(&key.as_str()) {
                    let mut all: Vec<&str> = COMMON_KEYS.to_vec();
                    all.extend(known.iter());
                    errors.push(ConfigError::at(
                        file,
                        value.referenced,
                        format!("{}.{key}", self.path()),
                        format!(
                            "unknown field `{key}` for a {} destination; expected one of: {}",
                            self.channel(),
                            all.join(", ")
                        ),
                    ));
                }
            }
        }
        // Unknown keys are reported above; the known ones are still read, so a
        // typo does not hide a wrong value elsewhere in the same destination.
        let map: serde_json::Map<String, serde_json::Value> = self
            .settings
            .iter()
            .filter(|(k, _)| known.is_none_or(|known| known.contains(&k.as_str())))
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        let parsed =
            serde_path_to_error::deserialize(serde_json::Value::Object(map)).map_err(|e| {
                let path = e.path().to_string();
                let path = if path == "." { "" } else { path.as_str() };
                self.error_at(file, path, e.into_inner().to_string())
            });
        match parsed {
            Ok(settings) if errors.is_empty() => Ok(settings),
            Ok(_) => Err(errors),
            Err(e) => {
                errors.push(e);
                Err(errors)
            }
        }
    }

    /// An error about `field` (a path inside this destination, such as
    /// `signing.secret`; empty for the whole destination), positioned at the line
    /// of its top-level key.
    pub fn error_at(&self, file: &str, field: &str, message: impl Into<String>) -> ConfigError {
        let first = field.split(['.', '[']).next().unwrap_or_default();
        let path = if field.is_empty() {
            self.path()
        } else {
            format!("{}.{field}", self.path())
        };
        ConfigError::at(file, self.location_of(first), path, message)
    }

    /// The position of a channel key, or of the destination when the key is absent.
    pub fn location_of(&self, key: &str) -> Location {
        match key {
            "name" => self.name.referenced,
            "tls" => self.tls.referenced,
            "timeout" => self
                .timeout
                .as_ref()
                .map_or(self.location, |t| t.referenced),
            "channel" => self.channel.referenced,
            "events" => self.events.referenced,
            _ => self
                .settings
                .iter()
                .find(|(k, _)| k == key)
                .map_or(self.location, |(_, v)| v.referenced),
        }
    }

    /// `destinations[ops-slack]`: how errors name this destination.
    pub fn path(&self) -> String {
        format!("destinations[{}]", self.name.value)
    }
}

/// A value checked as it is read (see [`Check`]).
struct Checked<T>(T);

/// What a value must satisfy beyond its type.
trait Check: Sized {
    /// Why the value cannot be used.
    fn check(&self) -> Result<(), String>;
}

impl<'de, T: Deserialize<'de> + Check> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = T::deserialize(d)?;
        value.check().map_err(de::Error::custom)?;
        Ok(Checked(value))
    }
}

#[derive(Deserialize)]
#[serde(transparent)]
struct Name(String);

impl Check for Name {
    fn check(&self) -> Result<(), String> {
        if valid_name(&self.0) {
            Ok(())
        } else {
            Err(format!(
                "invalid destination name `{}`: use 1 to 64 lowercase letters, digits, `-` or `_`, starting with a letter or digit",
                self.0
            ))
        }
    }
}

#[derive(Deserialize)]
#[serde(transparent)]
struct Events(Vec<SubjectPattern>);

impl Check for Events {
    fn check(&self) -> Result<(), String> {
        if self.0.is_empty() {
            Err("`events` must list at least one subject pattern, such as [\"rotation.>\"]".into())
        } else {
            Ok(())
        }
    }
}

#[derive(Deserialize)]
#[serde(transparent)]
struct Concurrency(u32);

impl Check for Concurrency {
    fn check(&self) -> Result<(), String> {
        if self.0 == 0 {
            Err("`concurrency` must be at least 1".into())
        } else {
            Ok(())
        }
    }
}

impl Check for RateLimitConfig {
    fn check(&self) -> Result<(), String> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(format!(
                "`rate_limit.per_second` must be above 0 (such as 1, or 0.5 for one every two seconds), not {}",
                self.per_second
            ));
        }
        if self.burst == 0 {
            return Err("`rate_limit.burst` must be at least 1".into());
        }
        Ok(())
    }
}

impl Check for RetryConfig {
    fn check(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err(
                "`retry.max_attempts` must be at least 1 (the first attempt counts)".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(format!(
                "`retry.jitter` must be between 0 and 1 (0.2 spreads delays by ±20 %), not {}",
                self.jitter
            ));
        }
        if self.schedule.is_empty() {
            return Err(
                "`retry.schedule` must list at least one delay, such as [2s, 30s, 5m]".into(),
            );
        }
        Ok(())
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

impl<'de> Deserialize<'de> for Destination {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(DestinationVisitor)
    }
}

struct DestinationVisitor;

impl<'de> Visitor<'de> for DestinationVisitor {
    type Value = Destination;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a destination mapping with `name`, `channel` and `events`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Destination, A::Error> {
        let mut name: Option<Spanned<String>> = None;
        let mut channel: Option<Spanned<String>> = None;
        let mut events: Option<Spanned<Vec<SubjectPattern>>> = None;
        let mut when = None;
        let mut rate_limit = None;
        let mut retry = None;
        let mut timeout = None;
        let mut concurrency = None;
        let mut tls: Option<Spanned<DestinationTls>> = None;
        let mut receipts = None;
        let mut settings: Vec<(String, Spanned<serde_json::Value>)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                // Each value is checked while it is read, so an error names
                // its key and line.
                "name" => {
                    let n: Spanned<Checked<Name>> = map.next_value()?;
                    name = Some(Spanned::new(n.value.0.0, n.referenced, n.defined));
                }
                "channel" => channel = Some(map.next_value()?),
                "events" => {
                    let e: Spanned<Checked<Events>> = map.next_value()?;
                    events = Some(Spanned::new(e.value.0.0, e.referenced, e.defined));
                }
                "when" => when = Some(map.next_value()?),
                "rate_limit" => rate_limit = Some(map.next_value::<Checked<RateLimitConfig>>()?.0),
                "retry" => retry = Some(map.next_value::<Checked<RetryConfig>>()?.0),
                "timeout" => timeout = Some(map.next_value()?),
                "concurrency" => {
                    concurrency = Some(map.next_value::<Checked<Concurrency>>()?.0.0);
                }
                "tls" => tls = Some(map.next_value()?),
                "receipts" => receipts = Some(map.next_value::<bool>()?),
                _ => {
                    let value: Spanned<serde_json::Value> = map.next_value()?;
                    settings.push((key, value));
                }
            }
        }
        let missing = |key: &str| {
            de::Error::custom(format!(
                "missing `{key}`: every destination needs `name`, `channel` and `events`"
            ))
        };
        let name = name.ok_or_else(|| missing("name"))?;
        let location = name.referenced;
        Ok(Destination {
            channel: channel.ok_or_else(|| missing("channel"))?,
            events: events.ok_or_else(|| missing("events"))?,
            name,
            when: when.unwrap_or_default(),
            rate_limit,
            retry: retry.unwrap_or_default(),
            timeout,
            concurrency,
            tls: tls.unwrap_or_else(|| Spanned::new(DestinationTls::default(), location, location)),
            receipts: receipts.unwrap_or(true),
            outbound: Arc::default(),
            settings,
            location,
        })
    }
}
