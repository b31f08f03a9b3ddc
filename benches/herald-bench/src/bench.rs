//! What every scenario shares: the binaries, the clock, publishing, the
//! consumers under test and their configuration.

use std::future::IntoFuture as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, message::PublishMessage};
use herald_core::config::{StreamConfig, WorkerConfig};
use herald_core::jetstream::{ConsumerSettings, ensure_consumer, ensure_event_stream};
use herald_core::routing::SubjectPattern;
use serde_json::{Value, json};

use crate::cli::{Args, ChannelKind, Scenario};
use crate::procs::{NatsServer, Proc};
use crate::receiver::Receiver;

/// The subject events are published to, and the pattern consumed.
pub(crate) const SUBJECT: &str = "rotation.completed";
pub(crate) const PATTERN: &str = "rotation.>";
/// The Standard Webhooks test secret (from the spec's vectors).
pub(crate) const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The run's settings, binaries and clock.
#[derive(Debug)]
pub(crate) struct Bench {
    pub(crate) args: Args,
    /// The clock `sent_ns` and arrivals are read on.
    pub(crate) base: Instant,
    /// Clock ticks per second (`/proc` CPU times).
    pub(crate) ticks: u64,
    /// Where the release binaries are.
    pub(crate) bin_dir: PathBuf,
    pub(crate) worker_bin: PathBuf,
    pub(crate) bare_bin: PathBuf,
}

/// A fresh nats-server and HTTP receiver in a temporary directory.
pub(crate) struct Stack {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) nats: NatsServer,
    pub(crate) receiver: Receiver,
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
}

impl Stack {
    /// Starts nats-server and a receiver for `events` events to each of `destinations`.
    pub(crate) async fn start(
        bench: &Bench,
        events: u64,
        paced: u64,
        destinations: u64,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("herald-bench-").tempdir()?;
        let nats = NatsServer::start(dir.path()).await?;
        let receiver = Receiver::start_fanout(bench.base, events, paced, destinations).await?;
        let client = async_nats::connect(nats.url.as_str()).await?;
        let js = jetstream::new(client.clone());
        Ok(Self {
            dir,
            nats,
            receiver,
            client,
            js,
        })
    }

    /// Stops nats-server; keeps the directory when asked to.
    pub(crate) async fn stop(self, keep: bool) {
        self.nats.proc.stop().await;
        drop(self.client);
        if keep {
            eprintln!("  kept {}", self.dir.keep().display());
        }
    }
}

impl Bench {
    /// Locates (after building, unless told not to) the binaries the scenarios need.
    pub(crate) fn new(args: Args) -> anyhow::Result<Self> {
        let channels = args.scenarios.contains(&Scenario::Channels);
        let bin_dir = binaries(args.no_build, if channels { &args.channels } else { &[] })?;
        let worker_bin = args
            .worker_bin
            .clone()
            .unwrap_or_else(|| bin_dir.join("herald-webhook"));
        let bare_bin = bin_dir.join("bare-consumer");
        Ok(Self {
            args,
            base: Instant::now(),
            ticks: crate::procs::ticks_per_sec(),
            bin_dir,
            worker_bin,
            bare_bin,
        })
    }

