//! Throughput: a burst of `--events` delivered by `herald-webhook` and by the
//! bare consumer, on a fresh stack each, in rotating order.
//!
//! Once the consumer's pull request is waiting, a short paced phase measures
//! latency at a modest rate (and warms the connections), then the burst is
//! published (windowed async publish with `Nats-Msg-Id`) and timed from the
//! first publish to the arrival of the last distinct event at the receiver.
//! CPU is read from `/proc/<pid>/stat` around the burst.

use std::fmt::Write as _;

use herald_core::config::StreamConfig;
use herald_core::jetstream::consumer_name;
use serde_json::json;

use crate::bench::{Bench, Stack, fleet, pattern, wait_pulling, webhook};
use crate::cli::{ChannelKind, System};
use crate::meter::Meter;
use crate::procs::Proc;
use crate::stats::{median, percentile};

/// The outcome of one system in one round.
#[derive(Debug, Clone)]
pub(crate) struct RunResult {
    system: System,
    round: u32,
    publish_rate: f64,
    delivery_rate: f64,
    consumer_user_us: f64,
    consumer_sys_us: f64,
    nats_us: f64,
    bench_us: f64,
    burst_p50_ms: f64,
    burst_p99_ms: f64,
    paced_p50_ms: f64,
    paced_p99_ms: f64,
    duplicates: u64,
    redelivered: u64,
    /// Messages the server received from clients per event in the burst
    /// (publishes, acks, pull requests, KV reads and writes).
    nats_in_per_event: f64,
    /// Messages the server sent to clients per event in the burst.
    nats_out_per_event: f64,
    /// Subscriptions the server created per event in the burst (a pull
    /// request made with its own inbox costs one).
    subs_per_event: f64,
    /// CPU used by everything else on the machine during the burst, in cores.
    other_cores: f64,
}

impl RunResult {
    fn consumer_us(&self) -> f64 {
        self.consumer_user_us + self.consumer_sys_us
    }
}

/// Starts the consumer under test on `stack` and waits until it pulls.
/// Herald gets one webhook destination (`format: envelope`, signed or not)
/// with `worker.concurrency: concurrency`.
pub(crate) async fn start_system(
    bench: &Bench,
    stack: &Stack,
    system: System,
    concurrency: u32,
) -> anyhow::Result<Proc> {
    let (mut consumer, cname) = match system {
        System::Herald
        | System::HeraldSigned
        | System::HeraldSignedAlt
        | System::HeraldSignedUnreceipted => {
            let mut dest = webhook("bench", &stack.receiver.url, system != System::Herald);
            if system == System::HeraldSignedUnreceipted {
                dest["receipts"] = json!(false);
            }
            let doc = fleet(
                &stack.nats.url,
                json!({"concurrency": concurrency}),
                &[dest],
            );
            let dir = stack.dir.path();
            let proc = if system == System::HeraldSignedAlt {
                let Some(alt) = &bench.args.alt_worker_bin else {
                    anyhow::bail!("herald-signed-alt needs --alt-worker-bin");
                };
                bench.spawn_worker_bin(ChannelKind::Webhook, alt, &doc, dir, &[])?
            } else {
                bench.spawn_worker(ChannelKind::Webhook, &doc, dir, &[])?
            };
            (proc, consumer_name("webhook", "bench", &pattern()?))
        }
        System::Bare => {
            let proc = bench
                .spawn_bare(
                    &stack.js,
                    &stack.nats.url,
                    &stack.receiver.url,
                    concurrency,
                    stack.dir.path(),
                )
                .await?;
            (proc, "bare".to_string())
        }
    };
    wait_pulling(&stack.js, &mut consumer, &cname).await?;
    Ok(consumer)
}

/// Runs every system `--runs` times and reports.
pub(crate) async fn run(bench: &Bench) -> anyhow::Result<String> {
    let a = &bench.args;
    let mut systems = a.systems.clone();
    eprintln!(
        "throughput: {} events x {} round(s), concurrency {}",
        a.events, a.runs, a.concurrency
    );
    let mut results = Vec::new();
    for round in 1..=a.runs {
        for system in &systems {
            let r = run_once(bench, *system, round).await.map_err(|e| {
                e.context(format!("throughput: {} (round {round})", system.label()))
            })?;
            eprintln!(
                "  round {round} {:<26} {:>8.0} ev/s  {:>6.1} µs CPU/delivery  burst p50 {:.0} ms",
                system.label(),
                r.delivery_rate,
                r.consumer_us(),
                r.burst_p50_ms
            );
            results.push(r);
        }
        systems.rotate_left(1);
    }
    Ok(report(bench, &results))
}

