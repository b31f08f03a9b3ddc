//! Receivers that fail, side by side in one worker: 10 % 503 and 1 % hanging
//! past the timeout, an outage of one destination, a 429 storm with
//! `Retry-After`, and a healthy one. Everything is delivered after recovery;
//! the healthy destination is not held up; no retry comes before `Retry-After`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use herald_testkit::{Receiver, Reply, event, publish};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::figures::Figures;
use crate::rig::{Rig, SUBJECT, ids, signed_webhook, wait_accepted};
use crate::scale::Scale;
use crate::tally::{KEPT_HEADERS, Tally, percentile};

/// Allowance for timer granularity when checking a retry came no sooner than asked.
const SLACK: Duration = Duration::from_millis(20);
/// The destinations' request timeout; a hanging reply outlasts it.
const TIMEOUT: Duration = Duration::from_secs(1);

struct Params {
    events: usize,
    rate: u32,
    outage: Duration,
    storm: Duration,
    retry_after: u64,
    max_attempts: u32,
    deadline: Duration,
}

impl Params {
    fn of(scale: Scale) -> Self {
        Self {
            events: scale.pick(300, 5_000),
            rate: scale.pick(100, 50),
            outage: scale.pick(Duration::from_secs(6), Duration::from_secs(300)),
            storm: scale.pick(Duration::from_secs(3), Duration::from_secs(60)),
            retry_after: scale.pick(1, 5),
            max_attempts: scale.pick(30, 60),
            deadline: scale.pick(Duration::from_secs(150), Duration::from_secs(900)),
        }
    }
}

fn destination(name: &str, receiver: &Receiver, max_attempts: u32) -> Value {
    let mut d = signed_webhook(name, receiver);
    d["timeout"] = json!(format!("{}s", TIMEOUT.as_secs()));
    d["retry"] = json!({
        "max_attempts": max_attempts,
        "schedule": ["1s", "2s", "5s", "10s"],
        "jitter": 0,
    });
    d
}

