//! The worker killed with SIGKILL again and again, at random moments, while
//! events flow: nothing lost; only events in flight at a kill are sent again,
//! by the next process, with the same `webhook-id`.

use std::time::Duration;

use anyhow::{Result, ensure};
use herald_testkit::{Receiver, wait_until};
use serde_json::json;
use tokio::time::Instant;

use crate::figures::Figures;
use crate::rig::{Rig, ids, publish_ids, signed_webhook, wait_accepted};
use crate::scale::Scale;
use crate::tally::{KEPT_HEADERS, Tally};

const DEST: &str = "killed";
const CONCURRENCY: usize = 16;

/// Runs the scenario.
///
/// # Errors
/// When an invariant does not hold, or the fleet does not run.
pub async fn run(scale: Scale) -> Result<Figures> {
    let events = scale.pick(2_000, 50_000);
    let kills = scale.pick(3, 20);
    let receiver = Receiver::start().await?;
    receiver.keep_only(KEPT_HEADERS);
    let mut dest = signed_webhook(DEST, &receiver);
    dest["concurrency"] = json!(CONCURRENCY);
    dest["timeout"] = json!("2s");
    // What a killed worker held comes back after ack_wait.
    let rig = Rig::start(&[dest], &json!({"ack_wait": "5s"})).await?;
    let mut worker = rig.spawn_ready("0", &[DEST]).await?;
    let ids = ids("kill", events);

    // Kill when the receiver has accepted a random share of the events, so the
    // kills land anywhere in the flow (and now and then while a worker starts).
    let mut thresholds: Vec<usize> = (0..kills)
        .map(|_| rand::random_range(events / 50..events * 9 / 10))
        .collect();
    thresholds.sort_unstable();

    let start = Instant::now();
    let js = rig.js.clone();
    let publish_all = ids.clone();
    let publisher = tokio::spawn(async move { publish_ids(&js, &publish_all).await });
    let mut kill_times = Vec::with_capacity(kills);
    let mut accepted_at_kill = Vec::with_capacity(kills);
    let flow = scale.pick(Duration::from_secs(120), Duration::from_secs(900));
    for (i, at) in thresholds.iter().enumerate() {
        wait_until(
            flow,
            &format!("{at} events accepted before kill {i}"),
            || async { receiver.accepted_events() >= *at },
        )
        .await?;
        kill_times.push(Instant::now());
        accepted_at_kill.push(receiver.accepted_events());
        worker.kill()?;
        worker = rig.spawn(&(i + 1).to_string())?;
    }
    let published = publisher.await??;
    let drain = wait_accepted(&receiver, events, start, flow).await?;
    rig.idle(DEST, flow).await?;
    ensure!(
        worker.is_running(),
        "the last worker exited:\n{}",
        worker.stderr()
    );

    let tally = Tally::of(receiver.requests());
    let mut f = tally.figures(
        "kill: SIGKILL the worker under load",
        &format!(
            "{events} events, {kills} SIGKILLs of herald-webhook (signed, concurrency {CONCURRENCY}, ack_wait 5 s) at random points of the flow"
        ),
        &ids,
        0,
        drain,
    );
    f.note("SIGKILLs", kills.to_string());
    f.note(
        "accepted at each kill",
        accepted_at_kill
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    let bound = kills * CONCURRENCY;
    f.note(
        "duplicates allowed (kills x concurrency)",
        format!("at most {bound}"),
    );

    ensure!(published == events, "{published} of {events} stored as new");
    tally.ensure_none_lost(&ids)?;
    tally.ensure_same_key()?;
    ensure!(
        accepted_at_kill.iter().all(|n| *n < events),
        "a kill came after the flow ended: {accepted_at_kill:?}"
    );
    ensure!(
        f.duplicated_events <= bound,
        "{} events sent twice: more than can be in flight at {kills} kills",
        f.duplicated_events
    );
    // Every repeat is by a later process than the one before it: a process
    // starts only after the previous one was killed, so only events in flight
    // at a kill are sent again. (The process number, not the clock, decides:
    // a request already on its way arrives after the moment the kill was sent.)
    let generation =
        |r: &herald_testkit::Recorded| r.header("x-replica").and_then(|v| v.parse::<u32>().ok());
    for (id, reqs) in tally.duplicated() {
        for pair in reqs.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (ga, gb) = (generation(a), generation(b));
            let killed_between = kill_times.iter().any(|k| *k <= b.arrived);
            ensure!(
                killed_between && matches!((ga, gb), (Some(x), Some(y)) if x < y),
                "{id} was sent again without a kill in between (replicas {ga:?} then {gb:?})"
            );
        }
    }
    Ok(f)
}
