//! `herald dlq purge`: delete dead letters, all or one destination's.

use std::process::ExitCode;

use anyhow::Context as _;
use async_nats::jetstream;
use async_nats::jetstream::stream::Stream;
use futures::StreamExt as _;
use herald_core::config::FleetConfig;

use super::read;

/// How many dead letters match `filter`.
pub(crate) async fn count(stream: &Stream, filter: &str) -> anyhow::Result<u64> {
    let mut count = 0u64;
    let mut subjects = stream
        .info_with_subjects(filter)
        .await
        .context("counting dead letters")?;
    while let Some(s) = subjects.next().await {
        count += s.context("counting dead letters")?.1 as u64;
    }
    Ok(count)
}

/// Deletes the dead letters matching `filter`; returns how many went.
pub(crate) async fn purge(stream: &Stream, filter: &str) -> anyhow::Result<u64> {
    let purged = stream
        .purge()
        .filter(filter)
        .await
        .context("purging dead letters")?;
    Ok(purged.purged)
}

/// Runs `herald dlq purge`.
pub(super) async fn run(
    js: &jetstream::Context,
    config: &FleetConfig,
    destination: Option<&str>,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let stream = read::dlq_stream(js, config).await?;
    let filter = read::filter(config, destination);
    let whose = destination.map_or_else(
        || "every destination".to_owned(),
        |d| format!("destination {d}"),
    );
    if !yes {
        let count = count(&stream, &filter).await?;
        println!(
            "{count} dead letter(s) of {whose} would be deleted; run again with --yes to delete them."
        );
        return Ok(ExitCode::FAILURE);
    }
    let purged = purge(&stream, &filter).await?;
    println!("Deleted {purged} dead letter(s) of {whose}.");
    Ok(ExitCode::SUCCESS)
}
