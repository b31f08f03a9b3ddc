//! The NATS server crashing (SIGKILL) and coming back: the worker reconnects and
//! carries on; nothing stored is lost, and nothing is sent twice.
//!
//! nats-server writes consumer state lazily, so after a SIGKILL it may have
//! forgotten recent acks and deliver those events again; the idempotency
//! receipts must then keep them from reaching the receiver a second time.

use anyhow::{Context as _, Result};
use herald_testkit::{ConfigFile, NatsServer, Receiver, event, fleet, publish, webhook};
use serde_json::json;

use crate::support::{SOON, ids, start_worker, wait_idle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_crash_neither_loses_nor_repeats_events() -> Result<()> {
    let mut nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut dest = webhook("steady", &receiver.url(), &["sync.>"]);
    dest["timeout"] = json!("2s");
    let mut doc = fleet(&nats.url(), &[dest]);
    // Events whose acks the server forgot come back after ack_wait.
    doc["worker"]["ack_wait"] = json!("5s");
    let config = ConfigFile::write(&doc)?;
    let worker = start_worker(&config).await?;

    let before = ids("pre", 5);
    {
        let js = nats.jetstream().await?;
        for id in &before {
            publish(&js, "sync.success", id, event(id, &json!({}))).await?;
        }
        receiver.wait_for_events(&before, SOON).await?;
        wait_idle(&js, "steady", "sync.>")
            .await
            .context("before the crash")?;
    }

    nats.kill()?;
    nats.restart().await?;

    let js = nats.jetstream().await?;
    let after = ids("post", 5);
    for id in &after {
        publish(&js, "sync.success", id, event(id, &json!({}))).await?;
    }
    receiver.wait_for_events(&after, SOON).await?;
    wait_idle(&js, "steady", "sync.>")
        .await
        .with_context(|| format!("after the crash; received {:?}", receiver.by_event()))?;

    let seen = receiver.by_event();
    assert_eq!(seen.len(), 10);
    assert!(seen.values().all(|n| *n == 1), "sent twice: {seen:?}");
    assert_eq!(receiver.count(), 10);
    let stats = worker.stats("steady").unwrap_or_default();
    assert_eq!(stats.delivered, 10);
    eprintln!(
        "nats crash: {} redeliveries stopped by receipts",
        stats.duplicates
    );
    Ok(())
}
