//! The command line: which scenarios to run, and each one's knobs.

use std::path::PathBuf;

use clap::Parser;

/// One part of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// Burst of `--events`: rate, CPU per delivery, against the bare consumer.
    Throughput,
    /// `--latency-rate` events/s for `--latency-secs`: p50, p99, max publish → arrival.
    Latency,
    /// One stream to `--fanout` webhook destinations: deliveries/s, CPU per delivery.
    Fanout,
    /// A receiver taking `--slow-delay-ms` per request, at each `--slow-concurrency`.
    Slow,
    /// Peak RSS idle, at 1,000 events/s, and behind a `--backlog-events` backlog.
    Memory,
    /// Time from process start to `/readyz` answering 200.
    Startup,
    /// Each channel's render and send path against a local stand-in of its provider.
    Channels,
    /// Receipt lookups (missing and existing keys) as the receipts bucket grows.
    Receipts,
}

/// The systems of the throughput and latency scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum System {
    /// `herald-webhook`, `format: envelope`, no signing.
    Herald,
    /// `herald-webhook` with Standard Webhooks signing.
    #[value(name = "herald-signed")]
    HeraldSigned,
    /// `--alt-worker-bin` with Standard Webhooks signing.
    #[value(name = "herald-signed-alt")]
    HeraldSignedAlt,
    /// `herald-webhook` with Standard Webhooks signing and `receipts: false`
    /// (de-duplication left to the receiver).
    #[value(name = "herald-signed-unreceipted")]
    HeraldSignedUnreceipted,
    /// The bare pull/POST/ack consumer.
    Bare,
}

impl System {
    /// Every system, in the order of the summary tables.
    pub(crate) const ALL: [System; 5] = [
        System::Herald,
        System::HeraldSigned,
        System::HeraldSignedAlt,
        System::HeraldSignedUnreceipted,
        System::Bare,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            System::Herald => "herald-webhook",
            System::HeraldSigned => "herald-webhook + signing",
            System::HeraldSignedAlt => "herald-webhook + signing (--alt-worker-bin)",
            System::HeraldSignedUnreceipted => "herald-webhook + signing, `receipts: false`",
            System::Bare => "bare consumer",
        }
    }
}

/// A channel worker of the `channels` scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ChannelKind {
    Webhook,
    Slack,
    Teams,
    Discord,
    Pagerduty,
    Opsgenie,
    Jira,
    Email,
}

impl ChannelKind {
    /// The channel's name (`herald-<name>` is its worker).
    pub(crate) fn name(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Discord => "discord",
            ChannelKind::Pagerduty => "pagerduty",
            ChannelKind::Opsgenie => "opsgenie",
            ChannelKind::Jira => "jira",
            ChannelKind::Email => "email",
        }
    }
}

/// Every channel, webhook (the reference) first.
pub(crate) const ALL_CHANNELS: &[ChannelKind] = &[
    ChannelKind::Webhook,
    ChannelKind::Slack,
    ChannelKind::Teams,
    ChannelKind::Discord,
    ChannelKind::Pagerduty,
    ChannelKind::Opsgenie,
    ChannelKind::Jira,
    ChannelKind::Email,
];

