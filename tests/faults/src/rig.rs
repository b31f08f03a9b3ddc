//! A fleet under test: one `nats-server`, a configuration of signed webhook
//! destinations, worker processes started from it, and a fast publisher.

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use async_nats::jetstream;
use herald_core::config::ReplayConfig;
use herald_core::jetstream::{consumer_name, replay_consumer_name};
use herald_core::routing::SubjectPattern;
use herald_testkit::{
    ConfigFile, EVENT_STREAM, NatsServer, Receiver, WorkerCommand, WorkerProcess, event, fleet,
    publish_windowed, wait_for_consumer, wait_for_consumer_idle, wait_until, webhook,
};
use serde_json::{Value, json};
use tokio::time::Instant;

/// The subject every event is published on.
pub const SUBJECT: &str = "rotation.completed";
/// The pattern every destination subscribes to.
pub const PATTERN: &str = "rotation.>";
/// The Standard Webhooks test secret (from the specification's vectors).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Publishes awaiting their PubAcks together.
const WINDOW: usize = 1_000;
/// How long a worker may take to create its consumers on a loaded machine.
const STARTUP: Duration = Duration::from_secs(60);

/// A webhook destination for [`PATTERN`] posting to `receiver`, signed with
/// Standard Webhooks (`webhook-id` is the idempotency key), each request
/// naming the process that sent it in `X-Replica` (from `$REPLICA`).
pub fn signed_webhook(name: &str, receiver: &Receiver) -> Value {
    let mut dest = webhook(name, &receiver.url(), &[PATTERN]);
    dest["signing"] = json!({"scheme": "standard-webhooks", "secret": SECRET});
    dest["headers"] = json!({"X-Replica": {"from": {"env": "REPLICA"}}});
    dest
}

/// `prefix-0000000` .. `prefix-<n-1>`.
pub fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:07}")).collect()
}

/// One nats-server and a fleet configuration on it.
#[derive(Debug)]
pub struct Rig {
    /// The server (restartable, store kept).
    pub nats: NatsServer,
    /// JetStream on its own connection.
    pub js: jetstream::Context,
    config: ConfigFile,
}

impl Rig {
    /// Starts a server and writes a configuration of `destinations`, with
    /// `worker` keys (`ack_wait`, ...) over the test defaults.
    ///
    /// # Errors
    /// When the server does not start or the file cannot be written.
    pub async fn start(destinations: &[Value], worker: &Value) -> Result<Self> {
        let nats = NatsServer::start().await?;
        let mut doc = fleet(&nats.url(), destinations);
        if let Some(keys) = worker.as_object() {
            for (k, v) in keys {
                doc["worker"][k] = v.clone();
            }
        }
        let config = ConfigFile::write(&doc)?;
        let js = nats.jetstream().await?;
        Ok(Self { nats, js, config })
    }

    /// The configuration file.
    pub fn config(&self) -> &ConfigFile {
        &self.config
    }

    /// Starts `herald-webhook` with `REPLICA=replica`, logging warnings only.
    ///
    /// # Errors
    /// When it cannot start.
    pub fn spawn(&self, replica: &str) -> Result<WorkerProcess> {
        WorkerCommand::webhook(self.config.path())
            .env("NATS_URL", &self.nats.url())
            .env("HERALD_LOG", "warn")
            .env("REPLICA", replica)
            .spawn()
    }

    /// Starts a worker and waits until the consumer of each of `destinations` exists.
    ///
    /// # Errors
    /// When a consumer does not appear (with the worker's log).
    pub async fn spawn_ready(&self, replica: &str, destinations: &[&str]) -> Result<WorkerProcess> {
        let worker = self.spawn(replica)?;
        for d in destinations {
            wait_for_consumer(&self.js, EVENT_STREAM, &consumer(d)?, STARTUP)
                .await
                .with_context(|| format!("worker log:\n{}", worker.stderr()))?;
        }
        Ok(worker)
    }

    /// Waits until the consumer of `destination` has nothing left: every event
    /// acked or terminated, no retry scheduled.
    ///
    /// # Errors
    /// When work remains after `deadline`.
    pub async fn idle(&self, destination: &str, deadline: Duration) -> Result<()> {
        wait_for_consumer_idle(&self.js, EVENT_STREAM, &consumer(destination)?, deadline).await
    }

    /// Waits until the replay consumer of `destination` has nothing left.
    ///
    /// # Errors
    /// When work remains after `deadline`.
    pub async fn replay_idle(&self, destination: &str, deadline: Duration) -> Result<()> {
        wait_for_consumer_idle(
            &self.js,
            &ReplayConfig::default().stream,
            &replay_consumer_name("webhook", destination),
            deadline,
        )
        .await
    }

    /// `(num_pending, num_ack_pending, num_waiting)` of `destination`'s consumer.
    ///
    /// # Errors
    /// When JetStream does not answer.
    pub async fn consumer_state(&self, destination: &str) -> Result<(u64, usize, usize)> {
        let info = self
            .js
            .get_stream(EVENT_STREAM)
            .await?
            .consumer_info(consumer(destination)?)
            .await?;
        Ok((info.num_pending, info.num_ack_pending, info.num_waiting))
    }
}

/// The durable consumer of webhook destination `destination` for [`PATTERN`].
///
/// # Errors
/// Never for [`PATTERN`].
pub fn consumer(destination: &str) -> Result<String> {
    let p = SubjectPattern::parse(PATTERN).map_err(|e| anyhow!("{e}"))?;
    Ok(consumer_name("webhook", destination, &p))
}

/// Publishes one event per id on [`SUBJECT`] (`Nats-Msg-Id` = id), in windows.
///
/// # Errors
/// When JetStream does not store one.
pub async fn publish_ids(js: &jetstream::Context, ids: &[String]) -> Result<usize> {
    publish_windowed(js, WINDOW, ids.iter().map(String::as_str).map(message)).await
}

/// `(subject, msg_id, payload)` of event `id` (a function, not a closure, so
/// the publishing future is `Send` for any lifetime and can be spawned).
fn message(id: &str) -> (String, String, bytes::Bytes) {
    (SUBJECT.to_string(), id.to_owned(), event(id, &json!({})))
}

/// Publishes `ids` again and again until JetStream stores them all (across a
/// server restart; `Nats-Msg-Id` makes a repeat harmless).
///
/// # Errors
/// When they are not stored within `deadline`.
pub async fn publish_ids_until_stored(
    js: &jetstream::Context,
    ids: &[String],
    deadline: Duration,
) -> Result<()> {
    herald_testkit::wait_for_some(deadline, "the events to be stored", || async {
        publish_ids(js, ids).await.ok()
    })
    .await
    .map(|_| ())
}

/// Waits until `receiver` accepted `n` distinct events; returns the time since `since`.
///
/// # Errors
/// When fewer arrive within `deadline`.
pub async fn wait_accepted(
    receiver: &Receiver,
    n: usize,
    since: Instant,
    deadline: Duration,
) -> Result<Duration> {
    wait_until(deadline, &format!("{n} events accepted"), || async {
        receiver.accepted_events() >= n
    })
    .await
    .with_context(|| format!("{} of {n} events accepted", receiver.accepted_events()))?;
    Ok(since.elapsed())
}
