//! `herald-bench`: Herald's benchmark suite. Every figure is a ratio against a
//! reference measured in the same run, or a CPU-time count.
//!
//! Scenarios (`--scenarios`, all by default, in this order):
//! - [`throughput`]: a burst delivered by `herald-webhook` and by a bare
//!   JetStream consumer (`src/bin/bare-consumer.rs`): rate, CPU per delivery.
//! - [`latency`]: 1,000 events/s for 20 s: p50, p99, max publish → arrival.
//! - [`fanout`]: one stream to 1, 10 and 50 webhook destinations.
//! - [`slow`]: a receiver taking 100 ms per request, per-destination concurrency.
//! - [`memory`]: peak RSS idle, at 1,000 events/s, with a 1,000,000-event backlog.
//! - [`startup`]: spawn → `/readyz` 200 against a running nats-server.
//! - [`channels`]: every channel worker against a stand-in of its provider.
//! - [`receipts`]: receipt lookups as the receipts bucket grows.
//!
//! Every run gets a fresh `nats-server -js` (free port, temp store) and its
//! own receivers on 127.0.0.1; the consumers under test are separate processes.
//!
//! ```text
//! cargo run --release -p herald-bench -- --scenarios latency,memory --append BENCHMARKS.md
//! ```

mod bench;
mod channels;
mod cli;
mod fanout;
mod latency;
mod memory;
mod meter;
mod procs;
mod receipts;
mod receiver;
mod slow;
mod startup;
mod stats;
mod throughput;

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Context as _;
use clap::Parser as _;

use bench::Bench;
use cli::{Args, Scenario};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bench = Bench::new(args)?;
    let a = &bench.args;
    eprintln!(
        "herald-bench: scenarios {:?}, worker {}",
        a.scenarios,
        bench.worker_bin.display()
    );
    // On SIGINT or SIGTERM the scenarios' futures are dropped, which kills
    // their child processes (nats-server, the consumers) before exiting.
    tokio::select! {
        r = run_all(&bench) => r,
        () = herald_core::binary::stop_signal() => anyhow::bail!("interrupted"),
    }
}

/// Runs the scenarios in order, printing each section, then appends the report.
async fn run_all(bench: &Bench) -> anyhow::Result<()> {
    let a = &bench.args;
    let mut out = header(bench);
    for scenario in &a.scenarios {
        let section = match scenario {
            Scenario::Throughput => throughput::run(bench).await?,
            Scenario::Latency => latency::run(bench).await?,
            Scenario::Fanout => fanout::run(bench).await?,
            Scenario::Slow => slow::run(bench).await?,
            Scenario::Memory => memory::run(bench).await?,
            Scenario::Startup => startup::run(bench).await?,
            Scenario::Channels => channels::run(bench).await?,
            Scenario::Receipts => receipts::run(bench).await?,
        };
        // Print each section as it completes, so a long run shows its results early.
        println!("{section}");
        out.push_str(&section);
        out.push('\n');
    }
    if let Some(path) = &a.append {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("open {}", path.display()))?;
        f.write_all(out.as_bytes())
            .with_context(|| format!("append to {}", path.display()))?;
        eprintln!("herald-bench: appended to {}", path.display());
    }
    Ok(())
}

/// The report's heading: date, commit, command and machine.
fn header(bench: &Bench) -> String {
    let date = stats::command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = stats::command_output("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = !stats::command_output("git", &["status", "--porcelain", "--untracked-files=no"])
        .trim()
        .is_empty();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Run of {date}, commit `{commit}`{}\n",
        if dirty { " (with local changes)" } else { "" }
    );
    let _ = writeln!(
        out,
        "```sh\ncargo run --release -p herald-bench -- {}\n```\n",
        argv.join(" ")
    );
    let _ = writeln!(out, "{}\n", stats::machine(bench.ticks));
    out
}
