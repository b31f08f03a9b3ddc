//! Proactive pacing and filtering: a destination's `rate_limit` spaces its
//! requests, and its `when` filter keeps events it does not want.

use std::time::Duration;

use anyhow::Result;
use herald_testkit::{
    NatsServer, Receiver, event, publish, publish_all, webhook, write_fleet_config,
};
use serde_json::json;

use crate::support::{SOON, ids, start_worker, wait_idle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_spaces_requests() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut dest = webhook("paced", &receiver.url(), &["rotation.>"]);
    dest["rate_limit"] = json!({"per_second": 5, "burst": 1});
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let ids = ids("paced", 11);
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
    let reqs = receiver.wait_for(ids.len(), SOON).await?;
    wait_idle(&js, "paced", "rotation.>").await?;

    assert_eq!(receiver.requests().len(), 11);
    let first = reqs
        .iter()
        .map(|r| r.arrived)
        .min()
        .unwrap_or(reqs[0].arrived);
    let last = reqs
        .iter()
        .map(|r| r.arrived)
        .max()
        .unwrap_or(reqs[0].arrived);
    // 11 requests at 5/s with a burst of 1: ten gaps of 200 ms.
    assert!(
        last - first >= Duration::from_millis(1800),
        "11 requests took only {:?} at 5/s",
        last - first
    );
    assert_eq!(worker.stats("paced").unwrap_or_default().delivered, 11);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_when_filter_skips_unwanted_events() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut dest = webhook("failures", &receiver.url(), &["rotation.>"]);
    dest["when"] = json!({"severity_at_least": "error", "environment": ["production", "prod"]});
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let prod = json!({"environment": "production"});
    publish(&js, "rotation.started", "w-1", event("w-1", &prod)).await?;
    publish(
        &js,
        "rotation.failed",
        "w-2",
        event("w-2", &json!({"environment": "staging"})),
    )
    .await?;
    publish(&js, "rotation.failed", "w-3", event("w-3", &prod)).await?;
    let reqs = receiver.wait_for(1, SOON).await?;
    wait_idle(&js, "failures", "rotation.>").await?;

    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(reqs[0].event_id(), Some("w-3"));
    let stats = worker.stats("failures").unwrap_or_default();
    assert_eq!((stats.delivered, stats.filtered), (1, 2));
    Ok(())
}
