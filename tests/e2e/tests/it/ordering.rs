//! Events that share a correlation reach a destination in the order they were
//! published, even with many deliveries in flight; other events do not wait.

use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use herald_testkit::{
    NatsServer, Receiver, Reply, event, publish_all, webhook, write_fleet_config,
};
use serde_json::json;

use crate::support::{SOON, start_worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_correlation_is_delivered_in_publish_order() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    // The first request of the run is slow: without turns, the later events of
    // the run (and the unrelated one) would overtake it.
    receiver.respond_with(|r| {
        (r.event_id() == Some("run-0")).then(|| Reply::ok().after(Duration::from_millis(400)))
    });
    let mut dest = webhook("ordered", &receiver.url(), &["rotation.>"]);
    dest["concurrency"] = json!(8);
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let subjects = [
        "rotation.started",
        "rotation.failed",
        "rotation.rollback",
        "rotation.started",
        "rotation.completed",
    ];
    let mut batch: Vec<(String, String, Bytes)> = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let id = format!("run-{i}");
            let body = event(
                &id,
                &json!({"resource": "postgres-prod", "correlation": "rot-1"}),
            );
            ((*s).to_string(), id, body)
        })
        .collect();
    batch.push((
        "rotation.completed".to_string(),
        "other".to_string(),
        event(
            "other",
            &json!({"resource": "redis", "correlation": "rot-2"}),
        ),
    ));
    publish_all(&js, batch).await?;

    let got = receiver.wait_for(6, SOON).await?;
    let order: Vec<&str> = got.iter().filter_map(|r| r.event_id()).collect();
    let run: Vec<&str> = order.iter().copied().filter(|id| *id != "other").collect();
    assert_eq!(
        run,
        ["run-0", "run-1", "run-2", "run-3", "run-4"],
        "{order:?}"
    );
    // Each event of the run was sent only after the previous one was answered.
    let by_id = |id: &str| got.iter().find(|r| r.event_id() == Some(id));
    for pair in run.windows(2) {
        let (Some(a), Some(b)) = (by_id(pair[0]), by_id(pair[1])) else {
            anyhow::bail!("missing {pair:?}");
        };
        let answered = a
            .answered
            .ok_or_else(|| anyhow::anyhow!("{} unanswered", pair[0]))?;
        assert!(
            b.arrived >= answered,
            "{} was sent before {} was answered",
            pair[1],
            pair[0]
        );
    }
    // The other correlation did not wait behind the slow first event.
    let (Some(first), Some(other)) = (by_id("run-0"), by_id("other")) else {
        anyhow::bail!("missing run-0 or other");
    };
    let first_answered = first
        .answered
        .ok_or_else(|| anyhow::anyhow!("run-0 unanswered"))?;
    assert!(
        other.arrived < first_answered,
        "the other correlation waited behind run-0"
    );
    Ok(())
}

/// With one delivery slot, the destination's idle replay consumer must not hold
/// that slot: it once took it for a whole pull request (`pull_expires`, 2 s), so
/// a concurrency-1 destination delivered one event every 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_one_is_not_starved_by_the_idle_replay_consumer() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut dest = webhook("single", &receiver.url(), &["rotation.>"]);
    dest["concurrency"] = json!(1);
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let batch: Vec<(String, String, Bytes)> = (0..12)
        .map(|i| {
            let id = format!("one-{i}");
            let body = event(&id, &json!({"resource": format!("db-{i}")}));
            ("rotation.completed".to_string(), id, body)
        })
        .collect();
    let started = tokio::time::Instant::now();
    publish_all(&js, batch).await?;
    // Starved, 12 events take about 24 s; served one after another, well under
    // a second on a quiet machine. 10 s leaves room for a loaded one.
    let got = receiver.wait_for(12, Duration::from_secs(10)).await?;
    assert_eq!(got.len(), 12, "took {:?}", started.elapsed());
    Ok(())
}
