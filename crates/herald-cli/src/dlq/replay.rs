//! `herald dlq replay`: publish dead letters to their destination's replay subject.

use std::process::ExitCode;

use anyhow::Context as _;
use async_nats::jetstream;
use chrono::{DateTime, Utc};
use herald_core::config::FleetConfig;
use herald_core::jetstream::{ensure_replay_stream, replay_subject};
use herald_core::replay::replay_of;

use serde::Serialize;

use super::read::{self, Letter};

/// Runs `herald dlq replay`.
pub(super) async fn run(
    js: &jetstream::Context,
    config: &FleetConfig,
    id: Option<u64>,
    destination: Option<&str>,
    since: Option<DateTime<Utc>>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let stream = read::dlq_stream(js, config).await?;
    let letters = match id {
        Some(id) => vec![read::one(&stream, config, id).await?],
        None => read::all(&stream, &read::filter(config, destination), since).await?,
    };
    if letters.is_empty() {
        println!("No dead letters to replay.");
        return Ok(ExitCode::SUCCESS);
    }
    let known: Vec<&str> = config.destinations.iter().map(|d| d.value.name()).collect();
    for l in &letters {
        let dest = l.destination();
        if !config.destinations.is_empty() && !known.contains(&dest) {
            eprintln!(
                "warning: destination {dest} (dead letter {}) is not in the configuration; its replay waits until a worker serves it",
                l.seq
            );
        }
    }
    let replayed = replay(js, config, &letters, force).await?;
    for r in &replayed {
        println!(
            "{} {} ({}, event {}) → {}{}",
            if r.duplicate {
                "already replayed"
            } else {
                "replayed"
            },
            r.seq,
            r.subject,
            r.event_id,
            r.destination,
            if r.duplicate {
                " (within the last 2 minutes; use --force to send again)"
            } else {
                ""
            }
        );
    }
    println!(
        "Replayed {} dead letter(s). Each goes to its own destination only; {}",
        replayed.len(),
        if force {
            "--force: delivered even where a receipt says the destination has it."
        } else {
            "one the destination has received since (a receipt exists) is skipped."
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// One dead letter put back on its destination's replay subject.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Replayed {
    /// The dead letter's ID.
    pub(crate) seq: u64,
    /// The destination it goes back to.
    pub(crate) destination: String,
    /// The subject the event was first published on.
    pub(crate) subject: String,
    pub(crate) event_id: String,
    /// True when the replay stream had it already (replayed within its
    /// duplicate window): nothing new was published.
    pub(crate) duplicate: bool,
}

/// Publishes `letters` to their destinations' replay subjects, in order.
pub(crate) async fn replay(
    js: &jetstream::Context,
    config: &FleetConfig,
    letters: &[Letter],
    force: bool,
) -> anyhow::Result<Vec<Replayed>> {
    if letters.is_empty() {
        return Ok(Vec::new());
    }
    ensure_replay_stream(js, &config.replay)
        .await
        .context("setting up the replay stream")?;
    let mut out = Vec::with_capacity(letters.len());
    for l in letters {
        out.push(publish(js, config, l, force).await?);
    }
    Ok(out)
}

async fn publish(
    js: &jetstream::Context,
    config: &FleetConfig,
    l: &Letter,
    force: bool,
) -> anyhow::Result<Replayed> {
    let r = replay_of(&l.headers, l.seq, force, Utc::now().timestamp_micros())?;
    let mut headers = r.headers;
    headers.insert("Nats-Msg-Id", r.msg_id.as_str());
    let subject = replay_subject(&config.replay, &r.destination);
    let ack = js
        .publish_with_headers(subject.clone(), headers, l.payload.clone())
        .await
        .with_context(|| format!("publishing to {subject}"))?
        .await
        .with_context(|| format!("no acknowledgement from {}", config.replay.stream))?;
    Ok(Replayed {
        seq: l.seq,
        destination: r.destination,
        subject: r.subject,
        event_id: l.event_id(),
        duplicate: ack.duplicate,
    })
}
