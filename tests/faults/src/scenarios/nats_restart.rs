//! nats-server restarted under load, gracefully (SIGTERM) and killed (SIGKILL),
//! its store kept: the worker reconnects by itself and nothing is lost.

use std::time::Duration;

use anyhow::{Result, ensure};
use herald_testkit::{Receiver, wait_until};
use serde_json::json;
use tokio::time::Instant;

use crate::figures::Figures;
use crate::rig::{Rig, ids, publish_ids_until_stored, signed_webhook, wait_accepted};
use crate::scale::Scale;
use crate::tally::{KEPT_HEADERS, Tally};

const DEST: &str = "reconnecting";

/// Runs the scenario.
///
/// # Errors
/// When an invariant does not hold, or the fleet does not run.
pub async fn run(scale: Scale) -> Result<Figures> {
    let events: usize = scale.pick(2_000, 20_000);
    let restarts: usize = scale.pick(2, 6);
    let receiver = Receiver::start().await?;
    receiver.keep_only(KEPT_HEADERS);
    let mut dest = signed_webhook(DEST, &receiver);
    dest["timeout"] = json!("2s");
    let mut rig = Rig::start(&[dest], &json!({"ack_wait": "5s"})).await?;
    let mut worker = rig.spawn_ready("0", &[DEST]).await?;
    let ids = ids("nats", events);
    let chunks: Vec<&[String]> = ids.chunks(events.div_ceil(restarts + 1)).collect();
    let deadline = scale.pick(Duration::from_secs(120), Duration::from_secs(600));

    let start = Instant::now();
    let mut outages = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        publish_ids_until_stored(&rig.js, chunk, deadline).await?;
        if i == restarts {
            break;
        }
        // Restart while the worker is busy with this chunk.
        let published: usize = chunks[..=i].iter().map(|c| c.len()).sum();
        let target = published - chunk.len() / 2;
        wait_until(deadline, &format!("{target} events accepted"), || async {
            receiver.accepted_events() >= target
        })
        .await?;
        let down = Instant::now();
        let how = if i % 2 == 0 { "SIGTERM" } else { "SIGKILL" };
        if i % 2 == 0 {
            rig.nats.restart_gracefully().await?;
        } else {
            rig.nats.restart().await?;
        }
        outages.push(format!("{how} {:.1} s", down.elapsed().as_secs_f64()));
    }
    let drain = wait_accepted(&receiver, events, start, deadline).await?;
    rig.idle(DEST, deadline).await?;
    ensure!(
        worker.is_running(),
        "the worker did not survive the restarts:\n{}",
        worker.stderr()
    );
    worker.kill()?;

    let tally = Tally::of(receiver.requests());
    let mut f = tally.figures(
        "nats-restart: nats-server restarted and killed under load",
        &format!(
            "{events} events published in {} chunks; nats-server restarted {restarts} times (SIGTERM and SIGKILL alternately, store kept) while herald-webhook (signed) delivers; one worker process throughout",
            chunks.len()
        ),
        &ids,
        0,
        drain,
    );
    f.note("restarts (signal, time down)", outages.join(", "));
    tally.ensure_none_lost(&ids)?;
    tally.ensure_same_key()?;
    Ok(f)
}
