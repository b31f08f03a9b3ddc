//! Herald's core: everything a channel worker shares.
//!
//! A channel crate implements [`Channel`] (render and send) and nothing else;
//! this crate does the rest: reading events from JetStream, filtering, rate
//! limiting, retrying with `Nak(delay)`, idempotency receipts, dead-lettering and
//! graceful shutdown.
//!
//! # Layout
//! - [`envelope`]: the event envelope, and turning NATS messages (native or
//!   CloudEvents) into envelopes.
//! - [`config`]: the fleet configuration file, secrets, durations.
//! - [`routing`]: NATS subject patterns.
//! - [`channel`]: the [`Channel`] trait and what it is given.
//! - [`env`]: what environment-only destinations share (`HERALD_EVENTS`, lists, secrets by reference).
//! - [`outcome`]: classified delivery results.
//! - [`endpoint`]: a provider URL in destination settings, read the same way everywhere.
//! - [`http`]: the HTTP client, exchange and default verdict HTTP channels share.
//! - [`outbound`]: the outbound allow-list of hosts and networks.
//! - [`present`]: the shared reading of an event for display (headline, facts,
//!   colours, mentions).
//! - [`text`]: truncation to provider limits and escaping for HTML and Markdown.
//! - [`timestamp`]: RFC 3339 timestamps written into JSON cheaply.
//! - [`template`]: MiniJinja payload templates with dsops-style placeholders.
//! - [`retry`]: the retry schedule, jitter and `Retry-After`.
//! - [`ratelimit`]: per-destination token bucket and throttling pause.
//! - [`receipts`]: idempotency receipts in a key-value bucket.
//! - [`memory`]: notes a channel keeps across events (thread handles, issue keys).
//! - [`lifecycle`]: open/close notes that keep stale lifecycle events from undoing later ones.
//! - [`digest`]: digests: durable windows, schedules, claims, the expiry report.
//! - [`dlq`]: dead letters.
//! - [`replay`]: replaying dead letters to one destination.
//! - [`status`]: per-destination status records (last success, last error, broken).
//! - [`feed`]: the live feed of delivery decisions (core NATS, fire and forget).
//! - [`metrics`]: Prometheus metrics and the `/metrics`, `/healthz`, `/readyz` endpoints.
//! - [`jetstream`]: connecting and provisioning streams and consumers.
//! - [`worker`]: the runtime that ties it together.
//! - [`binary`]: the shared `main` of every channel worker.
//! - [`telemetry`]: logging set-up.

pub mod binary;
pub mod channel;
pub mod config;
pub mod digest;
pub mod dlq;
pub mod endpoint;
pub mod env;
pub mod envelope;
pub mod feed;
pub mod http;
pub mod jetstream;
pub mod lifecycle;
pub mod memory;
pub mod metrics;
pub mod outbound;
pub mod outcome;
pub mod present;
pub mod ratelimit;
pub mod receipts;
pub mod replay;
pub mod retry;
pub mod routing;
pub mod status;
pub mod telemetry;
pub mod template;
pub mod text;
pub mod timestamp;
pub mod worker;

pub use channel::{Channel, DeliveryContext};
pub use envelope::Envelope;
pub use outcome::Outcome;
