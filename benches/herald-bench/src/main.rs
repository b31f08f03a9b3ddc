//! `herald-bench`: Herald's webhook worker against a bare JetStream consumer, on
//! the same machine, in the same run.
//!
//! For each system and run: a fresh `nats-server -js` (free port, temp store), a
//! fresh HTTP receiver on 127.0.0.1, and the consumer under test as its own
//! process (the release `herald-webhook` binary, or `bare-consumer`). Once the
//! consumer's pull request is waiting, a paced phase measures latency at a
//! modest rate, then a burst of `--events` events is published (windowed async
//! publish with `Nats-Msg-Id`) and timed from the first publish to the arrival of
//! the last distinct event at the receiver. CPU is read from `/proc/<pid>/stat`
//! around the burst.
//!
//! ```text
//! cargo run --release -p herald-bench -- --events 100000 --runs 3
//! ```

mod procs;
mod receiver;

use std::fmt::Write as _;
use std::future::IntoFuture as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, message::PublishMessage};
use clap::Parser;
use herald_core::config::{StreamConfig, WorkerConfig};
use herald_core::jetstream::{
    ConsumerSettings, consumer_name, ensure_consumer, ensure_event_stream,
};
use herald_core::routing::SubjectPattern;

use procs::{Cpu, NatsServer, Proc};
use receiver::Receiver;

/// The subject events are published to, and the pattern consumed.
const SUBJECT: &str = "rotation.completed";
const PATTERN: &str = "rotation.>";
/// The Standard Webhooks test secret (from the spec's vectors).
const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Debug, Parser)]
#[command(about = "Herald's webhook worker against a bare JetStream consumer: rate, CPU, latency.")]
struct Args {
    /// Events in each timed burst.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Rounds; each runs every system once, in rotating order. Medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Deliveries in flight at once (Herald's `worker.concurrency`, the bare consumer's limit).
    #[arg(long, default_value_t = 64)]
    concurrency: u32,
    /// Events of the paced latency phase before each burst (0 skips it).
    #[arg(long, default_value_t = 2_000)]
    paced_events: u64,
    /// Events per second in the paced phase.
    #[arg(long, default_value_t = 1_000)]
    paced_rate: u32,
    /// Publish acks awaited together in the burst.
    #[arg(long, default_value_t = 2_000)]
    window: usize,
    /// Messages per pull request of the bare consumer.
    #[arg(long, default_value_t = 256)]
    bare_batch: usize,
    /// Systems to run, in the order of the first round.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [System::Herald, System::Bare, System::HeraldSigned])]
    systems: Vec<System>,
    /// Do not run `cargo build` for the binaries first.
    #[arg(long)]
    no_build: bool,
    /// Use this `herald-webhook` binary instead of the one built next to this
    /// executable (to compare a modified worker against the same reference).
    #[arg(long)]
    worker_bin: Option<PathBuf>,
    /// A second `herald-webhook` binary, run with signing as the system
    /// `herald-signed-alt` (to measure a change before and after in one invocation).
    #[arg(long)]
    alt_worker_bin: Option<PathBuf>,
    /// An environment variable (`NAME=VALUE`) for the consumer process under
    /// test, herald-webhook or bare-consumer (e.g. `TOKIO_WORKER_THREADS=1`); repeatable.
    #[arg(long, value_parser = parse_env)]
    child_env: Vec<(String, String)>,
    /// Keep each run's directory (configuration, worker and nats-server logs).
    #[arg(long)]
    keep: bool,
    /// Give up on a phase after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum System {
    /// `herald-webhook`, `format: envelope`, no signing.
    Herald,
    /// `herald-webhook` with Standard Webhooks signing.
    #[value(name = "herald-signed")]
    HeraldSigned,
    /// `--alt-worker-bin` with Standard Webhooks signing.
    #[value(name = "herald-signed-alt")]
    HeraldSignedAlt,
    /// The bare pull/POST/ack consumer.
    Bare,
}