    pub(crate) fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(self.args.timeout_secs)
    }

    pub(crate) fn child_env<'a>(&'a self, base: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = base.to_vec();
        env.extend(
            self.args
                .child_env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        env
    }

    pub(crate) fn payload(&self, seq: u64) -> bytes::Bytes {
        let sent = self.now_ns();
        format!(
            r#"{{"id":"bench-{seq}","type":"{SUBJECT}","service":"postgres-prod","environment":"production","message":"Rotated the primary credentials.","seq":{seq},"sent_ns":{sent}}}"#
        )
        .into()
    }

    fn message(&self, seq: u64) -> PublishMessage {
        PublishMessage::build()
            .payload(self.payload(seq))
            .message_id(format!("bench-{seq}"))
    }

    /// Publishes as fast as JetStream acks, awaiting acks in windows.
    pub(crate) async fn publish_burst(
        &self,
        js: &jetstream::Context,
        seqs: std::ops::Range<u64>,
    ) -> anyhow::Result<()> {
        herald_testkit::publish_windowed(
            js,
            self.args.window,
            seqs.map(|seq| {
                (
                    SUBJECT.to_string(),
                    format!("bench-{seq}"),
                    self.payload(seq),
                )
            }),
        )
        .await?;
        Ok(())
    }

    /// Publishes at `--paced-rate` events per second.
    pub(crate) async fn publish_paced(
        &self,
        js: &jetstream::Context,
        seqs: std::ops::Range<u64>,
    ) -> anyhow::Result<()> {
        let period = Duration::from_secs_f64(1.0 / f64::from(self.args.paced_rate.max(1)));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pending = Vec::new();
        for seq in seqs {
            tick.tick().await;
            pending.push(
                js.send_publish(SUBJECT, self.message(seq))
                    .await?
                    .into_future(),
            );
            if pending.len() >= 100 {
                for ack in futures::future::join_all(pending.drain(..)).await {
                    ack?;
                }
            }
        }
        for ack in futures::future::join_all(pending).await {
            ack?;
        }
        Ok(())
    }

    /// Waits until the receiver has the distinct deliveries of its target
    /// (set with [`crate::receiver::Tally::set_target`] before publishing);
    /// returns the arrival time of the one that completed it.
    pub(crate) async fn wait_delivered(
        &self,
        receiver: &Receiver,
        consumer: &mut Proc,
        target: u64,
    ) -> anyhow::Result<u64> {
        let deadline = self.deadline();
        let t = &receiver.tally;
        loop {
            if let Some(done) = t.done_ns() {
                return Ok(done);
            }
            consumer.check_alive()?;
            if tokio::time::Instant::now() > deadline {
                let load =
                    |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
                bail!(
                    "only {} of {target} deliveries arrived within {} s ({} requests, {} duplicates, {} malformed); {} log:\n{}",
                    load(&t.distinct),
                    self.args.timeout_secs,
                    load(&t.requests),
                    load(&t.duplicates),
                    load(&t.malformed),
                    consumer.name,
                    consumer.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Starts a channel worker on the fleet configuration `doc` (written to `dir`).
    pub(crate) fn spawn_worker(
        &self,
        channel: ChannelKind,
        doc: &Value,
        dir: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Proc> {
        let bin = if channel == ChannelKind::Webhook {
            self.worker_bin.clone()
        } else {
            self.bin_dir.join(format!("herald-{}", channel.name()))
        };
        self.spawn_worker_bin(channel, &bin, doc, dir, env)
    }

    /// Starts `bin` as the worker of `channel` on the fleet configuration `doc`.
    pub(crate) fn spawn_worker_bin(
        &self,
        channel: ChannelKind,
        bin: &Path,
        doc: &Value,
        dir: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Proc> {
        let config = dir.join(format!("herald-{}.yaml", channel.name()));
        std::fs::write(&config, herald_testkit::yaml::to_yaml(doc))?;
        let mut all = vec![("HERALD_LOG", "warn")];
        all.extend_from_slice(env);
        Proc::spawn(
            &format!("herald-{}", channel.name()),
            bin,
            &["--config".into(), config.display().to_string()],
            &self.child_env(&all),
            dir.join(format!("herald-{}.log", channel.name())),
        )
    }

    /// Creates the stream and the bare consumer (Herald's defaults), then starts
    /// `bare-consumer` posting to `url` with `concurrency` requests in flight.
    pub(crate) async fn spawn_bare(
        &self,
        js: &jetstream::Context,
        nats_url: &str,
        url: &str,
        concurrency: u32,
        dir: &Path,
    ) -> anyhow::Result<Proc> {
        let worker = WorkerConfig::default();
        let stream = ensure_event_stream(js, &StreamConfig::default()).await?;
        let settings = ConsumerSettings {
            ack_wait: worker.ack_wait.0,
            max_ack_pending: worker.max_ack_pending,
        };
        ensure_consumer(&stream, "bare", &pattern()?, settings).await?;
        Proc::spawn(
            "bare-consumer",
            &self.bare_bin,
            &[
                "--nats-url".into(),
                nats_url.to_string(),
                "--stream".into(),
                StreamConfig::default().name,
                "--consumer".into(),
                "bare".into(),
                "--url".into(),
                url.to_string(),
                "--concurrency".into(),
                concurrency.to_string(),
                "--batch".into(),
                self.args.bare_batch.to_string(),
            ],
            &self.child_env(&[]),
            dir.join("bare.log"),
        )
    }
}

/// `rotation.>`.
pub(crate) fn pattern() -> anyhow::Result<SubjectPattern> {
    SubjectPattern::parse(PATTERN).map_err(anyhow::Error::msg)
}

/// A fleet configuration: `nats.url`, the given `worker` keys (metrics on a
/// free loopback port unless set) and `destinations`.
pub(crate) fn fleet(nats_url: &str, worker: Value, destinations: &[Value]) -> Value {
    let mut worker = worker;
    if let Some(w) = worker.as_object_mut() {
        w.entry("metrics_listen")
            .or_insert_with(|| json!("127.0.0.1:0"));
    }
    json!({
        "nats": {"url": nats_url},
        "worker": worker,
        "destinations": destinations,
    })
}

/// A webhook destination for `rotation.>`: `format: envelope`, no rate limit,
/// Standard Webhooks signing when `signed`.
pub(crate) fn webhook(name: &str, url: &str, signed: bool) -> Value {
    let mut d = json!({
        "name": name,
        "channel": "webhook",
        "events": [PATTERN],
        "url": url,
        "format": "envelope",
    });
    if signed {
        d["signing"] = json!({"scheme": "standard-webhooks", "secret": SIGNING_SECRET});
    }
    d
}

/// Waits until the durable consumer exists and has a pull request waiting.
pub(crate) async fn wait_pulling(
    js: &jetstream::Context,
    consumer: &mut Proc,
    name: &str,
) -> anyhow::Result<()> {
    let stream = StreamConfig::default().name;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        consumer.check_alive()?;
        if let Ok(s) = js.get_stream(&stream).await
            && let Ok(info) = s.consumer_info(name).await
            && info.num_waiting > 0
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "consumer {name} never started pulling; {} log:\n{}",
                consumer.name,
                consumer.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Builds (unless told not to) `herald-webhook`, `bare-consumer` and the
/// workers of `channels`; returns the directory holding them (next to this
/// executable, same profile).
fn binaries(no_build: bool, channels: &[ChannelKind]) -> anyhow::Result<PathBuf> {
    let release = !cfg!(debug_assertions);
    if !release {
        eprintln!("herald-bench: WARNING: debug build; use `cargo run --release -p herald-bench`.");
    }
    let mut packages = vec!["herald-webhook".to_string(), "herald-bench".into()];
    packages.extend(
        channels
            .iter()
            .filter(|c| **c != ChannelKind::Webhook)
            .map(|c| format!("herald-{}", c.name())),
    );
    if !no_build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut cmd = std::process::Command::new(cargo);
        cmd.current_dir(root).arg("build");
        for p in &packages {
            cmd.args(["-p", p]);
        }
        cmd.arg("--bins");
        if release {
            cmd.arg("--release");
        }
        eprintln!("herald-bench: building {} ...", packages.join(", "));
        let status = cmd.status().context("run cargo build")?;
        if !status.success() {
            bail!("cargo build failed ({status})");
        }
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("executable has no directory")?;
    let mut needed = vec![dir.join("bare-consumer")];
    needed.extend(
        packages
            .iter()
            .filter(|p| *p != "herald-bench")
            .map(|p| dir.join(p)),
    );
    for b in &needed {
        if !b.exists() {
            bail!("{} is missing; build it or drop --no-build", b.display());
        }
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_configs_parse() {
        let hooks: Vec<Value> = (0..3)
            .map(|i| {
                webhook(
                    &format!("fan-{i}"),
                    &format!("http://127.0.0.1:2/hook/{i}"),
                    i == 0,
                )
            })
            .collect();
        let doc = fleet("nats://127.0.0.1:1", json!({"concurrency": 64}), &hooks);
        let yaml = herald_testkit::yaml::to_yaml(&doc);
        let c = herald_core::config::FleetConfig::from_yaml(&yaml, "bench.yaml").unwrap();
        assert_eq!(c.worker.concurrency, 64);
        assert_eq!(c.destinations.len(), 3);
        assert_eq!(
            c.worker.metrics_listen,
            Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        );
    }
}
