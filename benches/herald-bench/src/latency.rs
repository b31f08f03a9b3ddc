//! Latency: `--paced-rate` events per second for `--latency-secs`, publish →
//! arrival at the receiver, for each system on a fresh stack, in rotating
//! order. Also the consumer's CPU per delivery and peak RSS at that rate.

use std::fmt::Write as _;

use crate::bench::{Bench, Stack};
use crate::cli::System;
use crate::meter::Meter;
use crate::procs::Footprint;
use crate::stats::{median, percentile};
use crate::throughput::start_system;

struct Run {
    system: System,
    round: u32,
    samples: Vec<u32>,
    cpu_us: f64,
    nats_us: f64,
    peak_mib: f64,
    threads: u64,
    other_cores: f64,
}

/// Runs every system `--latency-runs` times and reports.
pub(crate) async fn run(bench: &Bench) -> anyhow::Result<String> {
    let a = &bench.args;
    let events = a.latency_secs * u64::from(a.paced_rate);
    eprintln!(
        "latency: {} events/s for {} s x {} round(s)",
        a.paced_rate, a.latency_secs, a.latency_runs
    );
    let mut systems = a.systems.clone();
    let mut runs = Vec::new();
    for round in 1..=a.latency_runs {
        for system in &systems {
            let r = run_once(bench, *system, round, events)
                .await
                .map_err(|e| e.context(format!("latency: {} (round {round})", system.label())))?;
            let mut s = r.samples.clone();
            eprintln!(
                "  round {round} {:<26} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                system.label(),
                percentile(&mut s, 0.5),
                percentile(&mut s, 0.99),
                percentile(&mut s, 1.0)
            );
            runs.push(r);
        }
        systems.rotate_left(1);
    }
    Ok(report(bench, &runs, events))
}

async fn run_once(bench: &Bench, system: System, round: u32, events: u64) -> anyhow::Result<Run> {
    let a = &bench.args;
    let stack = Stack::start(bench, events, events, 1).await?;
    let mut consumer = start_system(bench, &stack, system, a.concurrency).await?;
    let meter = Meter::start(bench, consumer.pid, stack.nats.proc.pid)?;
    stack.receiver.tally.set_target(events);
    bench.publish_paced(&stack.js, 0..events).await?;
    bench
        .wait_delivered(&stack.receiver, &mut consumer, events)
        .await?;
    let usage = meter.stop(bench)?;
    let footprint = Footprint::of(consumer.pid)?;
    consumer.stop().await;
    let (samples, _) = stack.receiver.tally.latencies();
    stack.stop(a.keep).await;
    let n = events as f64;
    Ok(Run {
        system,
        round,
        samples,
        cpu_us: usage.consumer_us() / n,
        nats_us: usage.nats_us / n,
        peak_mib: footprint.peak_mib(),
        threads: footprint.threads,
        other_cores: usage.other_cores,
    })
}

fn report(bench: &Bench, runs: &[Run], events: u64) -> String {
    let a = &bench.args;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Latency: {} events/s for {} s ({events} events), {} round(s)\n",
        a.paced_rate, a.latency_secs, a.latency_runs
    );
    let _ = writeln!(
        out,
        "| system | p50 (ms) | p99 (ms) | max (ms) | p99 vs bare | CPU µs/delivery | vs bare | nats-server µs/delivery | peak RSS (MiB) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let pooled = |s: System| -> Vec<u32> {
        runs.iter()
            .filter(|r| r.system == s)
            .flat_map(|r| r.samples.iter().copied())
            .collect()
    };
    let med = |s: System, f: fn(&Run) -> f64| {
        median(runs.iter().filter(|r| r.system == s).map(f).collect())
    };
    let mut bare = pooled(System::Bare);
    let bare_p99 = percentile(&mut bare, 0.99);
    let bare_cpu = med(System::Bare, |r| r.cpu_us);
    for s in System::ALL {
        let mut v = pooled(s);
        if v.is_empty() {
            continue;
        }
        let p99 = percentile(&mut v, 0.99);
        let cpu = med(s, |r| r.cpu_us);
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} | {:.1} | {:.1} |",
            s.label(),
            percentile(&mut v, 0.5),
            p99,
            percentile(&mut v, 1.0),
            p99 / bare_p99,
            cpu,
            cpu / bare_cpu,
            med(s, |r| r.nats_us),
            med(s, |r| r.peak_mib),
        );
    }
    let _ = writeln!(
        out,
        "\nPercentiles over the samples of all rounds; CPU and RSS: medians of rounds. \
         Latency: publish (the benchmark's clock, before the publish call) → arrival at the receiver. \
         Peak RSS: `VmHWM` of the consumer process after the phase.\n"
    );
    let _ = writeln!(
        out,
        "| round | system | p50 / p99 / max (ms) | CPU µs/delivery | peak RSS (MiB) | threads | other load (cores) |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|");
    for r in runs {
        let mut v = r.samples.clone();
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} / {:.2} / {:.2} | {:.1} | {:.1} | {} | {:.2} |",
            r.round,
            r.system.label(),
            percentile(&mut v, 0.5),
            percentile(&mut v, 0.99),
            percentile(&mut v, 1.0),
            r.cpu_us,
            r.peak_mib,
            r.threads,
            r.other_cores
        );
    }
    out
}
