//! Helpers shared by the end-to-end tests: starting workers in-process,
//! naming their consumers, and running `herald console`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_core::config::FleetConfig;
use herald_core::jetstream::consumer_name;
use herald_core::routing::SubjectPattern;
use herald_core::worker::Worker;
use herald_testkit::{
    ConfigFile, EVENT_STREAM, NatsServer, WorkerCommand, WorkerProcess, binary, event, fleet,
    free_port, publish, wait_for_consumer, wait_for_consumer_idle, wait_until,
};
use herald_webhook::Webhook;
use serde_json::Value;

/// A deadline for things that take well under a second on an idle machine;
/// generous so a loaded 2-core CI machine still passes.
pub(crate) const SOON: Duration = Duration::from_secs(30);

/// Starts an in-process webhook worker on `config`. It returns once every
/// consumer exists, so events published afterwards are delivered.
pub(crate) async fn start_worker(config: &ConfigFile) -> Result<Worker> {
    let name = config.name();
    let parsed = FleetConfig::from_yaml(&config.text()?, &name)
        .with_context(|| format!("test config:\n{}", config.text().unwrap_or_default()))?;
    Worker::start::<Webhook>(&parsed, &name)
        .await
        .with_context(|| format!("starting the worker on {name}"))
}

/// The durable consumer of `channel`'s destination for one pattern.
pub(crate) fn channel_consumer(channel: &str, destination: &str, pattern: &str) -> Result<String> {
    let p = SubjectPattern::parse(pattern).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(consumer_name(channel, destination, &p))
}

/// The durable consumer of a webhook destination for one pattern.
pub(crate) fn consumer(destination: &str, pattern: &str) -> Result<String> {
    channel_consumer("webhook", destination, pattern)
}

/// The `(name, pattern)` of every consumer of these destination documents
/// (one per entry of their `events`).
pub(crate) fn consumers_of(destinations: &[Value]) -> Vec<(&str, &str)> {
    destinations
        .iter()
        .flat_map(|d| {
            let name = d["name"].as_str().unwrap_or_default();
            d["events"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |p| (name, p.as_str().unwrap_or_default()))
        })
        .collect()
}

/// Spawns the `channel` worker `command` and returns once its consumer of each
/// `(destination, pattern)` exists, so events published afterwards are
/// delivered; the worker's stderr when one does not appear.
pub(crate) async fn spawn_ready(
    command: &WorkerCommand,
    js: &async_nats::jetstream::Context,
    channel: &str,
    consumers: &[(&str, &str)],
) -> Result<WorkerProcess> {
    let worker = command.spawn()?;
    for (destination, pattern) in consumers {
        let c = channel_consumer(channel, destination, pattern)?;
        wait_for_consumer(js, EVENT_STREAM, &c, SOON)
            .await
            .with_context(|| format!("herald-{channel} stderr:\n{}", worker.stderr()))?;
    }
    Ok(worker)
}

/// Waits until `channel`'s consumer of `destination` for `pattern` has nothing
/// left: every event acked or terminated, no retry scheduled.
pub(crate) async fn wait_channel_idle(
    js: &async_nats::jetstream::Context,
    channel: &str,
    destination: &str,
    pattern: &str,
) -> Result<()> {
    let c = channel_consumer(channel, destination, pattern)?;
    wait_for_consumer_idle(js, EVENT_STREAM, &c, SOON).await
}

/// Waits until a worker process has created the consumer of `destination` for `pattern`.
pub(crate) async fn wait_ready(
    js: &async_nats::jetstream::Context,
    destination: &str,
    pattern: &str,
) -> Result<()> {
    wait_for_consumer(js, EVENT_STREAM, &consumer(destination, pattern)?, SOON).await
}

/// Waits until the consumer of `destination` for `pattern` has nothing left:
/// every event acked or terminated, no retry scheduled.
pub(crate) async fn wait_idle(
    js: &async_nats::jetstream::Context,
    destination: &str,
    pattern: &str,
) -> Result<()> {
    wait_channel_idle(js, "webhook", destination, pattern).await
}

