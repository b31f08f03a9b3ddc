//! `herald dlq purge`: delete dead letters, all or one destination's.

use std::process::ExitCode;

use anyhow::Context as _;
use async_nats::jetstream;
use futures::StreamExt as _;
use herald_core::config::FleetConfig;

use super::read;

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
        let mut count = 0usize;
        let mut subjects = stream
            .info_with_subjects(&filter)
            .await
            .context("counting dead letters")?;
        while let Some(s) = subjects.next().await {
            count += s.context("counting dead letters")?.1;
        }
        println!(
            "{count} dead letter(s) of {whose} would be deleted; run again with --yes to delete them."
        );
        return Ok(ExitCode::FAILURE);
    }
    let purged = stream
        .purge()
        .filter(filter)
        .await
        .context("purging dead letters")?;
    println!("Deleted {} dead letter(s) of {whose}.", purged.purged);
    Ok(ExitCode::SUCCESS)
}