impl System {
    fn label(self) -> &'static str {
        match self {
            System::Herald => "herald-webhook",
            System::HeraldSigned => "herald-webhook + signing",
            System::HeraldSignedAlt => "herald-webhook + signing (--alt-worker-bin)",
            System::Bare => "bare consumer",
        }
    }
}

/// The outcome of one system in one round.
#[derive(Debug, Clone)]
struct RunResult {
    system: System,
    round: u32,
    publish_rate: f64,
    delivery_rate: f64,
    consumer_user_us: f64,
    consumer_sys_us: f64,
    nats_us: f64,
    bench_us: f64,
    burst_p50_ms: f64,
    burst_p99_ms: f64,
    paced_p50_ms: f64,
    paced_p99_ms: f64,
    duplicates: u64,
    redelivered: u64,
    /// Messages the server received from clients per event in the burst
    /// (publishes, acks, pull requests, KV reads and writes).
    nats_in_per_event: f64,
    /// Messages the server sent to clients per event in the burst.
    nats_out_per_event: f64,
    /// Subscriptions the server created per event in the burst (a pull
    /// request made with its own inbox costs one).
    subs_per_event: f64,
    /// CPU used by everything else on the machine during the burst, in cores
    /// (other processes competing with the benchmark; ideally near 0).
    other_cores: f64,
}

impl RunResult {
    fn consumer_us(&self) -> f64 {
        self.consumer_user_us + self.consumer_sys_us
    }
}

/// What every run shares.
#[derive(Debug)]
struct Bench {
    args: Args,
    base: Instant,
    ticks: u64,
    worker_bin: PathBuf,
    bare_bin: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (mut worker_bin, bare_bin) = binaries(args.no_build)?;
    if let Some(w) = &args.worker_bin {
        worker_bin.clone_from(w);
    }
    let bench = Bench {
        args,
        base: Instant::now(),
        ticks: procs::ticks_per_sec(),
        worker_bin,
        bare_bin,
    };
    let mut systems = bench.args.systems.clone();
    eprintln!(
        "herald-bench: {} events x {} round(s), concurrency {}, worker {}, systems: {}",
        bench.args.events,
        bench.args.runs,
        bench.args.concurrency,
        bench.worker_bin.display(),
        systems
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut results = Vec::new();
    for round in 1..=bench.args.runs {
        for system in &systems {
            let r = bench
                .run_once(*system, round)
                .await
                .with_context(|| format!("{} (round {round})", system.label()))?;
            eprintln!(
                "  round {round} {:<26} {:>8.0} ev/s  {:>6.1} µs CPU/delivery  burst p50 {:.0} ms",
                system.label(),
                r.delivery_rate,
                r.consumer_us(),
                r.burst_p50_ms
            );
            results.push(r);
        }
        systems.rotate_left(1);
    }
    println!("{}", report(&bench, &results));
    Ok(())
}

/// Builds (unless told not to) and locates `herald-webhook` and `bare-consumer`
/// next to this executable, in the same profile.
fn binaries(no_build: bool) -> anyhow::Result<(PathBuf, PathBuf)> {
    let release = !cfg!(debug_assertions);
    if !release {
        eprintln!("herald-bench: WARNING: debug build; use `cargo run --release -p herald-bench`.");
    }
    if !no_build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut cmd = std::process::Command::new(cargo);
        cmd.current_dir(root).args([
            "build",
            "-p",
            "herald-webhook",
            "-p",
            "herald-bench",
            "--bins",
        ]);
        if release {
            cmd.arg("--release");
        }
        eprintln!("herald-bench: building herald-webhook and bare-consumer ...");
        let status = cmd.status().context("run cargo build")?;
        if !status.success() {
            bail!("cargo build failed ({status})");
        }
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("executable has no directory")?;
    let worker = dir.join("herald-webhook");
    let bare = dir.join("bare-consumer");
    for b in [&worker, &bare] {
        if !b.exists() {
            bail!("{} is missing; build it or drop --no-build", b.display());
        }
    }
    Ok((worker, bare))
}

impl Bench {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn child_env<'a>(&'a self, base: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = base.to_vec();
        env.extend(
            self.args
                .child_env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        env
    }

    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(self.args.timeout_secs)
    }