/// Waits until `worker` has logged that its destination is broken.
pub(crate) async fn wait_broken_logged(worker: &WorkerProcess) -> Result<()> {
    wait_until(SOON, "the broken destination to be logged", || async {
        worker.stderr().contains("The destination is broken")
    })
    .await
    .with_context(|| worker.stderr())
}

/// A running fleet of one destination: nats-server, a fake provider `F`, the
/// channel's worker process.
pub(crate) struct Fleet<F> {
    _nats: NatsServer,
    /// The fake provider the destination points at.
    pub(crate) fake: F,
    /// The worker process.
    pub(crate) worker: WorkerProcess,
    /// JetStream on the fleet's server.
    pub(crate) js: async_nats::jetstream::Context,
    _config: ConfigFile,
    channel: String,
    consumers: Vec<(String, String)>,
}

impl<F> Fleet<F> {
    /// Writes a fleet of `destination` (a `channel` destination document) on
    /// `nats`, spawns `herald-<channel>` with `env` and waits until its
    /// consumers exist.
    pub(crate) async fn start(
        nats: NatsServer,
        fake: F,
        channel: &str,
        destination: Value,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        let destinations = [destination];
        let config = ConfigFile::write(&fleet(&nats.url(), &destinations))?;
        let js = nats.jetstream().await?;
        let mut command = WorkerCommand::new(&format!("herald-{channel}"), config.path())
            .env("NATS_URL", &nats.url());
        for (key, value) in env {
            command = command.env(key, value);
        }
        let consumers = consumers_of(&destinations);
        let worker = spawn_ready(&command, &js, channel, &consumers).await?;
        let consumers = consumers
            .into_iter()
            .map(|(d, p)| (d.to_owned(), p.to_owned()))
            .collect();
        Ok(Self {
            _nats: nats,
            fake,
            worker,
            js,
            _config: config,
            channel: channel.to_owned(),
            consumers,
        })
    }

    /// Publishes a native event `id` on `subject` with these `extra` keys.
    pub(crate) async fn publish(&self, subject: &str, id: &str, extra: &Value) -> Result<()> {
        publish(&self.js, subject, id, event(id, extra)).await?;
        Ok(())
    }

    /// Waits until the worker has nothing left to do.
    pub(crate) async fn idle(&self) -> Result<()> {
        for (destination, pattern) in &self.consumers {
            wait_channel_idle(&self.js, &self.channel, destination, pattern)
                .await
                .with_context(|| format!("worker stderr:\n{}", self.worker.stderr()))?;
        }
        Ok(())
    }
}

/// `prefix-000` .. `prefix-<n-1>`.
pub(crate) fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

/// A running `herald console` on a free loopback port, without access control,
/// its stderr kept in a file. Killed when dropped.
pub(crate) struct ConsoleProcess {
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
    child: tokio::process::Child,
    log: tempfile::NamedTempFile,
}

impl ConsoleProcess {
    /// Starts `herald console --config <config>` with `extra` arguments and
    /// waits until it answers `/api/info`.
    pub(crate) async fn start(config: &Path, extra: &[&str]) -> Result<Self> {
        let port = free_port()?;
        let log = tempfile::NamedTempFile::new()?;
        let child = tokio::process::Command::new(binary("herald")?)
            .args(["console", "--config"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env_remove("HERALD_CONSOLE_TOKEN")
            .env_remove("HERALD_CONSOLE_BASIC_AUTH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen()?)
            .kill_on_drop(true)
            .spawn()
            .context("starting herald console")?;
        let console = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
            log,
        };
        let http = reqwest::Client::new();
        wait_until(SOON, "the console to answer", || async {
            http.get(format!("{}/api/info", console.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await
        .with_context(|| console.log())?;
        Ok(console)
    }

    /// What the console has written to stderr so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Stops it.
    pub(crate) async fn stop(mut self) {
        self.child.kill().await.ok();
    }
}
