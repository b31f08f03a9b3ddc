//! A large backlog behind a slow destination: the worker's memory stays
//! bounded (it pulls only what it can deliver), and once the destination is
//! fast again everything drains, once.

use std::time::Duration;

use anyhow::{Result, ensure};
use herald_testkit::{Receiver, Reply};
use serde_json::json;
use tokio::time::Instant;

use crate::figures::Figures;
use crate::rig::{Rig, ids, publish_ids, signed_webhook, wait_accepted};
use crate::scale::Scale;
use crate::tally::{KEPT_HEADERS, Tally};

const DEST: &str = "slow";
/// How long the slow destination takes to answer.
const SLOW: Duration = Duration::from_millis(200);
/// Peak resident memory the worker must stay under, whatever the backlog.
const BOUND_KIB: u64 = 256 * 1024;

/// Runs the scenario.
///
/// # Errors
/// When an invariant does not hold, or the fleet does not run.
pub async fn run(scale: Scale) -> Result<Figures> {
    let events = scale.pick(3_000, 1_000_000);
    let slow_for = scale.pick(Duration::from_secs(3), Duration::from_secs(60));
    let deadline = scale.pick(Duration::from_secs(150), Duration::from_secs(3_600));
    let receiver = Receiver::start_with_default(Reply::ok().after(SLOW)).await?;
    receiver.keep_only(KEPT_HEADERS);
    let rig = Rig::start(&[signed_webhook(DEST, &receiver)], &json!({})).await?;
    let worker = rig.spawn_ready("0", &[DEST]).await?;
    let ids = ids("backlog", events);

    let start = Instant::now();
    publish_ids(&rig.js, &ids).await?;
    let published_in = start.elapsed();
    // The slow phase: the backlog sits in the stream while the worker trickles.
    let slow_until = Instant::now() + slow_for;
    let mut rss_slow = 0;
    let mut backlog = 0;
    while Instant::now() < slow_until {
        rss_slow = rss_slow.max(worker.peak_rss_kib()?);
        backlog = backlog.max(rig.consumer_state(DEST).await?.0);
        tokio::time::sleep(Duration::from_millis(250).min(slow_until - Instant::now())).await;
    }
    let delivered_slow = receiver.accepted_events();
    receiver.set_default(Reply::ok());
    let drain = wait_accepted(&receiver, events, start, deadline).await?;
    rig.idle(DEST, deadline).await?;
    let peak = worker.peak_rss_kib()?;
    drop(worker);

    let tally = Tally::of(receiver.requests());
    let mut f = tally.figures(
        "backlog: a large backlog behind a slow destination",
        &format!(
            "{events} events published at once to herald-webhook (signed, concurrency 32, max_ack_pending 1000) while the receiver answers in {} ms, for {} s after publishing; then it answers at once and the backlog drains",
            SLOW.as_millis(),
            slow_for.as_secs()
        ),
        &ids,
        0,
        drain,
    );
    f.note(
        "published in",
        format!(
            "{:.1} s ({:.0} events/s)",
            published_in.as_secs_f64(),
            events as f64 / published_in.as_secs_f64().max(1e-9)
        ),
    );
    f.note(
        "largest backlog seen (consumer pending)",
        backlog.to_string(),
    );
    f.note(
        "delivered during the slow phase",
        delivered_slow.to_string(),
    );
    f.note(
        "worker peak RSS (VmHWM) during the slow phase",
        format!("{:.1} MiB", rss_slow as f64 / 1024.0),
    );
    f.note(
        "worker peak RSS (VmHWM) over the whole run",
        format!("{:.1} MiB", peak as f64 / 1024.0),
    );
    tally.ensure_none_lost(&ids)?;
    tally.ensure_same_key()?;
    tally.ensure_no_duplicates()?;
    ensure!(
        backlog as usize >= events / 2,
        "the backlog never built up (largest pending {backlog})"
    );
    ensure!(
        peak <= BOUND_KIB,
        "worker peak RSS {peak} KiB is past {BOUND_KIB} KiB"
    );
    Ok(f)
}