    async fn run_once(&self, system: System, round: u32) -> anyhow::Result<RunResult> {
        let a = &self.args;
        let dir = tempfile::Builder::new().prefix("herald-bench-").tempdir()?;
        let nats = NatsServer::start(dir.path()).await?;
        let paced = a.paced_events;
        let total = paced + a.events;
        let receiver = Receiver::start(self.base, total, paced).await?;
        let client = async_nats::connect(nats.url.as_str()).await?;
        let js = jetstream::new(client.clone());
        let pattern = SubjectPattern::parse(PATTERN).map_err(anyhow::Error::msg)?;
        let stream_name = StreamConfig::default().name;

        let (mut consumer, cname) = match system {
            System::Herald | System::HeraldSigned | System::HeraldSignedAlt => {
                let config = dir.path().join("herald.yaml");
                std::fs::write(
                    &config,
                    herald_config(
                        &nats.url,
                        &receiver.url,
                        a.concurrency,
                        system != System::Herald,
                    ),
                )?;
                let bin = match (system, &self.args.alt_worker_bin) {
                    (System::HeraldSignedAlt, Some(alt)) => alt,
                    (System::HeraldSignedAlt, None) => {
                        bail!("herald-signed-alt needs --alt-worker-bin")
                    }
                    _ => &self.worker_bin,
                };
                let proc = Proc::spawn(
                    "herald-webhook",
                    bin,
                    &["--config".into(), config.display().to_string()],
                    &self.child_env(&[("HERALD_LOG", "warn")]),
                    dir.path().join("worker.log"),
                )?;
                (proc, consumer_name("webhook", "bench", &pattern))
            }
            System::Bare => {
                let worker = WorkerConfig::default();
                let stream = ensure_event_stream(&js, &StreamConfig::default()).await?;
                let settings = ConsumerSettings {
                    ack_wait: worker.ack_wait.0,
                    max_ack_pending: worker.max_ack_pending,
                };
                ensure_consumer(&stream, "bare", &pattern, settings).await?;
                let proc = Proc::spawn(
                    "bare-consumer",
                    &self.bare_bin,
                    &[
                        "--nats-url".into(),
                        nats.url.clone(),
                        "--stream".into(),
                        stream_name.clone(),
                        "--consumer".into(),
                        "bare".into(),
                        "--url".into(),
                        receiver.url.clone(),
                        "--concurrency".into(),
                        a.concurrency.to_string(),
                        "--batch".into(),
                        a.bare_batch.to_string(),
                    ],
                    &self.child_env(&[]),
                    dir.path().join("bare.log"),
                )?;
                (proc, "bare".to_string())
            }
        };
        wait_pulling(&js, &mut consumer, &stream_name, &cname).await?;

        // Paced phase: latency at a rate far below capacity (also warms the connections).
        let tally = &receiver.tally;
        if paced > 0 {
            tally.set_target(paced);
            self.publish_paced(&js, 0..paced).await?;
            self.wait_delivered(&receiver, &mut consumer, paced).await?;
        }

        // Burst: throughput and CPU.
        tally.set_target(total);
        let http = reqwest::Client::new();
        let msgs0 = nats.msg_counts(&http).await?;
        let cpu0 = (Cpu::of(consumer.pid)?, Cpu::of(nats.proc.pid)?, Cpu::of(0)?);
        let busy0 = procs::machine_busy_ticks()?;
        let t0 = self.now_ns();
        self.publish_burst(&js, paced..total).await?;
        let t_published = self.now_ns();
        let done = self.wait_delivered(&receiver, &mut consumer, total).await?;
        let cpu1 = (Cpu::of(consumer.pid)?, Cpu::of(nats.proc.pid)?, Cpu::of(0)?);
        let busy1 = procs::machine_busy_ticks()?;
        let t1 = self.now_ns();
        let msgs1 = nats.msg_counts(&http).await?;

        let info = js
            .get_stream(&stream_name)
            .await?
            .consumer_info(&cname)
            .await?;
        consumer.stop().await;
        nats.proc.stop().await;
        drop(client);
        if a.keep {
            eprintln!("  kept {}", dir.keep().display());
        }

        let n = a.events as f64;
        let (cu, cs) = cpu1.0.since_us(cpu0.0, self.ticks);
        let (nu, nsys) = cpu1.1.since_us(cpu0.1, self.ticks);
        let (bu, bs) = cpu1.2.since_us(cpu0.2, self.ticks);
        let (mut lat_paced, mut lat_burst) = tally.latencies();
        let secs = |ns: u64| ns as f64 / 1e9;
        let ours_us = cu + cs + nu + nsys + bu + bs;
        let busy_us = busy1.saturating_sub(busy0) as f64 * 1e6 / self.ticks as f64;
        let other_cores =
            ((busy_us - ours_us) / 1e6 / secs(t1.saturating_sub(t0)).max(1e-9)).max(0.0);
        Ok(RunResult {
            system,
            round,
            publish_rate: n / secs(t_published.saturating_sub(t0)).max(1e-9),
            delivery_rate: n / secs(done.saturating_sub(t0)).max(1e-9),
            consumer_user_us: cu / n,
            consumer_sys_us: cs / n,
            nats_us: (nu + nsys) / n,
            bench_us: (bu + bs) / n,
            burst_p50_ms: percentile(&mut lat_burst, 0.50),
            burst_p99_ms: percentile(&mut lat_burst, 0.99),
            paced_p50_ms: percentile(&mut lat_paced, 0.50),
            paced_p99_ms: percentile(&mut lat_paced, 0.99),
            duplicates: tally.duplicates.load(std::sync::atomic::Ordering::Relaxed),
            redelivered: u64::try_from(info.num_redelivered).unwrap_or(u64::MAX),
            nats_in_per_event: msgs1.received.saturating_sub(msgs0.received) as f64 / n,
            nats_out_per_event: msgs1.sent.saturating_sub(msgs0.sent) as f64 / n,
            subs_per_event: msgs1.subscribed.saturating_sub(msgs0.subscribed) as f64 / n,
            other_cores,
        })
    }

