//! Failure classes: retryable answers are retried on schedule, permanent ones
//! are dead-lettered, throttling honours `Retry-After`, hanging endpoints time out.

use std::time::Duration;

use anyhow::Result;
use herald_testkit::{
    NatsServer, Receiver, Reply, event, publish, wait_for_dead_letters, wait_until, webhook,
    write_fleet_config,
};
use serde_json::json;

use crate::support::{SOON, start_worker, wait_idle};

/// Allowance for timer granularity when checking that a retry came no sooner than asked.
const SLACK: Duration = Duration::from_millis(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_after_the_schedule_and_delivered_once() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    receiver.push(Reply::status(503).body("try later"));
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("flaky", &receiver.url(), &["rotation.>"])],
    )?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    publish(&js, "rotation.failed", "r-1", event("r-1", &json!({}))).await?;
    let reqs = receiver.wait_for(2, SOON).await?;
    wait_idle(&js, "flaky", "rotation.>").await?;

    let reqs_after = receiver.requests();
    assert_eq!(
        reqs_after.len(),
        2,
        "exactly one failed attempt and one delivery"
    );
    assert_eq!(reqs[0].event_id(), Some("r-1"));
    assert_eq!(reqs[1].event_id(), Some("r-1"));
    assert_eq!(reqs[0].header("x-herald-attempt"), Some("1"));
    assert_eq!(reqs[1].header("x-herald-attempt"), Some("2"));
    let gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        gap + SLACK >= Duration::from_secs(1),
        "retried after {gap:?}, before the 1 s schedule"
    );
    let stats = worker.stats("flaky").unwrap_or_default();
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (1, 1, 0)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_dead_lettered_with_status_and_excerpt() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(
        Reply::status(400).body(r#"{"error":"invalid_payload","detail":"missing title"}"#),
    )
    .await?;
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("strict", &receiver.url(), &["rotation.>"])],
    )?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let payload = event("p-1", &json!({"resource": "api"}));
    publish(&js, "rotation.failed", "p-1", payload.clone()).await?;
    let letters = wait_for_dead_letters(&js, 1, SOON).await?;
    wait_idle(&js, "strict", "rotation.>").await?;

    assert_eq!(letters.len(), 1);
    let d = &letters[0];
    assert_eq!(d.subject, "herald.dlq.webhook.strict");
    assert_eq!(d.reason(), Some("permanent"));
    assert_eq!(d.status(), Some(400));
    assert_eq!(d.attempts(), Some(1));
    assert_eq!(d.destination(), Some("strict"));
    assert!(
        d.response().is_some_and(|r| r.contains("invalid_payload")),
        "excerpt: {:?}",
        d.response()
    );
    assert!(
        d.error().is_some_and(|e| e.contains("400")),
        "{:?}",
        d.error()
    );
    assert_eq!(d.header("Herald-Dlq-Msg-Id"), Some("p-1"));
    assert_eq!(d.header("Herald-Dlq-Subject"), Some("rotation.failed"));
    assert_eq!(d.payload, payload, "the original payload is kept");
    assert_eq!(receiver.count(), 1, "a permanent failure is not retried");
    let stats = worker.stats("strict").unwrap_or_default();
    assert_eq!((stats.delivered, stats.dead_lettered), (0, 1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_retry_after_is_honoured() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    receiver.push(Reply::status(429).header("Retry-After", "2"));
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("throttled", &receiver.url(), &["rotation.>"])],
    )?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    publish(&js, "rotation.failed", "t-1", event("t-1", &json!({}))).await?;
    let reqs = receiver.wait_for(2, SOON).await?;
    wait_idle(&js, "throttled", "rotation.>").await?;

    let gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        gap + SLACK >= Duration::from_secs(2),
        "retried after {gap:?}, before Retry-After: 2"
    );
    assert_eq!(receiver.count(), 2);
    let stats = worker.stats("throttled").unwrap_or_default();
    assert_eq!((stats.delivered, stats.throttled), (1, 1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_times_out_and_is_retried() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    receiver.push(Reply::ok().after(Duration::from_secs(3)));
    let mut dest = webhook("slow", &receiver.url(), &["rotation.>"]);
    dest["timeout"] = json!("1s");
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    publish(&js, "rotation.failed", "h-1", event("h-1", &json!({}))).await?;
    let reqs = receiver.wait_for(2, SOON).await?;
    wait_until(SOON, "the retry to be delivered", || async {
        worker.stats("slow").is_some_and(|s| s.delivered == 1)
    })
    .await?;
    wait_idle(&js, "slow", "rotation.>").await?;

    // The hung request (the first to arrive) is followed by a retry no sooner
    // than the timeout (1 s) plus the schedule (1 s). On a very loaded machine
    // an attempt may also time out before reaching the receiver, so attempts
    // are read from the headers rather than assumed to be 1 and 2.
    let all = receiver.requests();
    let attempt = |r: &herald_testkit::Recorded| -> u32 {
        r.header("x-herald-attempt")
            .and_then(|a| a.parse().ok())
            .unwrap_or(0)
    };
    let log: Vec<(u32, Duration)> = all
        .iter()
        .map(|r| (attempt(r), r.arrived - all[0].arrived))
        .collect();
    assert_eq!(all.len(), 2, "one hung attempt, one delivery: {log:?}");
    assert!(attempt(&all[1]) > attempt(&all[0]), "{log:?}");
    let gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        gap + SLACK >= Duration::from_secs(2),
        "retried after {gap:?}, before timeout + schedule"
    );
    assert!(all.iter().all(|r| r.event_id() == Some("h-1")));
    let stats = worker.stats("slow").unwrap_or_default();
    assert_eq!((stats.delivered, stats.dead_lettered), (1, 0));
    assert_eq!(
        u64::from(attempt(&all[1])),
        stats.retried + 1,
        "every failed attempt was retried: {log:?}"
    );
    Ok(())
}
