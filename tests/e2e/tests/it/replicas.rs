//! Replicas of one worker share a destination's consumer: every event is
//! delivered once, and both replicas work.

use std::time::Duration;

use anyhow::Result;
use herald_testkit::{
    NatsServer, Receiver, Reply, event, publish_all, webhook, write_fleet_config,
};
use serde_json::json;

use crate::support::{SOON, ids, start_worker, wait_idle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_every_event_exactly_once() -> Result<()> {
    const N: usize = 200;
    let nats = NatsServer::start().await?;
    // A few milliseconds per request, so neither replica can take everything alone.
    let receiver =
        Receiver::start_with_default(Reply::ok().after(Duration::from_millis(5))).await?;
    let mut dest = webhook("shared", &receiver.url(), &["update.>"]);
    dest["concurrency"] = json!(4);
    let config = write_fleet_config(&nats.url(), &[dest])?;
    // Each worker opens its own NATS connection.
    let a = start_worker(&config).await?;
    let b = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let ids = ids("rep", N);
    let fresh = publish_all(
        &js,
        ids.iter().map(|id| {
            (
                "update.completed".to_string(),
                id.clone(),
                event(id, &json!({})),
            )
        }),
    )
    .await?;
    assert_eq!(fresh, N);
    receiver.wait_for_events(&ids, SOON).await?;
    wait_idle(&js, "shared", "update.>").await?;

    let seen = receiver.by_event();
    assert_eq!(seen.len(), N, "every event delivered");
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        repeated.is_empty(),
        "delivered more than once: {repeated:?}"
    );
    assert_eq!(receiver.count(), N);

    let (sa, sb) = (
        a.stats("shared").unwrap_or_default(),
        b.stats("shared").unwrap_or_default(),
    );
    assert_eq!(sa.delivered + sb.delivered, N as u64);
    assert!(
        sa.delivered > 0 && sb.delivered > 0,
        "both replicas should work: {} and {}",
        sa.delivered,
        sb.delivered
    );
    tokio::join!(a.shutdown(), b.shutdown());
    Ok(())
}