/// Runs the scenario; one set of figures per destination.
///
/// # Errors
/// When an invariant does not hold, or the fleet does not run.
pub async fn run(scale: Scale) -> Result<Vec<Figures>> {
    let p = Params::of(scale);
    let names = ["flaky", "outage", "throttled", "healthy"];
    let mut receivers = Vec::new();
    for _ in names {
        let r = Receiver::start().await?;
        r.keep_only(KEPT_HEADERS);
        receivers.push(r);
    }
    let dests: Vec<Value> = names
        .iter()
        .zip(&receivers)
        .map(|(n, r)| destination(n, r, p.max_attempts))
        .collect();
    let rig = Rig::start(&dests, &json!({"ack_wait": "10s"})).await?;
    let mut worker = rig.spawn_ready("0", &names).await?;
    let ids = ids("recv", p.events);

    let start = Instant::now();
    let outage_end = start + p.outage;
    let storm_end = start + p.storm;
    receivers[0].respond_with(|_| {
        let roll: f64 = rand::random();
        if roll < 0.01 {
            Some(Reply::status(504).after(TIMEOUT + Duration::from_secs(1)))
        } else if roll < 0.11 {
            Some(Reply::status(503))
        } else {
            None
        }
    });
    receivers[1].respond_with(move |_| (Instant::now() < outage_end).then(|| Reply::status(503)));
    let retry_after = p.retry_after.to_string();
    receivers[2].respond_with(move |_| {
        (Instant::now() < storm_end).then(|| Reply::status(429).header("Retry-After", &retry_after))
    });

    // Paced: latency then measures the worker, not a backlog.
    let mut published_at = HashMap::with_capacity(p.events);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(p.rate)));
    for id in &ids {
        tick.tick().await;
        published_at.insert(id.clone(), Instant::now());
        publish(&rig.js, SUBJECT, id, event(id, &json!({}))).await?;
    }
    let mut drains = Vec::new();
    for (name, r) in names.iter().zip(&receivers) {
        let drain = wait_accepted(r, p.events, start, p.deadline)
            .await
            .with_context(|| format!("destination {name}"))?;
        drains.push(drain);
    }
    for name in names {
        rig.idle(name, p.deadline).await?;
    }
    worker.kill()?;

    let load = format!(
        "{} events at {} per second to 4 destinations of one herald-webhook (signed, timeout {}s, retries 1 s, 2 s, 5 s, 10 s...): flaky (10 % 503, 1 % hang past the timeout), outage ({} s of 503 from the first publish), throttled (429 with Retry-After: {} for {} s), healthy",
        p.events,
        p.rate,
        TIMEOUT.as_secs(),
        p.outage.as_secs(),
        p.retry_after,
        p.storm.as_secs()
    );
    let mut out = Vec::new();
    for ((name, r), drain) in names.iter().zip(&receivers).zip(drains) {
        let tally = Tally::of(r.requests());
        let mut f = tally.figures(&format!("receivers: {name}"), &load, &ids, 0, drain);
        tally
            .ensure_none_lost(&ids)
            .with_context(|| name.to_string())?;
        tally.ensure_same_key().with_context(|| name.to_string())?;
        let mut latencies: Vec<Duration> = ids
            .iter()
            .filter_map(|id| {
                let first = tally.accepted(id).first().map(|r| r.arrived)?;
                Some(first.saturating_duration_since(*published_at.get(id)?))
            })
            .collect();
        let p50 = percentile(&mut latencies, 0.5).unwrap_or_default();
        let p99 = percentile(&mut latencies, 0.99).unwrap_or_default();
        f.note(
            "latency p50 / p99 (publish to first accepted)",
            format!("{:.0} ms / {:.0} ms", ms(p50), ms(p99)),
        );
        let statuses = status_counts(&tally);
        f.note("replies given", statuses);
        match *name {
            "healthy" => {
                let last = ids
                    .iter()
                    .filter_map(|id| tally.accepted(id).first().map(|r| r.arrived))
                    .max()
                    .context("nothing delivered")?;
                f.note(
                    "last delivery, relative to the end of the outage",
                    format!("{:+.1} s", signed_secs(last, outage_end)),
                );
                ensure!(
                    last < outage_end,
                    "the healthy destination was held up by the outage: its last delivery came {:.1} s after the outage ended",
                    signed_secs(last, outage_end)
                );
            }
            "throttled" => {
                let (count, min_gap) = retry_after_gaps(&tally);
                let asked = Duration::from_secs(p.retry_after);
                f.note(
                    "429 answers; shortest wait before the next attempt vs Retry-After",
                    format!(
                        "{count}; {:.3} s vs {} s",
                        min_gap.unwrap_or_default().as_secs_f64(),
                        p.retry_after
                    ),
                );
                ensure!(count > 0, "the storm answered no 429");
                ensure!(
                    min_gap.is_some_and(|g| g + SLACK >= asked),
                    "a retry came {min_gap:?} after a 429 asking for {asked:?}"
                );
            }
            _ => {}
        }
        out.push(f);
    }
    Ok(out)
}

/// How many 429 answers were followed by another attempt, and the shortest
/// time from such an answer to the next attempt of the same event.
fn retry_after_gaps(tally: &Tally) -> (usize, Option<Duration>) {
    let mut count = 0;
    let mut min: Option<Duration> = None;
    for (_, attempts) in tally.events() {
        for pair in attempts.windows(2) {
            if pair[0].status != 429 {
                continue;
            }
            let answered = pair[0].answered.unwrap_or(pair[0].arrived);
            let gap = pair[1].arrived.saturating_duration_since(answered);
            count += 1;
            min = Some(min.map_or(gap, |m| m.min(gap)));
        }
    }
    (count, min)
}

fn status_counts(tally: &Tally) -> String {
    let mut counts: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
    for (_, attempts) in tally.events() {
        for a in attempts {
            *counts.entry(a.status).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n} x {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// `a - b` in seconds, negative when `a` is earlier.
fn signed_secs(a: Instant, b: Instant) -> f64 {
    if a >= b {
        (a - b).as_secs_f64()
    } else {
        -(b - a).as_secs_f64()
    }
}
