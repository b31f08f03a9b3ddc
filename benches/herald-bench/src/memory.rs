//! Memory: the peak RSS (`VmHWM`) of `herald-webhook` (signed, default
//! concurrency) and of the bare consumer, on one process each through three
//! phases: idle after start, `--memory-paced-secs` at `--paced-rate`, then a
//! `--backlog-events` backlog published while the receiver takes
//! `--slow-delay-ms` per request, held for `--backlog-hold-secs`.

use std::fmt::Write as _;
use std::time::Duration;

use herald_core::config::{StreamConfig, WorkerConfig};
use herald_core::jetstream::consumer_name;

use crate::bench::{Bench, Stack, pattern};
use crate::cli::System;
use crate::procs::Footprint;
use crate::throughput::start_system;

struct Run {
    system: System,
    idle: Footprint,
    paced: Footprint,
    backlog: Footprint,
    /// Largest `VmRSS` seen while holding the backlog.
    backlog_rss_max_kib: u64,
    backlog_publish_secs: f64,
    pending_at_end: u64,
}

/// Runs each system once and reports.
pub(crate) async fn run(bench: &Bench) -> anyhow::Result<String> {
    let a = &bench.args;
    eprintln!(
        "memory: idle {} s, {} events/s for {} s, backlog {} events behind {} ms per request",
        a.idle_secs, a.paced_rate, a.memory_paced_secs, a.backlog_events, a.slow_delay_ms
    );
    let mut runs = Vec::new();
    for system in [System::HeraldSigned, System::Bare] {
        let r = run_once(bench, system)
            .await
            .map_err(|e| e.context(format!("memory: {}", system.label())))?;
        eprintln!(
            "  {:<26} idle {:.1} MiB, at {}/s {:.1} MiB, backlog {:.1} MiB",
            system.label(),
            r.idle.peak_mib(),
            a.paced_rate,
            r.paced.peak_mib(),
            r.backlog.peak_mib()
        );
        runs.push(r);
    }
    Ok(report(bench, &runs))
}

async fn run_once(bench: &Bench, system: System) -> anyhow::Result<Run> {
    let a = &bench.args;
    let paced = a.memory_paced_secs * u64::from(a.paced_rate);
    let total = paced + a.backlog_events;
    let stack = Stack::start(bench, total, paced, 1).await?;
    let concurrency = WorkerConfig::default().concurrency;
    let mut consumer = start_system(bench, &stack, system, concurrency).await?;
    tokio::time::sleep(Duration::from_secs(a.idle_secs)).await;
    let idle = Footprint::of(consumer.pid)?;

    stack.receiver.tally.set_target(paced);
    bench.publish_paced(&stack.js, 0..paced).await?;
    bench
        .wait_delivered(&stack.receiver, &mut consumer, paced)
        .await?;
    let at_rate = Footprint::of(consumer.pid)?;

    let mut backlog = at_rate;
    let mut rss_max = at_rate.rss_kib;
    let mut publish_secs = 0.0;
    let mut pending = 0;
    if a.backlog_events > 0 {
        stack
            .receiver
            .tally
            .set_delay(Duration::from_millis(a.slow_delay_ms));
        let t0 = bench.now_ns();
        bench.publish_burst(&stack.js, paced..total).await?;
        publish_secs = bench.now_ns().saturating_sub(t0) as f64 / 1e9;
        for _ in 0..a.backlog_hold_secs {
            tokio::time::sleep(Duration::from_secs(1)).await;
            consumer.check_alive()?;
            let f = Footprint::of(consumer.pid)?;
            rss_max = rss_max.max(f.rss_kib);
        }
        backlog = Footprint::of(consumer.pid)?;
        let cname = match system {
            System::Bare => "bare".to_string(),
            _ => consumer_name("webhook", "bench", &pattern()?),
        };
        let info = stack
            .js
            .get_stream(StreamConfig::default().name)
            .await?
            .consumer_info(&cname)
            .await?;
        pending = info.num_pending;
    }
    consumer.stop().await;
    stack.stop(a.keep).await;
    Ok(Run {
        system,
        idle,
        paced: at_rate,
        backlog,
        backlog_rss_max_kib: rss_max,
        backlog_publish_secs: publish_secs,
        pending_at_end: pending,
    })
}

fn report(bench: &Bench, runs: &[Run]) -> String {
    let a = &bench.args;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Memory: peak RSS idle, at {} events/s, and behind a {}-event backlog\n",
        a.paced_rate, a.backlog_events
    );
    let _ = writeln!(
        out,
        "| system | idle peak RSS (MiB) | threads | peak RSS after {} s at {}/s (MiB) | peak RSS with the backlog (MiB) | RSS max while held / at end (MiB) | pending at end |",
        a.memory_paced_secs, a.paced_rate
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {:.1} | {:.1} | {:.1} / {:.1} | {} |",
            r.system.label(),
            r.idle.peak_mib(),
            r.idle.threads,
            r.paced.peak_mib(),
            r.backlog.peak_mib(),
            r.backlog_rss_max_kib as f64 / 1024.0,
            r.backlog.rss_mib(),
            r.pending_at_end
        );
    }
    let herald = runs.iter().find(|r| r.system == System::HeraldSigned);
    let bare = runs.iter().find(|r| r.system == System::Bare);
    if let (Some(h), Some(b)) = (herald, bare) {
        let _ = writeln!(
            out,
            "\nHerald / bare: idle {:.2}×, at {}/s {:.2}×, with the backlog {:.2}×.",
            h.idle.peak_mib() / b.idle.peak_mib(),
            a.paced_rate,
            h.paced.peak_mib() / b.paced.peak_mib(),
            h.backlog.peak_mib() / b.backlog.peak_mib()
        );
    }
    let _ = writeln!(
        out,
        "\nPeak RSS: `VmHWM` from `/proc/<pid>/status`. Idle: {} s after the consumer's first pull request. \
         The backlog ({} events) was published in {} while the receiver took {} ms per request; \
         the worker then held it for {} s. Both consumers run with concurrency {}.\n",
        a.idle_secs,
        a.backlog_events,
        runs.iter()
            .map(|r| format!("{:.1} s", r.backlog_publish_secs))
            .collect::<Vec<_>>()
            .join(" / "),
        a.slow_delay_ms,
        a.backlog_hold_secs,
        WorkerConfig::default().concurrency
    );
    out
}
