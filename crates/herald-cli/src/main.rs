//! `herald`: publish events, preview what a destination would receive, check a
//! fleet configuration, see the fleet's status, work the dead-letter queue, serve
//! the web console, and run a self-contained demo.
//!
//! Each subcommand lives in its own module; this file only parses the command
//! line and maps results to exit codes (0 success, 1 failure, 2 usage).

mod channels;
mod check;
mod console;
mod demo;
mod dlq;
mod ops;
mod publish;
mod render;
mod send_test;
mod status;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Herald: operational events on NATS JetStream, delivered as notifications.
///
/// Start with `herald demo`: it needs only `nats-server` installed.
#[derive(Debug, Parser)]
#[command(name = "herald", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish one event to JetStream (fills `id` and `time` when missing).
    Publish(publish::Args),
    /// Show the exact request a destination would send for an event, without sending it.
    Render(render::Args),
    /// Check a fleet configuration: parse it, resolve secrets, build every destination.
    Check(check::Args),
    /// Send one test notification to a destination now, straight to its provider.
    Test(send_test::Args),
    /// Per destination: backlog, dead letters, last success, last error, broken or not.
    Status(status::Args),
    /// Work the dead-letter queue: list, show, replay, purge.
    Dlq(dlq::Args),
    /// Serve the web console: destinations, test sends, previews, dead letters, live deliveries.
    Console(console::Args),
    /// Run a self-contained demo: nats-server, a signed-webhook receiver and a worker.
    Demo(demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `herald publish` exports its publish span when traces are configured, so
    // the workers' spans have their parent in the same trace.
    let traces = match cli.command {
        Command::Publish(_)
            if herald_core::telemetry::traces_configured(|k| std::env::var(k).ok()) =>
        {
            herald_core::telemetry::init_worker(herald_core::telemetry::LogFormat::Text, "publish")
        }
        // The console logs every action (who did what) at info.
        Command::Console(_) => {
            init_logging("info");
            None
        }
        _ => {
            init_logging("warn");
            None
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("herald: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Publish(args) => publish::run(args).await,
            Command::Render(args) => render::run(&args),
            Command::Check(args) => Ok(check::run(&args)),
            Command::Test(args) => send_test::run(&args).await,
            Command::Status(args) => status::run(args).await,
            Command::Dlq(args) => dlq::run(args).await,
            Command::Console(args) => console::run(args).await,
            Command::Demo(args) => demo::run(args).await,
        }
    });
    drop(runtime);
    if let Some(t) = traces {
        t.shutdown();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("herald: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error; only `default` and above (warnings and errors
/// for the commands) unless `HERALD_LOG` (or `RUST_LOG`) asks otherwise, so
/// command output stays readable.
fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("HERALD_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
