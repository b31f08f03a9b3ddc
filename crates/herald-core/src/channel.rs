//! The `Channel` trait: what a channel crate implements, and nothing more.
//!
//! A channel turns an envelope into its provider's request ([`Channel::render`],
//! pure: no I/O, the clock comes in the context) and sends it
//! ([`Channel::send`], one network call, returning a classified [`Outcome`]).
//! Pulling, acks, retries, rate limits, receipts and dead-lettering are the
//! core's job ([`crate::worker`]).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::config::{Destination, RateLimitConfig};
use crate::digest::{Digest, Schedule};
use crate::envelope::Envelope;
use crate::memory::Memory;
use crate::outcome::Outcome;

/// Everything about one delivery attempt that is not the event itself.
#[derive(Debug, Clone)]
pub struct DeliveryContext {
    /// The destination's name.
    pub destination: String,
    /// A key stable across every attempt of this event to this destination
    /// (derived from the event id and the destination): use it as the provider's
    /// idempotency key (`webhook-id`, `dedup_key`, `alias`, `Message-ID`).
    pub idempotency_key: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// The time of this attempt.
    pub now: DateTime<Utc>,
    /// Notes kept across events of this destination (thread handles, issue keys),
    /// for [`Channel::send`]; see [`crate::memory`].
    pub memory: Memory,
}

impl DeliveryContext {
    /// A context for a one-off delivery outside a worker (`herald render`,
    /// `herald send`, channel tests): first attempt, notes kept in this process.
    pub fn one_off(destination: &str, event_id: &str, now: DateTime<Utc>) -> Self {
        Self {
            destination: destination.to_owned(),
            idempotency_key: crate::receipts::idempotency_key(destination, event_id),
            attempt: 1,
            now,
            memory: Memory::local().scoped(destination),
        }
    }
}

/// The request a channel would send, for `herald render`. Secrets are redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPreview {
    /// HTTP method, or the protocol verb (`SMTP`).
    pub method: String,
    /// Where it goes, secrets redacted.
    pub target: String,
    /// Headers, secret values redacted.
    pub headers: Vec<(String, String)>,
    /// The body, exactly as it would be sent.
    pub body: String,
}

/// A problem in a destination's channel settings found while building it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BuildError {
    /// The settings key at fault (`signing.secret`), empty for the whole destination.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl BuildError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An event that cannot be rendered for this destination (a template error,
/// a missing required attribute). It is dead-lettered, never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

/// Defaults a channel gives its destinations.
#[derive(Debug, Clone, Copy)]
pub struct ChannelDefaults {
    /// Request timeout.
    pub timeout: Duration,
    /// Proactive rate limit (from the provider's documented limits), if any.
    pub rate_limit: Option<RateLimitConfig>,
}

/// A delivery channel, built once per destination.
pub trait Channel: Sized + Send + Sync + 'static {
    /// The channel's name in configuration (`channel: webhook`) and DLQ subjects.
    const NAME: &'static str;

    /// The destination keys this channel reads (beside the common ones). Deny
    /// unknown fields so typos are reported.
    type Settings: DeserializeOwned;

    /// A rendered request, ready to send.
    type Payload: Send + Sync + 'static;

    /// One line naming the environment variables [`Channel::env_destination`]
    /// reads (`" (or WEBHOOK_URL)"`), shown when no configuration is found.
    const ENV_HINT: &'static str = "";

    /// What `herald test` must tell the operator before it sends a test event,
    /// when the test has effects beyond a message (`"creates a real Jira issue"`).
    /// Empty when a test message is harmless.
    const TEST_NOTICE: &'static str = "";

    /// A single destination described by environment variables alone (the
    /// `SLACK_WEBHOOK_URL=... herald-slack` style), as a configuration mapping with
    /// `name`, `channel`, `events` and the channel's keys. `None` when the variables
    /// are not set.
    fn env_destination(
        _get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        None
    }

    /// Timeout and rate limit used when a destination sets none.
    fn defaults() -> ChannelDefaults;

    /// Prepares a destination: resolves secrets, compiles templates, builds clients.
    ///
    /// # Errors
    /// A [`BuildError`] naming the settings key at fault.
    fn build(
        destination: &Destination,
        settings: Self::Settings,
        timeout: Duration,
    ) -> Result<Self, BuildError>;

    /// Renders the request for one event. Pure: no I/O, time comes from `ctx.now`.
    ///
    /// # Errors
    /// A [`RenderError`] when the event cannot be rendered; it is dead-lettered.
    fn render(&self, event: &Envelope, ctx: &DeliveryContext)
    -> Result<Self::Payload, RenderError>;

    /// Sends a rendered request once and classifies what happened.
    fn send(
        &self,
        payload: &Self::Payload,
        ctx: &DeliveryContext,
    ) -> impl Future<Output = Outcome> + Send;

    /// Describes a rendered request for humans, secrets redacted.
    fn preview(&self, payload: &Self::Payload) -> RequestPreview;

    /// When this destination sends digests instead of one message per event,
    /// the schedule of its windows. The core then keeps the events of each open
    /// window durably and calls [`Channel::render_digest`] once it closes.
    fn schedule(&self) -> Option<&Schedule> {
        None
    }

    /// Renders the digest of a closed window (never empty), or `None` when its
    /// events make no message (a report with nothing to report). Pure, like
    /// [`Channel::render`]; `ctx.idempotency_key` is derived from the window, so
    /// a digest sent again is recognisably the same.
    ///
    /// # Errors
    /// A [`RenderError`] when the digest cannot be rendered; its events are
    /// dead-lettered.
    fn render_digest(
        &self,
        _digest: &Digest,
        _ctx: &DeliveryContext,
    ) -> Result<Option<Self::Payload>, RenderError> {
        Err(RenderError(format!(
            "the `{}` channel does not send digests",
            Self::NAME
        )))
    }

    /// The hosts this destination connects to (`hooks.slack.com`), which
    /// `herald check` compares with the outbound allow-list.
    fn hosts(&self) -> Vec<String>;
}
