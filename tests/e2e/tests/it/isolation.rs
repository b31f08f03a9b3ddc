//! A destination that keeps failing does not delay another destination of the
//! same worker.

use std::time::Duration;

use anyhow::Result;
use herald_testkit::{
    NatsServer, Receiver, Reply, event, free_port, publish_all, webhook, write_fleet_config,
};
use serde_json::json;
use tokio::time::Instant;

use crate::support::{SOON, ids, start_worker, wait_idle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_destination_does_not_delay_a_healthy_one() -> Result<()> {
    const N: usize = 50;
    let nats = NatsServer::start().await?;
    let healthy = Receiver::start().await?;
    // Hangs past the timeout, then would answer 503: each attempt holds a slot 1 s.
    let hanging =
        Receiver::start_with_default(Reply::status(503).after(Duration::from_secs(10))).await?;
    let mut slow = webhook("hanging", &hanging.url(), &["incident.>"]);
    slow["timeout"] = json!("1s");
    slow["concurrency"] = json!(2);
    // Nothing listens there: connections are refused at once.
    let mut closed = webhook(
        "closed",
        &format!("http://127.0.0.1:{}/hook", free_port()?),
        &["incident.>"],
    );
    closed["concurrency"] = json!(2);
    let mut good = webhook("healthy", &healthy.url(), &["incident.>"]);
    good["concurrency"] = json!(2);
    let config = write_fleet_config(&nats.url(), &[slow, closed, good])?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let ids = ids("iso", N);
    let start = Instant::now();
    publish_all(
        &js,
        ids.iter().map(|id| {
            (
                "incident.detected".to_string(),
                id.clone(),
                event(id, &json!({})),
            )
        }),
    )
    .await?;
    healthy.wait_for_events(&ids, SOON).await?;
    let took = start.elapsed();
    // The other destination was stuck at that moment, not merely finished.
    let stuck = hanging
        .requests()
        .iter()
        .filter(|r| r.answered.is_none())
        .count();
    assert!(stuck >= 1, "the hanging destination had no request waiting");
    wait_idle(&js, "healthy", "incident.>").await?;

    // 50 events behind 2 hanging slots would take 25 s if they shared a queue.
    assert!(
        took < Duration::from_secs(10),
        "the healthy destination took {took:?}"
    );
    assert_eq!(healthy.count(), N, "each event once to the healthy one");
    assert!(hanging.count() >= 1, "the hanging destination was tried");
    let stats = |d: &str| worker.stats(d).unwrap_or_default();
    assert_eq!(stats("healthy").delivered, N as u64);
    assert_eq!(stats("hanging").delivered, 0);
    assert_eq!(stats("closed").delivered, 0);
    assert!(
        stats("closed").retried >= 1,
        "the closed port was tried and retried"
    );
    Ok(())
}