    fn payload(&self, seq: u64) -> bytes::Bytes {
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
    async fn publish_burst(
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
    async fn publish_paced(
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

    /// Waits until the receiver has `target` distinct events; returns the arrival
    /// time of the one that completed it.
    async fn wait_delivered(
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
                    "only {} of {target} events arrived within {} s ({} requests, {} duplicates, {} malformed); {} log:\n{}",
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
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))
}

/// Waits until the durable consumer exists and has a pull request waiting.
async fn wait_pulling(
    js: &jetstream::Context,
    consumer: &mut Proc,
    stream: &str,
    name: &str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        consumer.check_alive()?;
        if let Ok(s) = js.get_stream(stream).await
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

/// One webhook destination, `format: envelope`, no rate limit.
fn herald_config(nats_url: &str, hook_url: &str, concurrency: u32, signed: bool) -> String {
    let mut y = format!(
        "nats:\n  url: {nats_url}\nworker:\n  concurrency: {concurrency}\ndestinations:\n  - name: bench\n    channel: webhook\n    events: [\"{PATTERN}\"]\n    url: {hook_url}\n    format: envelope\n"
    );
    if signed {
        let _ = writeln!(
            y,
            "    signing: {{scheme: standard-webhooks, secret: {SIGNING_SECRET}}}"
        );
    }
    y
}

/// The `p` quantile in ms of samples in µs (sorts them); NaN when empty.
fn percentile(samples: &mut [u32], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    f64::from(samples[rank - 1]) / 1_000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        f64::midpoint(v[m - 1], v[m])
    }
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if s.is_empty() {
                s = String::from_utf8_lossy(&o.stderr).trim().to_string();
            }
            s
        })
        .unwrap_or_else(|| "?".into())
}

