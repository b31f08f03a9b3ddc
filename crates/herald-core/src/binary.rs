//! The `main` every channel worker shares, so the binaries stay a few lines long.
//!
//! ```text
//! herald-<channel> [--config PATH] [--log-format text|json] [--check]
//! ```
//! Besides delivering, a worker serves `/metrics`, `/healthz` and `/readyz` on
//! `worker.metrics_listen` (default `0.0.0.0:9464`; `HERALD_METRICS_LISTEN`
//! overrides it) and logs the address it bound.
//! The configuration comes from `--config` or `HERALD_CONFIG`. Without either,
//! a channel may build a single destination from environment variables alone
//! (see [`Channel::env_destination`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::channel::Channel;
use crate::config::{ConfigErrors, FleetConfig};
use crate::telemetry::{self, LogFormat};
use crate::worker::{prepare, run};

/// Command-line options of a channel worker.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "A Herald channel worker: delivers events from NATS JetStream."
)]
struct WorkerArgs {
    /// The fleet configuration file.
    #[arg(long, env = "HERALD_CONFIG")]
    config: Option<PathBuf>,
    /// Log line format.
    #[arg(long, env = "HERALD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Check the configuration (and resolve secrets), then exit.
    #[arg(long)]
    check: bool,
}

/// Loads the configuration a worker would use: the file, or the environment.
///
/// # Errors
/// Every problem found, each naming file, line and field.
pub fn load_for<C: Channel>(
    config: Option<&std::path::Path>,
) -> Result<(FleetConfig, String), ConfigErrors> {
    if let Some(path) = config {
        return Ok((FleetConfig::load(path)?, path.display().to_string()));
    }
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(destination) = C::env_destination(&get) else {
        return Err(crate::config::ConfigError::file(
            "<none>",
            format!(
                "no configuration: pass --config PATH or set HERALD_CONFIG{}",
                C::ENV_HINT
            ),
        )
        .into());
    };
    let doc = serde_json::json!({ "destinations": [destination] }).to_string();
    let file = "<environment>".to_string();
    let mut config = FleetConfig::from_yaml(&doc, &file)?;
    config.apply_env(get);
    Ok((config, file))
}

/// Runs the worker for channel `C` until SIGTERM or SIGINT.
///
/// When traces are on (see [`telemetry`]), the spans still buffered are
/// exported before the process exits.
pub async fn worker_main<C: Channel>() -> ExitCode {
    let args = WorkerArgs::parse();
    let traces = telemetry::init_worker(args.log_format, C::NAME);
    let code = worker_body::<C>(&args).await;
    if let Some(traces) = traces {
        // The SDK's shutdown blocks until the last batch is sent.
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    code
}

async fn worker_body<C: Channel>(args: &WorkerArgs) -> ExitCode {
    let (config, file) = match load_for::<C>(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("herald-{}: invalid configuration:\n{e}", C::NAME);
            return ExitCode::from(2);
        }
    };
    let env_problems = FleetConfig::env_problems(|k| std::env::var(k).ok());
    if !env_problems.is_empty() {
        eprintln!(
            "herald-{}: invalid environment:\n{}",
            C::NAME,
            env_problems.join("\n")
        );
        return ExitCode::from(2);
    }
    if args.check {
        return match prepare::<C>(&config, &file) {
            Ok(p) => {
                println!("{file}: OK ({} {} destination(s))", p.len(), C::NAME);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        };
    }
    match run::<C>(&config, &file, stop_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald-{}: {e}", C::NAME);
            ExitCode::from(1)
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
