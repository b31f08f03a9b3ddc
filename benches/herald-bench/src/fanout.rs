//! Fan-out: one event stream to 1, 10 and 50 webhook destinations of one
//! `herald-webhook` process (Standard Webhooks signing on, `format: envelope`,
//! every other key at its default). Each run delivers about
//! `--fanout-deliveries` (events = deliveries / destinations), so CPU per
//! delivery compares like with like; the first count is the reference.

use std::fmt::Write as _;

use herald_core::jetstream::consumer_name;
use serde_json::{Value, json};

use crate::bench::{Bench, Stack, fleet, pattern, wait_pulling, webhook};
use crate::cli::ChannelKind;
use crate::meter::Meter;
use crate::stats::{median, percentile};

struct Run {
    destinations: u64,
    round: u32,
    deliveries: u64,
    rate: f64,
    cpu_us: f64,
    nats_us: f64,
    p50_ms: f64,
    duplicates: u64,
    other_cores: f64,
}

/// Runs every destination count `--runs` times and reports.
pub(crate) async fn run(bench: &Bench) -> anyhow::Result<String> {
    let a = &bench.args;
    eprintln!(
        "fan-out: {:?} destinations, about {} deliveries x {} round(s)",
        a.fanout, a.fanout_deliveries, a.runs
    );
    let mut order = a.fanout.clone();
    let mut runs = Vec::new();
    for round in 1..=a.runs {
        for n in &order {
            let r = run_once(bench, *n, round)
                .await
                .map_err(|e| e.context(format!("fan-out: {n} destinations (round {round})")))?;
            eprintln!(
                "  round {round} {:>3} destinations {:>8.0} deliveries/s  {:>6.1} µs CPU/delivery",
                n, r.rate, r.cpu_us
            );
            runs.push(r);
        }
        order.rotate_left(1);
    }
    Ok(report(bench, &runs))
}

async fn run_once(bench: &Bench, destinations: u64, round: u32) -> anyhow::Result<Run> {
    let a = &bench.args;
    let n = destinations.max(1);
    let events = (a.fanout_deliveries / n).max(1);
    let deliveries = events * n;
    let stack = Stack::start(bench, events, 0, n).await?;
    let hooks: Vec<Value> = (0..n)
        .map(|i| {
            webhook(
                &format!("fan-{i}"),
                &format!("{}/{i}", stack.receiver.url),
                true,
            )
        })
        .collect();
    let doc = fleet(&stack.nats.url, json!({}), &hooks);
    let mut worker = bench.spawn_worker(ChannelKind::Webhook, &doc, stack.dir.path(), &[])?;
    let p = pattern()?;
    for i in 0..n {
        let cname = consumer_name("webhook", &format!("fan-{i}"), &p);
        wait_pulling(&stack.js, &mut worker, &cname).await?;
    }
    let meter = Meter::start(bench, worker.pid, stack.nats.proc.pid)?;
    stack.receiver.tally.set_target(deliveries);
    bench.publish_burst(&stack.js, 0..events).await?;
    let done = bench
        .wait_delivered(&stack.receiver, &mut worker, deliveries)
        .await?;
    let usage = meter.stop(bench)?;
    worker.stop().await;
    let tally = stack.receiver.tally.clone();
    stack.stop(a.keep).await;
    let (_, mut lat) = tally.latencies();
    let d = deliveries as f64;
    Ok(Run {
        destinations: n,
        round,
        deliveries,
        rate: d / meter.secs_to(done),
        cpu_us: usage.consumer_us() / d,
        nats_us: usage.nats_us / d,
        p50_ms: percentile(&mut lat, 0.5),
        duplicates: tally.duplicates.load(std::sync::atomic::Ordering::Relaxed),
        other_cores: usage.other_cores,
    })
}

fn report(bench: &Bench, runs: &[Run]) -> String {
    let a = &bench.args;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Fan-out: one stream to {:?} webhook destinations, about {} deliveries per run, {} round(s)\n",
        a.fanout, a.fanout_deliveries, a.runs
    );
    let _ = writeln!(
        out,
        "| destinations | events | deliveries/s | vs {} | worker CPU µs/delivery | vs {} | nats-server µs/delivery |",
        a.fanout.first().copied().unwrap_or(1),
        a.fanout.first().copied().unwrap_or(1)
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    let med = |n: u64, f: fn(&Run) -> f64| {
        median(runs.iter().filter(|r| r.destinations == n).map(f).collect())
    };
    let reference = a.fanout.first().copied().unwrap_or(1).max(1);
    let (ref_rate, ref_cpu) = (med(reference, |r| r.rate), med(reference, |r| r.cpu_us));
    for n in &a.fanout {
        let n = (*n).max(1);
        let rate = med(n, |r| r.rate);
        let cpu = med(n, |r| r.cpu_us);
        let _ = writeln!(
            out,
            "| {n} | {} | {rate:.0} | {:.2} | {cpu:.1} | {:.2} | {:.1} |",
            (a.fanout_deliveries / n).max(1),
            rate / ref_rate,
            cpu / ref_cpu,
            med(n, |r| r.nats_us),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over rounds. Deliveries/s: deliveries / (first publish → last distinct arrival). \
         CPU: utime+stime of the worker over the same interval / deliveries.\n"
    );
    let _ = writeln!(
        out,
        "| round | destinations | deliveries | deliveries/s | CPU µs/delivery | p50 publish → arrival (ms) | duplicates | other load (cores) |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {} | {:.2} |",
            r.round,
            r.destinations,
            r.deliveries,
            r.rate,
            r.cpu_us,
            r.p50_ms,
            r.duplicates,
            r.other_cores
        );
    }
    out
}