#[derive(Debug, Parser)]
#[command(
    about = "Herald's benchmark suite: each figure against a reference measured in the same run."
)]
pub(crate) struct Args {
    /// Scenarios to run, in this order.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [
        Scenario::Throughput, Scenario::Latency, Scenario::Fanout, Scenario::Slow,
        Scenario::Memory, Scenario::Startup, Scenario::Channels, Scenario::Receipts,
    ])]
    pub(crate) scenarios: Vec<Scenario>,
    /// Append the report (with the date, commit and command) to this file too.
    #[arg(long)]
    pub(crate) append: Option<PathBuf>,

    /// Throughput: events in each timed burst.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) events: u64,
    /// Rounds of the throughput, fan-out and channel scenarios;
    /// each round runs every system (or setting) once, in rotating order. Medians are reported.
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: u32,
    /// Throughput: deliveries in flight at once (Herald's `worker.concurrency`,
    /// the bare consumer's limit).
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: u32,
    /// Throughput: events of the short paced phase before each burst (0 skips it).
    #[arg(long, default_value_t = 2_000)]
    pub(crate) paced_events: u64,
    /// Events per second of every paced phase.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) paced_rate: u32,
    /// Publish acks awaited together in a burst.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) window: usize,
    /// Messages per pull request of the bare consumer.
    #[arg(long, default_value_t = 256)]
    pub(crate) bare_batch: usize,
    /// Throughput and latency: systems to run, in the order of the first round.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [System::Herald, System::Bare, System::HeraldSigned])]
    pub(crate) systems: Vec<System>,

    /// Latency: seconds of the paced phase (at `--paced-rate`).
    #[arg(long, default_value_t = 20)]
    pub(crate) latency_secs: u64,
    /// Latency: rounds (each runs every system once).
    #[arg(long, default_value_t = 2)]
    pub(crate) latency_runs: u32,

    /// Fan-out: destination counts to compare (the first is the reference).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10, 50])]
    pub(crate) fanout: Vec<u64>,
    /// Fan-out: deliveries per run (events = deliveries / destinations).
    #[arg(long, default_value_t = 50_000)]
    pub(crate) fanout_deliveries: u64,

    /// Slow receivers: how long the receiver takes per request, in ms.
    #[arg(long, default_value_t = 100)]
    pub(crate) slow_delay_ms: u64,
    /// Slow receivers: the destination's `concurrency` settings to try.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32, 128])]
    pub(crate) slow_concurrency: Vec<u32>,
    /// Slow receivers: rounds (each runs every setting once).
    #[arg(long, default_value_t = 1)]
    pub(crate) slow_runs: u32,
    /// Slow receivers: seconds each setting should take at the expected rate.
    #[arg(long, default_value_t = 5)]
    pub(crate) slow_secs: u64,

    /// Memory: seconds the idle worker waits before its peak RSS is read.
    #[arg(long, default_value_t = 2)]
    pub(crate) idle_secs: u64,
    /// Memory: seconds of the paced phase at `--paced-rate`.
    #[arg(long, default_value_t = 20)]
    pub(crate) memory_paced_secs: u64,
    /// Memory: events of the backlog published behind a slow receiver (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) backlog_events: u64,
    /// Memory: seconds the worker keeps working on the backlog before its peak RSS is read.
    #[arg(long, default_value_t = 10)]
    pub(crate) backlog_hold_secs: u64,

    /// Start-up: starts measured for each destination count.
    #[arg(long, default_value_t = 5)]
    pub(crate) startup_runs: u32,
    /// Start-up: destination counts of the configurations started.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10])]
    pub(crate) startup_destinations: Vec<u64>,

    /// Channels: which channel workers (webhook is the reference).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = ALL_CHANNELS.to_vec())]
    pub(crate) channels: Vec<ChannelKind>,
    /// Channels: events per run.
    #[arg(long, default_value_t = 5_000)]
    pub(crate) channel_events: u64,

    /// Channels: the email destination's `smtp.pool_max_idle` (its default when absent).
    #[arg(long)]
    pub(crate) email_pool_max_idle: Option<usize>,

    /// Receipts: bucket sizes (receipts written before the lookups); the first is the reference.
    #[arg(long, value_delimiter = ',', default_values_t = [0, 20_000, 100_000])]
    pub(crate) receipt_sizes: Vec<u64>,
    /// Receipts: lookups of each kind per size.
    #[arg(long, default_value_t = 5_000)]
    pub(crate) receipt_lookups: u64,

    /// Do not run `cargo build` for the binaries first.
    #[arg(long)]
    pub(crate) no_build: bool,
    /// Use this `herald-webhook` binary instead of the one built next to this
    /// executable (to compare a modified worker against the same reference).
    #[arg(long)]
    pub(crate) worker_bin: Option<PathBuf>,
    /// A second `herald-webhook` binary, run with signing as the system
    /// `herald-signed-alt` of the throughput scenario (to measure a change
    /// before and after in one invocation).
    #[arg(long)]
    pub(crate) alt_worker_bin: Option<PathBuf>,
    /// An environment variable (`NAME=VALUE`) for the consumer process under
    /// test, herald-webhook or bare-consumer (e.g. `TOKIO_WORKER_THREADS=1`); repeatable.
    #[arg(long, value_parser = parse_env)]
    pub(crate) child_env: Vec<(String, String)>,
    /// Keep each run's directory (configuration, worker and nats-server logs).
    #[arg(long)]
    pub(crate) keep: bool,
    /// Give up on a phase after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub(crate) timeout_secs: u64,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))
}
