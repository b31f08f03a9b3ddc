//! Two and four replicas of the worker sharing the destination's durable
//! consumer: the same totals, each replica does part of the work, and no event
//! is delivered twice in steady state.

use std::time::Duration;

use anyhow::{Result, ensure};
use herald_testkit::{Receiver, wait_until};
use serde_json::json;
use tokio::time::Instant;

use crate::figures::Figures;
use crate::rig::{Rig, ids, publish_ids, signed_webhook, wait_accepted};
use crate::scale::Scale;
use crate::tally::{KEPT_HEADERS, Tally};

const DEST: &str = "shared";

/// Runs the scenario with 2 and then 4 replicas; one set of figures each.
///
/// # Errors
/// When an invariant does not hold, or the fleet does not run.
pub async fn run(scale: Scale) -> Result<Vec<Figures>> {
    let mut out = Vec::new();
    for replicas in [2, 4] {
        out.push(run_with(scale, replicas).await?);
    }
    ensure!(
        out.iter().all(|f| f.delivered == f.published),
        "the totals differ between 2 and 4 replicas"
    );
    Ok(out)
}

async fn run_with(scale: Scale, replicas: usize) -> Result<Figures> {
    let events = scale.pick(1_000, 20_000);
    let deadline = scale.pick(Duration::from_secs(120), Duration::from_secs(600));
    let receiver = Receiver::start().await?;
    receiver.keep_only(KEPT_HEADERS);
    let mut dest = signed_webhook(DEST, &receiver);
    // A few deliveries at once per replica, so no one replica takes it all.
    dest["concurrency"] = json!(4);
    let rig = Rig::start(&[dest], &json!({})).await?;
    let mut workers = Vec::new();
    for i in 0..replicas {
        workers.push(rig.spawn_ready(&i.to_string(), &[DEST]).await?);
    }
    // Every replica has a pull request waiting before the events come.
    wait_until(
        deadline,
        &format!("{replicas} replicas pulling"),
        || async {
            rig.consumer_state(DEST)
                .await
                .is_ok_and(|(_, _, waiting)| waiting >= replicas)
        },
    )
    .await?;
    let ids = ids(&format!("replicas{replicas}"), events);

    let start = Instant::now();
    publish_ids(&rig.js, &ids).await?;
    let drain = wait_accepted(&receiver, events, start, deadline).await?;
    rig.idle(DEST, deadline).await?;
    for w in &mut workers {
        ensure!(w.is_running(), "a replica exited:\n{}", w.stderr());
        w.kill()?;
    }

    let tally = Tally::of(receiver.requests());
    let mut f = tally.figures(
        &format!("replicas: {replicas} workers"),
        &format!(
            "{events} events, {replicas} herald-webhook processes (signed, concurrency 4 each) on one durable consumer, no faults"
        ),
        &ids,
        0,
        drain,
    );
    let per_replica = tally.per_replica();
    f.note(
        "deliveries per replica",
        per_replica
            .iter()
            .map(|(r, n)| format!("#{r}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    tally.ensure_none_lost(&ids)?;
    tally.ensure_no_duplicates()?;
    ensure!(
        per_replica.len() == replicas && per_replica.iter().all(|(_, n)| *n > 0),
        "not every replica delivered: {per_replica:?}"
    );
    Ok(f)
}
