//! A worker killed with SIGKILL mid-batch loses nothing: after a restart every
//! event is delivered, and only the events in flight at the kill may be sent twice,
//! with the same `webhook-id`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Reply, WorkerCommand, event, fleet, publish_all, webhook,
};
use serde_json::json;

use crate::support::{SOON, ids, wait_idle, wait_ready};

const CONCURRENCY: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_then_restart_loses_nothing() -> Result<()> {
    const N: usize = 100;
    let nats = NatsServer::start().await?;
    let receiver =
        Receiver::start_with_default(Reply::ok().after(Duration::from_millis(200))).await?;
    let mut dest = webhook("crashy", &receiver.url(), &["rotation.>"]);
    dest["concurrency"] = json!(CONCURRENCY);
    dest["timeout"] = json!("2s");
    dest["signing"] = json!({
        "scheme": "standard-webhooks",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    });
    // Each process says who it is, so every request is attributed exactly.
    dest["headers"] = json!({"X-Replica": {"from": {"env": "REPLICA"}}});
    let mut doc = fleet(&nats.url(), &[dest]);
    // Unacknowledged events come back after ack_wait: keep it short.
    doc["worker"]["ack_wait"] = json!("5s");
    let config = ConfigFile::write(&doc)?;
    let cmd = WorkerCommand::webhook(config.path()).env("NATS_URL", &nats.url());
    let js = nats.jetstream().await?;

    let mut first = cmd.clone().env("REPLICA", "first").spawn()?;
    wait_ready(&js, "crashy", "rotation.>")
        .await
        .with_context(|| format!("worker stderr:\n{}", first.stderr()))?;
    let ids = ids("kill", N);
    publish_all(
        &js,
        ids.iter().map(|id| {
            (
                "rotation.completed".to_string(),
                id.clone(),
                event(id, &json!({})),
            )
        }),
    )
    .await?;

    receiver.wait_for(20, SOON).await?;
    first.kill()?;
    let before_kill = receiver.requests();

    let second = cmd.env("REPLICA", "second").spawn()?;
    receiver
        .wait_for_events(&ids, Duration::from_secs(60))
        .await
        .with_context(|| format!("restarted worker stderr:\n{}", second.stderr()))?;
    wait_idle(&js, "crashy", "rotation.>").await?;

    assert!(
        before_kill.len() >= 20 && before_kill.len() < N,
        "the kill should land mid-batch: {} requests before it",
        before_kill.len()
    );
    let all = receiver.requests();
    let started_by_first: BTreeSet<&str> = all
        .iter()
        .filter(|r| r.header("x-replica") == Some("first"))
        .filter_map(|r| r.event_id())
        .collect();
    assert!(
        started_by_first.len() < N,
        "the first worker did not finish"
    );
    let mut by_event: BTreeMap<&str, Vec<&herald_testkit::Recorded>> = BTreeMap::new();
    for r in &all {
        by_event
            .entry(r.event_id().unwrap_or("?"))
            .or_default()
            .push(r);
    }
    assert_eq!(
        by_event.len(),
        N,
        "every event delivered: {:?}",
        by_event.keys()
    );
    let duplicates: Vec<&str> = by_event
        .iter()
        .filter(|(_, reqs)| reqs.len() > 1)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        duplicates.len() <= CONCURRENCY,
        "{} events sent twice, more than the {CONCURRENCY} that can be in flight: {duplicates:?}",
        duplicates.len()
    );
    eprintln!(
        "crash: {} requests before the kill, {} events started by the first worker, {} sent twice",
        before_kill.len(),
        started_by_first.len(),
        duplicates.len()
    );
    for id in &duplicates {
        let reqs = &by_event[id];
        assert_eq!(reqs.len(), 2, "{id} was sent {} times", reqs.len());
        let senders: Vec<Option<&str>> = reqs.iter().map(|r| r.header("x-replica")).collect();
        assert_eq!(
            senders,
            [Some("first"), Some("second")],
            "{id}: only an event in flight at the kill may be sent again, by the restarted worker"
        );
        assert!(started_by_first.contains(id));
        let webhook_ids: BTreeSet<Option<&str>> =
            reqs.iter().map(|r| r.header("webhook-id")).collect();
        assert_eq!(
            webhook_ids.len(),
            1,
            "{id}: webhook-id changed: {webhook_ids:?}"
        );
        assert!(reqs[0].header("webhook-id").is_some());
    }
    Ok(())
}
