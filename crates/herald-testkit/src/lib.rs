//! Test support for Herald's end-to-end tests: real processes, real sockets,
//! waits with deadlines.
//!
//! Nothing here mocks NATS, HTTP or SMTP. Every test starts its own `nats-server`
//! on a free loopback port with a temporary store, and its own HTTP receivers
//! and SMTP server.
//! Nothing waits a fixed time for something to happen: conditions are polled
//! (or notified) up to a deadline, and a timeout says what was awaited.
//!
//! # Map
//! - [`nats`]: [`NatsServer`], a `nats-server -js` child process that can be
//!   killed (SIGKILL) and restarted on the same port and store, optionally
//!   with a configuration file (authentication, TLS).
//! - [`nats_cluster`]: [`NatsCluster`], clustered `nats-server -js` nodes
//!   (routes, a store and a monitoring port each) to kill and restart one by one.
//! - [`nats_auth`]: server configurations and client secrets for NATS
//!   authentication tests (NKey users; operator JWTs and `.creds` files).
//! - [`receiver`]: [`Receiver`], an axum HTTP server that records every request
//!   ([`Recorded`]) and answers from a script of [`Reply`]s (status, headers,
//!   body, delay); over HTTPS with a test CA's certificate if asked.
//! - [`wait`]: [`wait_until`] and [`wait_for_some`], polling with a deadline.
//! - [`binaries`]: [`binary`], the workspace binaries, built once per test
//!   process; [`run_herald`] and [`run_herald_ok`] run the `herald` command.
//! - [`worker`]: [`WorkerProcess`], a worker binary run as a child (SIGKILL,
//!   SIGTERM, logs kept in a temp file), started from a [`WorkerCommand`].
//! - [`fleet`]: fleet configuration documents with fast test defaults
//!   ([`fleet()`], [`webhook`], [`teams`], [`jira`]) written by [`ConfigFile`].
//! - [`events`]: publishing events with `Nats-Msg-Id` and awaiting the PubAck
//!   (one, a few, or millions in windows with [`publish_windowed`]);
//!   [`wait_for_consumer`], the readiness check for a worker process.
//! - [`channel`]: channel test scaffolding: [`destination`] from YAML,
//!   [`envelope`] and [`seed_envelope`], fixed times ([`at`]) and contexts.
//! - [`golden`]: [`Goldens`], golden files compared or rewritten (`HERALD_BLESS=1`).
//! - [`dlq`]: reading [`DeadLetter`]s back from `HERALD_DLQ`.
//! - [`metrics`]: reading a scraped `/metrics` exposition ([`Scrape`]).
//! - [`seeds`]: the seed events in `tests/fixtures/events/` ([`seed_events`],
//!   [`seed_event`]): realistic dsops, Headwind, CertifyClouds and MazeVault
//!   events plus a hostile one, the input of every channel's golden-file tests.
//! - [`smtp`]: [`SmtpServer`], a real SMTP server (Python's `aiosmtpd`, with
//!   STARTTLS and AUTH) scripted per recipient and stoppable, keeping every
//!   message it accepted ([`SmtpMessage`]).
//! - [`tls`]: [`TestCa`], a private CA with server and client certificates
//!   made by `openssl`, for HTTPS receivers ([`Receiver::start_tls`]) and TLS
//!   to NATS.
//! - [`yaml`]: JSON values as block YAML.

pub mod binaries;
pub mod channel;
pub mod dlq;
pub mod events;
pub mod fleet;
pub mod golden;
pub mod metrics;
pub mod nats;
pub mod nats_auth;
pub mod nats_cluster;
pub mod receiver;
pub mod seeds;
pub mod smtp;
pub mod tls;
pub mod wait;
pub mod worker;
pub mod yaml;

pub use binaries::{binary, run_herald, run_herald_ok};
pub use channel::{
    at, context, destination, envelope, example_settings, failure, http_reply, seed_envelope,
    try_destination,
};
pub use dlq::{DLQ_STREAM, DeadLetter, dead_letters, wait_for_dead_letters};
pub use events::{
    EVENT_STREAM, event, publish, publish_all, publish_windowed, publish_with_headers,
    wait_for_consumer, wait_for_consumer_idle,
};
pub use fleet::{ConfigFile, fleet, jira, teams, webhook, write_fleet_config};
pub use golden::Goldens;
pub use metrics::{Sample, Scrape};
pub use nats::{NatsServer, free_port};
pub use nats_cluster::NatsCluster;
pub use receiver::{Receiver, Recorded, Reply, Responder};
pub use seeds::{SEED_DIR, SeedEvent, load_seed_events, seed_event, seed_events};
pub use smtp::{SmtpMessage, SmtpScript, SmtpServer};
pub use tls::TestCa;
pub use wait::{wait_for_some, wait_until};
pub use worker::{Finished, WorkerCommand, WorkerProcess};
