//! `herald dlq`: list, show, replay and purge dead letters.
//!
//! A dead letter's ID is its sequence in the DLQ stream (`HERALD_DLQ`), as
//! `list` prints it. `replay` re-delivers to the one destination that gave up
//! (never to the others that already had the event); see `herald_core::replay`.

mod list;
pub(crate) mod purge;
pub(crate) mod read;
pub(crate) mod replay;

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::ops::{FleetArgs, jetstream};

/// Options of `herald dlq`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List dead letters, oldest first: ID, when, destination, reason, status, subject, event id, error.
    List {
        /// Only this destination's.
        #[arg(long, value_name = "NAME")]
        destination: Option<String>,
        /// Only those stored since this time (RFC 3339, or a duration ago: `2h`).
        #[arg(long, value_name = "TIME", value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
    },
    /// Show one dead letter: why it failed, its headers and its payload.
    Show {
        /// The dead letter's ID (its DLQ stream sequence).
        id: u64,
    },
    /// Deliver dead letters again, to the destination that gave up on them only.
    Replay {
        /// The dead letter's ID (its DLQ stream sequence).
        #[arg(required_unless_present = "destination", conflicts_with_all = ["destination", "since"])]
        id: Option<u64>,
        /// Replay every dead letter of this destination.
        #[arg(long, value_name = "NAME")]
        destination: Option<String>,
        /// With --destination: only those stored since this time (RFC 3339, or a duration ago: `2h`).
        #[arg(long, value_name = "TIME", value_parser = parse_since, requires = "destination")]
        since: Option<DateTime<Utc>>,
        /// Deliver even if the destination has the event already (a receipt exists).
        #[arg(long)]
        force: bool,
    },
    /// Delete dead letters (all, or one destination's). Asks for --yes.
    Purge {
        /// Only this destination's.
        #[arg(long, value_name = "NAME")]
        destination: Option<String>,
        /// Really delete them (without it, only says how many would go).
        #[arg(long)]
        yes: bool,
    },
}

/// `2025-12-09T14:00:00Z`, or a duration before now (`90m`, `2h`, `1d`).
fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let ago = humantime::parse_duration(s)
        .map_err(|_| format!("`{s}` is neither an RFC 3339 time nor a duration such as 2h"))?;
    let ago = chrono::Duration::from_std(ago).map_err(|e| e.to_string())?;
    Ok(Utc::now() - ago)
}

/// Runs `herald dlq`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.fleet.load()?;
    let js = jetstream(&config).await?;
    match args.command {
        Command::List { destination, since } => {
            list::list(&js, &config, destination.as_deref(), since).await
        }
        Command::Show { id } => list::show(&js, &config, id).await,
        Command::Replay {
            id,
            destination,
            since,
            force,
        } => replay::run(&js, &config, id, destination.as_deref(), since, force).await,
        Command::Purge { destination, yes } => {
            purge::run(&js, &config, destination.as_deref(), yes).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_duration_ago() {
        assert_eq!(
            parse_since("2025-12-09T14:00:00Z").unwrap().to_rfc3339(),
            "2025-12-09T14:00:00+00:00"
        );
        let two_hours = parse_since("2h").unwrap();
        let expected = Utc::now() - chrono::Duration::hours(2);
        assert!((two_hours - expected).num_seconds().abs() < 5);
        assert!(parse_since("yesterday").is_err());
    }
}
