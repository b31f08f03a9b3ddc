//! Graceful shutdown under load: SIGTERM while deliveries are in flight. The
//! worker exits within its deadline with nothing left unacknowledged, and no
//! event is sent twice because of it.

use std::time::Duration;

use anyhow::{Result, ensure};
use herald_testkit::{Receiver, Reply, wait_until};
use serde_json::json;
use tokio::time::Instant;

use crate::figures::Figures;
use crate::rig::{Rig, ids, publish_ids, signed_webhook, wait_accepted};
use crate::scale::Scale;
use crate::tally::{KEPT_HEADERS, Tally};

const DEST: &str = "graceful";
/// `worker.shutdown_timeout`.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Each request takes this long: deliveries are in flight at every SIGTERM.
const SLOW: Duration = Duration::from_millis(20);
/// Allowance past the deadline for a loaded machine.
const SLACK: Duration = Duration::from_secs(5);

/// Runs the scenario.
///
/// # Errors
/// When an invariant does not hold, or the fleet does not run.
pub async fn run(scale: Scale) -> Result<Figures> {
    let events = scale.pick(1_000, 10_000);
    let stops = scale.pick(2, 5);
    let deadline = scale.pick(Duration::from_secs(120), Duration::from_secs(600));
    let receiver = Receiver::start_with_default(Reply::ok().after(SLOW)).await?;
    receiver.keep_only(KEPT_HEADERS);
    let rig = Rig::start(
        &[signed_webhook(DEST, &receiver)],
        &json!({"shutdown_timeout": format!("{}s", SHUTDOWN_TIMEOUT.as_secs())}),
    )
    .await?;
    let mut worker = rig.spawn_ready("0", &[DEST]).await?;
    let ids = ids("term", events);

    let start = Instant::now();
    publish_ids(&rig.js, &ids).await?;
    let mut exits = Vec::new();
    for i in 0..stops {
        let target = events * (i + 1) / (stops + 1);
        wait_until(deadline, &format!("{target} events accepted"), || async {
            receiver.accepted_events() >= target
        })
        .await?;
        let in_flight = receiver
            .requests()
            .iter()
            .filter(|r| r.answered.is_none())
            .count();
        let signalled = Instant::now();
        worker.terminate()?;
        let status = worker.wait_exit(SHUTDOWN_TIMEOUT * 3).await?;
        let took = signalled.elapsed();
        // Acks and NAKs reach the consumer's state a moment after the worker
        // flushed them; none may be left once the shutdown deadline has passed.
        let settle = (SHUTDOWN_TIMEOUT + SLACK).saturating_sub(signalled.elapsed());
        let settled = wait_until(settle, "nothing unacknowledged", || async {
            rig.consumer_state(DEST)
                .await
                .is_ok_and(|(_, unacked, _)| unacked == 0)
        })
        .await;
        let (_, unacked, _) = rig.consumer_state(DEST).await?;
        let settled_after = signalled.elapsed();
        let cut_off = receiver
            .requests()
            .iter()
            .filter(|r| r.answered.is_none())
            .count();
        ensure!(status.success(), "exit {status}:\n{}", worker.stderr());
        ensure!(
            took <= SHUTDOWN_TIMEOUT + SLACK,
            "the worker took {took:?} to stop, past its {SHUTDOWN_TIMEOUT:?} deadline"
        );
        ensure!(
            settled.is_ok(),
            "{unacked} events still unacknowledged {settled_after:?} after SIGTERM (the worker exited after {took:?})"
        );
        ensure!(cut_off == 0, "{cut_off} requests cut off by the shutdown");
        exits.push(format!(
            "{in_flight} in flight, exit in {:.2} s, 0 unacked {:.2} s after SIGTERM",
            took.as_secs_f64(),
            settled_after.as_secs_f64()
        ));
        worker = rig.spawn(&(i + 1).to_string())?;
    }
    let drain = wait_accepted(&receiver, events, start, deadline).await?;
    rig.idle(DEST, deadline).await?;
    worker.kill()?;

    let tally = Tally::of(receiver.requests());
    let mut f = tally.figures(
        "shutdown: SIGTERM under load",
        &format!(
            "{events} events to herald-webhook (signed, receiver answering in {} ms); {stops} SIGTERMs mid-flow (shutdown_timeout {} s), a new worker started after each",
            SLOW.as_millis(),
            SHUTDOWN_TIMEOUT.as_secs()
        ),
        &ids,
        0,
        drain,
    );
    f.note("each SIGTERM", exits.join("; "));
    tally.ensure_none_lost(&ids)?;
    tally.ensure_no_duplicates()?;
    Ok(f)
}