fn report(bench: &Bench, results: &[RunResult]) -> String {
    let a = &bench.args;
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## herald-bench: {} events, {} round(s), concurrency {}\n",
        a.events, a.runs, a.concurrency
    );
    let _ = writeln!(
        out,
        "Machine: {} CPU(s) ({cpu_model}), Linux {}, {}; clock tick {} Hz.\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        command_output("uname", &["-r"]),
        command_output("nats-server", &["--version"]),
        bench.ticks
    );
    let _ = writeln!(
        out,
        "| system | rate (events/s) | vs bare | CPU µs/delivery (user+sys) | nats-server µs/delivery | NATS msgs in / out per event | burst p50 / p99 (ms) | paced p50 / p99 (ms) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let of = |s: System| results.iter().filter(move |r| r.system == s);
    let med = |s: System, f: fn(&RunResult) -> f64| median(of(s).map(f).collect());
    let bare_rate = med(System::Bare, |r| r.delivery_rate);
    for s in [
        System::Herald,
        System::HeraldSigned,
        System::HeraldSignedAlt,
        System::Bare,
    ] {
        if of(s).next().is_none() {
            continue;
        }
        let rate = med(s, |r| r.delivery_rate);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.1} ({:.1} + {:.1}) | {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.2} / {:.2} |",
            s.label(),
            rate,
            rate / bare_rate,
            med(s, RunResult::consumer_us),
            med(s, |r| r.consumer_user_us),
            med(s, |r| r.consumer_sys_us),
            med(s, |r| r.nats_us),
            med(s, |r| r.nats_in_per_event),
            med(s, |r| r.nats_out_per_event),
            med(s, |r| r.burst_p50_ms),
            med(s, |r| r.burst_p99_ms),
            med(s, |r| r.paced_p50_ms),
            med(s, |r| r.paced_p99_ms),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over rounds. Rate: events / (first publish → last distinct arrival at the receiver). \
         CPU: utime+stime of the consumer process over the burst / events. Burst latency includes the \
         backlog (publishing outruns delivery); paced latency is at {} events/s ({} events).\n",
        a.paced_rate, a.paced_events
    );
    let _ = writeln!(
        out,
        "| round | system | publish (events/s) | rate (events/s) | CPU µs/delivery | nats-server µs | bench process µs | burst p50 / p99 (ms) | paced p50 / p99 (ms) | NATS msgs in / out per event | subscriptions per event | duplicates | redelivered | other load (cores) |"
    );
    let _ = writeln!(
        out,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} | {:.2} / {:.2} | {:.2} / {:.2} | {:.3} | {} | {} | {:.2} |",
            r.round,
            r.system.label(),
            r.publish_rate,
            r.delivery_rate,
            r.consumer_us(),
            r.nats_us,
            r.bench_us,
            r.burst_p50_ms,
            r.burst_p99_ms,
            r.paced_p50_ms,
            r.paced_p99_ms,
            r.nats_in_per_event,
            r.nats_out_per_event,
            r.subs_per_event,
            r.duplicates,
            r.redelivered,
            r.other_cores
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let mut v: Vec<u32> = (1..=100).map(|i| i * 1_000).collect();
        assert!((percentile(&mut v, 0.5) - 50.0).abs() < 1e-9);
        assert!((percentile(&mut v, 0.99) - 99.0).abs() < 1e-9);
        assert!(percentile(&mut [], 0.5).is_nan());
        assert!((median(vec![3.0, 1.0, 2.0]) - 2.0).abs() < 1e-9);
        assert!((median(vec![4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-9);
    }

    #[test]
    fn herald_config_parses() {
        let y = herald_config("nats://127.0.0.1:1", "http://127.0.0.1:2/hook", 64, true);
        let c = herald_core::config::FleetConfig::from_yaml(&y, "bench.yaml").unwrap();
        assert_eq!(c.worker.concurrency, 64);
        assert_eq!(c.destinations.len(), 1);
    }
}
