//! `herald status`: per destination, its consumers' backlog, its dead letters,
//! and what the workers last reported (last success, last error, broken).
//!
//! The backlog comes from JetStream consumer info; the rest from the status
//! records the workers write (`herald_core::status`), so it is the same whichever
//! replica did the work.

use std::process::ExitCode;

use anyhow::Context as _;
use async_nats::jetstream;
use chrono::Utc;
use futures::StreamExt as _;
use herald_core::config::{Destination, FleetConfig};
use herald_core::jetstream::{consumer_name, replay_consumer_name};
use herald_core::status::{StatusRecord, StatusStore};
use serde::Serialize;

use crate::channels::facts;
use crate::ops::{FleetArgs, jetstream, when};

/// Options of `herald status`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Print JSON (one object per destination) instead of a table.
    #[arg(long)]
    json: bool,
}

/// What is known about one destination.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) destination: String,
    pub(crate) channel: String,
    /// The subject patterns it takes.
    pub(crate) events: Vec<String>,
    /// Its rate limit (its own, else its channel's default), if any.
    pub(crate) rate_limit: Option<RateLimit>,
    /// `ok`, `failing`, `broken`, `idle` (no record yet) or `not started` (no consumer).
    pub(crate) state: &'static str,
    /// Events not yet delivered to its consumers (the consumer lag).
    pub(crate) pending: u64,
    pub(crate) ack_pending: u64,
    pub(crate) redelivered: u64,
    pub(crate) dead_letters: u64,
    /// Consumers not found (no worker of the channel has run yet).
    pub(crate) missing_consumers: Vec<String>,
    pub(crate) record: Option<StatusRecord>,
}

/// A destination's rate limit.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct RateLimit {
    pub(crate) per_second: f64,
    pub(crate) burst: u32,
    /// True when it is the channel's default (the destination sets none).
    pub(crate) default: bool,
}

fn rate_limit(d: &Destination) -> Option<RateLimit> {
    let (limit, default) = match d.rate_limit {
        Some(r) => (Some(r), false),
        None => (facts(d.channel()).and_then(|f| f.default_rate_limit), true),
    };
    limit.map(|r| RateLimit {
        per_second: r.per_second,
        burst: r.burst,
        default,
    })
}

fn state(record: Option<&StatusRecord>, missing: bool) -> &'static str {
    match record {
        Some(r) if r.is_broken() => "broken",
        Some(r) if r.is_failing() => "failing",
        Some(_) => "ok",
        None if missing => "not started",
        None => "idle",
    }
}

async fn row(
    js: &jetstream::Context,
    config: &FleetConfig,
    statuses: Option<&StatusStore>,
    d: &Destination,
) -> anyhow::Result<Row> {
    let mut consumers: Vec<(String, String)> = d
        .events
        .value
        .iter()
        .map(|p| {
            (
                config.stream.name.clone(),
                consumer_name(d.channel(), d.name(), p),
            )
        })
        .collect();
    consumers.push((
        config.replay.stream.clone(),
        replay_consumer_name(d.channel(), d.name()),
    ));
    let (mut pending, mut ack_pending, mut redelivered) = (0, 0, 0);
    let mut missing = Vec::new();
    for (stream, name) in consumers {
        let info = match js.get_stream(&stream).await {
            Ok(s) => s.consumer_info(&name).await.ok(),
            Err(_) => None,
        };
        match info {
            Some(i) => {
                pending += i.num_pending;
                ack_pending += i.num_ack_pending as u64;
                redelivered += i.num_redelivered as u64;
            }
            None => missing.push(name),
        }
    }
    let mut dead_letters = 0u64;
    if let Ok(dlq) = js.get_stream(&config.dlq.stream).await {
        let filter = format!("{}.{}.{}", config.dlq.subject_prefix, d.channel(), d.name());
        if let Ok(mut subjects) = dlq.info_with_subjects(&filter).await {
            while let Some(Ok((_, n))) = subjects.next().await {
                dead_letters += n as u64;
            }
        }
    }
    let record = match statuses {
        Some(s) => s
            .get(d.name())
            .await
            .with_context(|| format!("reading the status of {}", d.name()))?,
        None => None,
    };
    Ok(Row {
        destination: d.name().to_owned(),
        channel: d.channel().to_owned(),
        events: d
            .events
            .value
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        rate_limit: rate_limit(d),
        state: state(record.as_ref(), !missing.is_empty()),
        pending,
        ack_pending,
        redelivered,
        dead_letters,
        missing_consumers: missing,
        record,
    })
}

/// One row per destination of `config`, in the file's order.
pub(crate) async fn rows(
    js: &jetstream::Context,
    config: &FleetConfig,
) -> anyhow::Result<Vec<Row>> {
    // Read the bucket only if a worker created it; never create it from here.
    let statuses = match js.get_key_value(&config.status.bucket).await {
        Ok(kv) => Some(StatusStore::new(kv)),
        Err(_) => None,
    };
    let mut rows = Vec::new();
    for d in config.destinations.iter().map(|d| &d.value) {
        rows.push(row(js, config, statuses.as_ref(), d).await?);
    }
    Ok(rows)
}

/// Runs `herald status`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.fleet.load()?;
    let js = jetstream(&config).await?;
    let rows = rows(&js, &config).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No destinations in the configuration.");
        return Ok(ExitCode::SUCCESS);
    }
    print_table(&rows);
    Ok(ExitCode::SUCCESS)
}

fn print_table(rows: &[Row]) {
    let now = Utc::now();
    println!(
        "{:<20} {:<10} {:<12} {:>8} {:>12} {:>12} {:>13}",
        "DESTINATION", "CHANNEL", "STATE", "PENDING", "ACK PENDING", "REDELIVERED", "DEAD LETTERS"
    );
    for r in rows {
        println!(
            "{:<20} {:<10} {:<12} {:>8} {:>12} {:>12} {:>13}",
            r.destination,
            r.channel,
            r.state.to_uppercase(),
            r.pending,
            r.ack_pending,
            r.redelivered,
            r.dead_letters
        );
    }
    for r in rows {
        let Some(rec) = &r.record else { continue };
        println!();
        println!("{} ({}):", r.destination, r.channel);
        match rec.last_success {
            Some(t) => println!("  last success  {}", when(t, now)),
            None => println!("  last success  never"),
        }
        if let Some(e) = &rec.last_error {
            println!("  last error    {}: {}", when(e.at, now), e.reason);
        }
        if rec.is_broken()
            && let Some(b) = &rec.last_broken
        {
            println!(
                "  BROKEN since  {}: {} (fix the destination, check it with `herald test`, then `herald dlq replay --destination {}`)",
                when(b.at, now),
                b.reason,
                r.destination
            );
        }
    }
}
