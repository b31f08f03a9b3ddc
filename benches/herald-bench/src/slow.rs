//! Slow receivers: a receiver that takes `--slow-delay-ms` per request, and
//! one webhook destination with `concurrency: c` for each `--slow-concurrency`.
//! Expected rate: c / delay; reported is the measured rate against it.

use std::fmt::Write as _;
use std::time::Duration;

use herald_core::jetstream::consumer_name;
use serde_json::json;

use crate::bench::{Bench, Stack, fleet, pattern, wait_pulling, webhook};
use crate::cli::ChannelKind;
use crate::procs::Cpu;
use crate::stats::median;

struct Run {
    concurrency: u32,
    round: u32,
    events: u64,
    rate: f64,
    cpu_us: f64,
}

fn expected(concurrency: u32, delay_ms: u64) -> f64 {
    f64::from(concurrency) * 1000.0 / delay_ms.max(1) as f64
}

/// Runs every concurrency setting `--runs` times and reports.
pub(crate) async fn run(bench: &Bench) -> anyhow::Result<String> {
    let a = &bench.args;
    eprintln!(
        "slow receivers: {} ms per request, concurrency {:?}, x {} round(s)",
        a.slow_delay_ms, a.slow_concurrency, a.slow_runs
    );
    let mut order = a.slow_concurrency.clone();
    let mut runs = Vec::new();
    for round in 1..=a.slow_runs {
        for c in &order {
            let r = run_once(bench, *c, round)
                .await
                .map_err(|e| e.context(format!("slow: concurrency {c} (round {round})")))?;
            eprintln!(
                "  round {round} concurrency {:>4}: {:>7.1} events/s (expected {:.0})",
                c,
                r.rate,
                expected(*c, a.slow_delay_ms)
            );
            runs.push(r);
        }
        order.rotate_left(1);
    }
    Ok(report(bench, &runs))
}

async fn run_once(bench: &Bench, concurrency: u32, round: u32) -> anyhow::Result<Run> {
    let a = &bench.args;
    let events = ((expected(concurrency, a.slow_delay_ms) * a.slow_secs as f64) as u64).max(1);
    let stack = Stack::start(bench, events, 0, 1).await?;
    stack
        .receiver
        .tally
        .set_delay(Duration::from_millis(a.slow_delay_ms));
    let mut hook = webhook("slow", &stack.receiver.url, true);
    hook["concurrency"] = json!(concurrency);
    let doc = fleet(&stack.nats.url, json!({}), &[hook]);
    let mut worker = bench.spawn_worker(ChannelKind::Webhook, &doc, stack.dir.path(), &[])?;
    wait_pulling(
        &stack.js,
        &mut worker,
        &consumer_name("webhook", "slow", &pattern()?),
    )
    .await?;
    let cpu0 = Cpu::of(worker.pid)?;
    let t0 = bench.now_ns();
    stack.receiver.tally.set_target(events);
    bench.publish_burst(&stack.js, 0..events).await?;
    let done = bench
        .wait_delivered(&stack.receiver, &mut worker, events)
        .await?;
    let cpu1 = Cpu::of(worker.pid)?;
    worker.stop().await;
    stack.stop(a.keep).await;
    let (u, s) = cpu1.since_us(cpu0, bench.ticks);
    Ok(Run {
        concurrency,
        round,
        events,
        rate: events as f64 / (done.saturating_sub(t0) as f64 / 1e9).max(1e-9),
        cpu_us: (u + s) / events as f64,
    })
}

fn report(bench: &Bench, runs: &[Run]) -> String {
    let a = &bench.args;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Slow receiver: {} ms per request, {} round(s)\n",
        a.slow_delay_ms, a.slow_runs
    );
    let _ = writeln!(
        out,
        "| destination `concurrency` | events | expected (c / {} ms, events/s) | measured (events/s) | measured / expected | worker CPU µs/delivery |",
        a.slow_delay_ms
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
    for c in &a.slow_concurrency {
        let of = || runs.iter().filter(|r| r.concurrency == *c);
        let rate = median(of().map(|r| r.rate).collect());
        let exp = expected(*c, a.slow_delay_ms);
        let _ = writeln!(
            out,
            "| {c} | {} | {exp:.0} | {rate:.1} | {:.2} | {:.1} |",
            of().map(|r| r.events).next().unwrap_or(0),
            rate / exp,
            median(of().map(|r| r.cpu_us).collect()),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over rounds. Measured: events / (first publish → last answer). Per round: {}.\n",
        runs.iter()
            .map(|r| format!("r{} c{} {:.1}/s", r.round, r.concurrency, r.rate))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out
}
