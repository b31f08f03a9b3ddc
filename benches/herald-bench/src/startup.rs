//! Start-up: time from spawning `herald-webhook` to its `/readyz` answering
//! 200, against a nats-server already running. The first start of each
//! configuration provisions the streams, buckets and consumers; the later ones
//! find them. The reference is the same binary's `--version` (exec, dynamic
//! loading and runtime start, nothing else), measured in the same run.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};

use crate::bench::{Bench, Stack, fleet, webhook};
use crate::cli::ChannelKind;
use crate::procs::{Cpu, Footprint, free_port};
use crate::stats::median;

struct Start {
    destinations: u64,
    first: bool,
    ms: f64,
    cpu_ms: f64,
    peak_mib: f64,
    threads: u64,
}

/// Starts every configuration `--startup-runs` times and reports.
pub(crate) async fn run(bench: &Bench) -> anyhow::Result<String> {
    let a = &bench.args;
    eprintln!(
        "start-up: {:?} destinations x {} start(s)",
        a.startup_destinations, a.startup_runs
    );
    let mut starts = Vec::new();
    let mut exec_ms = Vec::new();
    for d in &a.startup_destinations {
        let stack = Stack::start(bench, 1, 0, *d).await?;
        for i in 0..a.startup_runs {
            exec_ms.push(exec_reference(bench)?);
            let s = start_once(bench, &stack, *d, i == 0)
                .await
                .map_err(|e| e.context(format!("start-up: {d} destinations")))?;
            eprintln!(
                "  {d} destination(s), {}: ready in {:.1} ms",
                if s.first { "first start" } else { "restart" },
                s.ms
            );
            starts.push(s);
        }
        stack.stop(a.keep).await;
    }
    Ok(report(bench, &starts, median(exec_ms)))
}

/// Milliseconds from spawn to exit of `herald-webhook --version`.
fn exec_reference(bench: &Bench) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let status = std::process::Command::new(&bench.worker_bin)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("herald-webhook --version failed ({status})");
    }
    Ok(t0.elapsed().as_secs_f64() * 1e3)
}

async fn start_once(
    bench: &Bench,
    stack: &Stack,
    destinations: u64,
    first: bool,
) -> anyhow::Result<Start> {
    let port = free_port()?;
    let hooks: Vec<Value> = (0..destinations)
        .map(|i| {
            webhook(
                &format!("start-{i}"),
                &format!("{}/{i}", stack.receiver.url),
                true,
            )
        })
        .collect();
    let doc = fleet(
        &stack.nats.url,
        json!({"metrics_listen": format!("127.0.0.1:{port}")}),
        &hooks,
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .pool_max_idle_per_host(0)
        .build()?;
    let url = format!("http://127.0.0.1:{port}/readyz");
    let t0 = Instant::now();
    let mut worker = bench.spawn_worker(ChannelKind::Webhook, &doc, stack.dir.path(), &[])?;
    let deadline = t0 + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(&url).send().await
            && r.status().is_success()
        {
            break;
        }
        worker.check_alive()?;
        if Instant::now() > deadline {
            bail!("not ready within 30 s; log:\n{}", worker.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let cpu = Cpu::of(worker.pid)?;
    let f = Footprint::of(worker.pid)?;
    worker.stop().await;
    let (u, s) = cpu.since_us(Cpu::default(), bench.ticks);
    Ok(Start {
        destinations,
        first,
        ms,
        cpu_ms: (u + s) / 1e3,
        peak_mib: f.peak_mib(),
        threads: f.threads,
    })
}

fn report(bench: &Bench, starts: &[Start], exec_ms: f64) -> String {
    let a = &bench.args;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Start-up: spawn → `/readyz` 200, against a running nats-server\n"
    );
    let _ = writeln!(
        out,
        "| destinations | start | starts | ready (ms, median) | max (ms) | vs `--version` exec | CPU to ready (ms) | peak RSS at ready (MiB) | threads |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for d in &a.startup_destinations {
        for first in [true, false] {
            let of = || {
                starts
                    .iter()
                    .filter(|s| s.destinations == *d && s.first == first)
            };
            if of().next().is_none() {
                continue;
            }
            let ms = median(of().map(|s| s.ms).collect());
            let _ = writeln!(
                out,
                "| {d} | {} | {} | {ms:.1} | {:.1} | {:.1}× | {} | {:.1} | {} |",
                if first {
                    "first (provisions)"
                } else {
                    "restart"
                },
                of().count(),
                of().map(|s| s.ms).fold(0.0, f64::max),
                ms / exec_ms,
                cpu_ms(median(of().map(|s| s.cpu_ms).collect()), bench.ticks),
                median(of().map(|s| s.peak_mib).collect()),
                of().map(|s| s.threads).max().unwrap_or(0),
            );
        }
    }
    let _ = writeln!(
        out,
        "\nReady: `/readyz` polled every 1 ms from the spawn. Reference: `herald-webhook --version` \
         from spawn to exit, median {exec_ms:.1} ms in this run. CPU to ready: utime+stime at ready \
         ({} Hz ticks).\n",
        bench.ticks
    );
    out
}

/// CPU time in ms, or `< tick` when below one clock tick.
fn cpu_ms(ms: f64, ticks: u64) -> String {
    let tick_ms = 1000.0 / ticks.max(1) as f64;
    if ms < tick_ms {
        format!("< {tick_ms:.0}")
    } else {
        format!("{ms:.0}")
    }
}