async fn run_once(bench: &Bench, system: System, round: u32) -> anyhow::Result<RunResult> {
    let a = &bench.args;
    let paced = a.paced_events;
    let total = paced + a.events;
    let stack = Stack::start(bench, total, paced, 1).await?;
    let mut consumer = start_system(bench, &stack, system, a.concurrency).await?;
    let (nats, receiver, js) = (&stack.nats, &stack.receiver, &stack.js);

    // Paced phase: latency at a rate far below capacity (also warms the connections).
    if paced > 0 {
        receiver.tally.set_target(paced);
        bench.publish_paced(js, 0..paced).await?;
        bench.wait_delivered(receiver, &mut consumer, paced).await?;
    }

    // Burst: throughput and CPU.
    let http = reqwest::Client::new();
    let msgs0 = nats.msg_counts(&http).await?;
    let meter = Meter::start(bench, consumer.pid, nats.proc.pid)?;
    receiver.tally.set_target(total);
    bench.publish_burst(js, paced..total).await?;
    let t_published = bench.now_ns();
    let done = bench.wait_delivered(receiver, &mut consumer, total).await?;
    let usage = meter.stop(bench)?;
    let msgs1 = nats.msg_counts(&http).await?;

    let cname = match system {
        System::Bare => "bare".to_string(),
        _ => consumer_name("webhook", "bench", &pattern()?),
    };
    let info = js
        .get_stream(StreamConfig::default().name)
        .await?
        .consumer_info(&cname)
        .await?;
    consumer.stop().await;
    let tally = receiver.tally.clone();
    stack.stop(a.keep).await;

    let n = a.events as f64;
    let (mut lat_paced, mut lat_burst) = tally.latencies();
    Ok(RunResult {
        system,
        round,
        publish_rate: n / meter.secs_to(t_published),
        delivery_rate: n / meter.secs_to(done),
        consumer_user_us: usage.consumer_user_us / n,
        consumer_sys_us: usage.consumer_sys_us / n,
        nats_us: usage.nats_us / n,
        bench_us: usage.bench_us / n,
        burst_p50_ms: percentile(&mut lat_burst, 0.50),
        burst_p99_ms: percentile(&mut lat_burst, 0.99),
        paced_p50_ms: percentile(&mut lat_paced, 0.50),
        paced_p99_ms: percentile(&mut lat_paced, 0.99),
        duplicates: tally.duplicates.load(std::sync::atomic::Ordering::Relaxed),
        redelivered: u64::try_from(info.num_redelivered).unwrap_or(u64::MAX),
        nats_in_per_event: msgs1.received.saturating_sub(msgs0.received) as f64 / n,
        nats_out_per_event: msgs1.sent.saturating_sub(msgs0.sent) as f64 / n,
        subs_per_event: msgs1.subscribed.saturating_sub(msgs0.subscribed) as f64 / n,
        other_cores: usage.other_cores,
    })
}

fn report(bench: &Bench, results: &[RunResult]) -> String {
    let a = &bench.args;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Throughput: {} events, {} round(s), concurrency {}\n",
        a.events, a.runs, a.concurrency
    );
    let _ = writeln!(
        out,
        "| system | rate (events/s) | vs bare | CPU µs/delivery (user+sys) | nats-server µs/delivery | NATS msgs in / out per event | burst p50 / p99 (ms) | paced p50 / p99 (ms) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let of = |s: System| results.iter().filter(move |r| r.system == s);
    let med = |s: System, f: fn(&RunResult) -> f64| median(of(s).map(f).collect());
    let bare_rate = med(System::Bare, |r| r.delivery_rate);
    for s in System::ALL {
        if of(s).next().is_none() {
            continue;
        }
        let rate = med(s, |r| r.delivery_rate);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.1} ({:.1} + {:.1}) | {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.2} / {:.2} |",
            s.label(),
            rate,
            rate / bare_rate,
            med(s, RunResult::consumer_us),
            med(s, |r| r.consumer_user_us),
            med(s, |r| r.consumer_sys_us),
            med(s, |r| r.nats_us),
            med(s, |r| r.nats_in_per_event),
            med(s, |r| r.nats_out_per_event),
            med(s, |r| r.burst_p50_ms),
            med(s, |r| r.burst_p99_ms),
            med(s, |r| r.paced_p50_ms),
            med(s, |r| r.paced_p99_ms),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over rounds. Rate: events / (first publish → last distinct arrival at the receiver). \
         CPU: utime+stime of the consumer process over the burst / events. Burst latency includes the \
         backlog (publishing outruns delivery); paced latency is at {} events/s ({} events).\n",
        a.paced_rate, a.paced_events
    );
    let _ = writeln!(
        out,
        "| round | system | publish (events/s) | rate (events/s) | CPU µs/delivery | nats-server µs | bench process µs | burst p50 / p99 (ms) | paced p50 / p99 (ms) | NATS msgs in / out per event | subscriptions per event | duplicates | redelivered | other load (cores) |"
    );
    let _ = writeln!(
        out,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} | {:.2} / {:.2} | {:.2} / {:.2} | {:.3} | {} | {} | {:.2} |",
            r.round,
            r.system.label(),
            r.publish_rate,
            r.delivery_rate,
            r.consumer_us(),
            r.nats_us,
            r.bench_us,
            r.burst_p50_ms,
            r.burst_p99_ms,
            r.paced_p50_ms,
            r.paced_p99_ms,
            r.nats_in_per_event,
            r.nats_out_per_event,
            r.subs_per_event,
            r.duplicates,
            r.redelivered,
            r.other_cores
        );
    }
    out
}
