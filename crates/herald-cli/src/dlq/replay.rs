//! `herald dlq replay`: publish dead letters to their destination's replay subject.

use std::process::ExitCode;

use anyhow::Context as _;
use async_nats::jetstream;
use chrono::{DateTime, Utc};
use herald_core::config::FleetConfig;
use herald_core::jetstream::{ensure_replay_stream, replay_subject};
use herald_core::replay::replay_of;

use super::read::{self, Letter};

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
    ensure_replay_stream(js, &config.replay)
        .await
        .context("setting up the replay stream")?;
    let known: Vec<&str> = config.destinations.iter().map(|d| d.value.name()).collect();
    let mut replayed = 0;
    for l in &letters {
        let dest = l.destination();
        if !config.destinations.is_empty() && !known.contains(&dest) {
            eprintln!(
                "warning: destination {dest} (dead letter {}) is not in the configuration; its replay waits until a worker serves it",
                l.seq
            );
        }
        publish(js, config, l, force).await?;
        replayed += 1;
    }
    println!(
        "Replayed {replayed} dead letter(s). Each goes to its own destination only; {}",
        if force {
            "--force: delivered even where a receipt says the destination has it."
        } else {
            "one the destination has received since (a receipt exists) is skipped."
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn publish(
    js: &jetstream::Context,
    config: &FleetConfig,
    l: &Letter,
    force: bool,
) -> anyhow::Result<()> {
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
    println!(
        "{} {} ({}, event {}) → {}{}",
        if ack.duplicate {
            "already replayed"
        } else {
            "replayed"
        },
        l.seq,
        r.subject,
        l.event_id(),
        r.destination,
        if ack.duplicate {
            " (within the last 2 minutes; use --force to send again)"
        } else {
            ""
        }
    );
    Ok(())
}
