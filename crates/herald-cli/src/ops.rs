//! What the operator commands (`status`, `dlq`) share: the fleet configuration
//! (or its defaults) and a JetStream connection.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use async_nats::jetstream;
use herald_core::config::FleetConfig;
use herald_core::jetstream::connect;

/// Where to find the fleet.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FleetArgs {
    /// The fleet configuration file (NATS, stream and DLQ settings). Without
    /// it the defaults are used; `NATS_URL` overrides the server either way.
    #[arg(long, env = "HERALD_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

impl FleetArgs {
    /// The configuration, or the defaults with `NATS_URL` applied.
    pub(crate) fn load(&self) -> anyhow::Result<FleetConfig> {
        match &self.config {
            Some(path) => FleetConfig::load(path).map_err(|e| anyhow!("{e}")),
            None => {
                let mut c =
                    FleetConfig::from_yaml("{}", "<defaults>").map_err(|e| anyhow!("{e}"))?;
                c.apply_env(|k| std::env::var(k).ok());
                Ok(c)
            }
        }
    }
}

/// The configuration file, or `None` after printing its errors.
pub(crate) fn load_or_report(path: &Path) -> Option<FleetConfig> {
    match FleetConfig::load(path) {
        Ok(c) => Some(c),
        Err(errors) => {
            eprintln!("{errors}");
            None
        }
    }
}

/// A JetStream context on a new connection to the fleet's NATS.
pub(crate) async fn jetstream(config: &FleetConfig) -> anyhow::Result<jetstream::Context> {
    let client = connect(&config.nats, "herald-cli")
        .await
        .context("connecting to NATS")?;
    Ok(jetstream::new(client))
}

/// `2025-12-09 14:30:00Z (3m ago)`.
pub(crate) fn when(
    at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let ago = (now - at).to_std().unwrap_or_default();
    let ago = humantime::format_duration(std::time::Duration::from_secs(ago.as_secs()));
    format!("{} ({ago} ago)", at.format("%Y-%m-%d %H:%M:%SZ"))
}
