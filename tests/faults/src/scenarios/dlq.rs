//! A receiver that always answers 400: every event is dead-lettered with its
//! reason; once the receiver is fixed, `herald dlq replay` delivers each
//! exactly once (and replaying again sends nothing more).

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use herald_testkit::{Receiver, Reply, run_herald_ok, wait_for_dead_letters};
use serde_json::json;
use tokio::time::Instant;

use crate::figures::Figures;
use crate::rig::{Rig, ids, publish_ids, signed_webhook, wait_accepted};
use crate::scale::Scale;
use crate::tally::{KEPT_HEADERS, Tally};

const DEST: &str = "rejecting";

/// Runs the scenario.
///
/// # Errors
/// When an invariant does not hold, or the fleet does not run.
pub async fn run(scale: Scale) -> Result<Figures> {
    let events = scale.pick(100, 1_000);
    let deadline = scale.pick(Duration::from_secs(120), Duration::from_secs(600));
    let receiver =
        Receiver::start_with_default(Reply::status(400).body("bad request: unknown project"))
            .await?;
    receiver.keep_only(KEPT_HEADERS);
    let rig = Rig::start(&[signed_webhook(DEST, &receiver)], &json!({})).await?;
    let mut worker = rig.spawn_ready("0", &[DEST]).await?;
    let ids = ids("dlq", events);

    let start = Instant::now();
    publish_ids(&rig.js, &ids).await?;
    let letters = wait_for_dead_letters(&rig.js, events, deadline).await?;
    let dead_lettered_in = start.elapsed();
    rig.idle(DEST, deadline).await?;
    ensure!(
        receiver.accepted_events() == 0,
        "a 400 receiver accepted something"
    );
    let mut reasons = std::collections::BTreeMap::new();
    for l in &letters {
        ensure!(
            l.reason() == Some("permanent")
                && l.status() == Some(400)
                && l.destination() == Some(DEST)
                && l.response().is_some_and(|r| r.contains("unknown project")),
            "dead letter {} without its reason: {:?}",
            l.sequence,
            l.headers
        );
        *reasons
            .entry(l.reason().unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    ensure!(letters.len() == events, "{} dead letters", letters.len());

    // The receiver is fixed; replay twice: the second must deliver nothing more.
    receiver.set_default(Reply::ok());
    let replay_start = Instant::now();
    let config = rig.config().name();
    let replay = ["dlq", "--config", &config, "replay", "--destination", DEST];
    let first = run_herald_ok(&replay, deadline).await?;
    let replayed = wait_accepted(&receiver, events, replay_start, deadline).await?;
    rig.replay_idle(DEST, deadline).await?;
    let second = run_herald_ok(&replay, deadline).await?;
    rig.replay_idle(DEST, deadline).await?;
    worker.kill()?;

    let tally = Tally::of(receiver.requests());
    let mut f = tally.figures(
        "dlq: a receiver that always answers 400, then replay",
        &format!(
            "{events} events to herald-webhook (signed) against a receiver answering 400; then `herald dlq replay --destination {DEST}` twice after the receiver is fixed"
        ),
        &ids,
        letters.len(),
        dead_lettered_in,
    );
    // Every event is delivered after the replay: none is lost, and the dead
    // letters are not counted against it.
    f.lost = tally.missing(&ids).len();
    f.note(
        "dead-letter reasons",
        reasons
            .iter()
            .map(|(r, n)| format!("{n} x {r} (status 400, response excerpt kept)"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    f.note(
        "replay: time until every event delivered",
        format!("{:.1} s", replayed.as_secs_f64()),
    );
    f.note(
        "first replay said",
        first.lines().last().unwrap_or_default(),
    );
    f.note(
        "second replay said",
        second.lines().last().unwrap_or_default(),
    );
    tally.ensure_none_lost(&ids).context("after the replay")?;
    tally.ensure_no_duplicates()?;
    Ok(f)
}
