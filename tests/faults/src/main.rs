//! `herald-faults`: runs the fault-injection scenarios and prints their figures.
//!
//! ```text
//! cargo run --release -p herald-faults -- --full --markdown figures.md
//! cargo run --release -p herald-faults -- --scenario kill --short
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser;
use herald_faults::{Scale, Scenario};

#[derive(Debug, Parser)]
#[command(
    about = "Herald's fault-injection suite: real nats-server, workers and receivers; faults under load; figures."
)]
struct Args {
    /// A scenario (kill, nats-restart, receivers, dlq, shutdown, backlog,
    /// replicas, cluster) or `all`; repeatable.
    #[arg(long, default_value = "all")]
    scenario: Vec<String>,
    /// The full loads (50,000 events and 20 kills, a 5-minute outage, 1,000,000 events of backlog).
    #[arg(long, conflicts_with = "short")]
    full: bool,
    /// The short loads CI runs (the default).
    #[arg(long)]
    short: bool,
    /// Also append each scenario's figures as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let scale = if args.full { Scale::Full } else { Scale::Short };
    let scenarios = selected(&args.scenario)?;
    if cfg!(debug_assertions) {
        eprintln!("herald-faults: debug build; the figures are for `cargo run --release`.");
    }
    if let Some(path) = &args.markdown {
        append(path, &header(scale))?;
    }
    let mut failed = Vec::new();
    for s in scenarios {
        eprintln!("herald-faults: {} ({scale}) ...", s.name());
        match s.run(scale).await {
            Ok(figures) => {
                for f in figures {
                    println!("{}", f.table());
                    if let Some(path) = &args.markdown {
                        append(path, &format!("{}\n", f.markdown()))?;
                    }
                }
            }
            Err(e) => {
                println!("== {} == FAILED: {e:#}\n", s.name());
                if let Some(path) = &args.markdown {
                    append(path, &format!("#### {}\n\nFAILED: {e:#}\n\n", s.name()))?;
                }
                failed.push(s.name());
            }
        }
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("herald-faults: failed: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

fn selected(names: &[String]) -> anyhow::Result<Vec<Scenario>> {
    if names.iter().any(|n| n == "all") {
        return Ok(Scenario::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| match Scenario::by_name(n) {
            Some(s) => Ok(s),
            None => bail!("no scenario `{n}`"),
        })
        .collect()
}

fn header(scale: Scale) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Run of {} ({scale} scale)\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _ = writeln!(
        out,
        "Command: `cargo run --release -p herald-faults -- {}` at commit {}. Machine: {} CPU(s), Linux {}.\n",
        args.join(" "),
        commit(),
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    out
}

/// The checked-out commit, `+changes` when the tree differs from it.
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(hash) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{hash}+changes"),
        _ => hash,
    }
}

fn append(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
