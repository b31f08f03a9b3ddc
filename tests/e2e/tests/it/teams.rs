//! End-to-end tests of the `herald-teams` worker: a real nats-server, the worker
//! binary, and a local HTTP server answering as Teams Workflows triggers and
//! legacy connectors do (`202`; `200` with `1`; errors inside a `200`).

use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_testkit::{
    NatsServer, Receiver, Reply, WorkerCommand, WorkerProcess, event, publish, publish_all,
    seed_event, wait_for_dead_letters, write_fleet_config,
};
use serde_json::{Value, json};

use crate::support::{SOON, consumers_of, spawn_ready, wait_channel_idle};

/// Allowance for timer granularity when checking a wait.
const SLACK: Duration = Duration::from_millis(20);

const THROTTLED: &str = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deadbeef.0..";

/// A Teams destination for `events` posting to `url`: 5 s timeout, retries
/// after 1 s without jitter.
fn teams(name: &str, url: &str, events: &[&str]) -> Value {
    json!({
        "name": name,
        "channel": "teams",
        "events": events,
        "url": url,
        "timeout": "5s",
        "retry": {"schedule": ["1s"], "jitter": 0},
    })
}

/// Starts `herald-teams` on `destinations` and waits until each consumer exists.
async fn start(
    nats: &NatsServer,
    destinations: &[Value],
) -> Result<(WorkerProcess, herald_testkit::ConfigFile)> {
    let config = write_fleet_config(&nats.url(), destinations)?;
    let js = nats.jetstream().await?;
    let command = WorkerCommand::new("herald-teams", config.path());
    let worker = spawn_ready(&command, &js, "teams", &consumers_of(destinations)).await?;
    Ok((worker, config))
}

async fn wait_idle(
    js: &async_nats::jetstream::Context,
    destination: &str,
    pattern: &str,
) -> Result<()> {
    wait_channel_idle(js, "teams", destination, pattern).await
}

/// The seed event `name` as published: (subject, id, payload).
fn seed(name: &str) -> (String, String, Vec<u8>) {
    let s = seed_event(name);
    let id = s.id().to_owned();
    (s.subject.clone(), id, s.payload())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_card_is_posted_to_a_workflow() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::status(202)).await?;
    let (worker, _config) =
        start(&nats, &[teams("ops-teams", &receiver.url(), &["update.>"])]).await?;
    let js = nats.jetstream().await?;

    let (subject, id, payload) = seed("headwind-update.request_created");
    publish(&js, &subject, &id, payload).await?;
    let req = receiver
        .wait_for(1, SOON)
        .await
        .with_context(|| format!("worker stderr:\n{}", worker.stderr()))?
        .remove(0);
    wait_idle(&js, "ops-teams", "update.>").await?;

    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hook");
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json()?;
    assert_eq!(body["type"], "message");
    let card = &body["attachments"][0]["content"];
    assert_eq!(
        body["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.5");
    assert_eq!(
        card["body"][0]["text"],
        "ℹ️ New Update Request: nginx-deployment"
    );
    let buttons: Vec<&str> = card["actions"]
        .as_array()
        .context("no actions")?
        .iter()
        .filter_map(|a| a["title"].as_str())
        .collect();
    assert_eq!(buttons, ["Approve", "Reject", "View UpdateRequest"]);
    assert_eq!(receiver.count(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_error_bodies_are_dead_lettered() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    // A connector refusing the card still answers 200, with the error inside.
    receiver.respond_with(|r| {
        Some(if r.text().contains("Rotation Failed") {
            Reply::ok().body(&THROTTLED.replace("429", "400"))
        } else {
            Reply::ok().body("1")
        })
    });
    let mut dest = teams("legacy", &receiver.url(), &["rotation.>"]);
    dest["format"] = json!("messagecard");
    dest["webhook_type"] = json!("connector");
    let (_worker, _config) = start(&nats, &[dest]).await?;
    let js = nats.jetstream().await?;

    let (subject, id, payload) = seed("dsops-rotation.failed");
    publish(&js, &subject, &id, payload.clone()).await?;
    let (s2, id2, p2) = seed("dsops-rotation.completed");
    publish(&js, &s2, &id2, p2).await?;
    let letters = wait_for_dead_letters(&js, 1, SOON).await?;
    receiver.wait_for(2, SOON).await?;
    wait_idle(&js, "legacy", "rotation.>").await?;

    assert_eq!(letters.len(), 1, "only the refused card is dead-lettered");
    let d = &letters[0];
    assert_eq!(d.subject, "herald.dlq.teams.legacy");
    assert_eq!(d.reason(), Some("permanent"));
    assert_eq!(d.status(), Some(200));
    assert_eq!(d.attempts(), Some(1));
    assert!(
        d.response().is_some_and(|r| r.contains("HTTP error 400")),
        "{:?}",
        d.response()
    );
    assert_eq!(d.payload, payload);
    assert_eq!(receiver.count(), 2, "nothing was retried");
    let posted = receiver.requests()[1].json()?;
    assert_eq!(posted["@type"], "MessageCard");
    assert_eq!(posted["themeColor"], "22C55E");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_workflow_is_dead_lettered() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::status(404).body(
        r#"{"error":{"code":"WorkflowNotFound","message":"The workflow could not be found."}}"#,
    ))
    .await?;
    let (worker, _config) =
        start(&nats, &[teams("gone", &receiver.url(), &["rotation.>"])]).await?;
    let js = nats.jetstream().await?;

    publish(
        &js,
        "rotation.failed",
        "g-1",
        event("g-1", &json!({"service": "pg"})),
    )
    .await?;
    let letters = wait_for_dead_letters(&js, 1, SOON).await?;
    wait_idle(&js, "gone", "rotation.>").await?;

    assert_eq!(letters[0].status(), Some(404));
    assert!(
        letters[0]
            .response()
            .is_some_and(|r| r.contains("WorkflowNotFound"))
    );
    assert_eq!(receiver.count(), 1);
    // The broken destination is reported at error level.
    let logs = worker.stderr();
    assert!(logs.contains("broken"), "{logs}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_waits_for_retry_after_both_ways() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::status(202)).await?;
    // A Workflows 429, then a connector's 429 inside a 200; each asks for 2 s.
    receiver.push_all([
        Reply::status(429).header("Retry-After", "2"),
        Reply::ok().header("Retry-After", "2").body(THROTTLED),
    ]);
    let (_worker, _config) =
        start(&nats, &[teams("busy", &receiver.url(), &["rotation.>"])]).await?;
    let js = nats.jetstream().await?;

    publish(&js, "rotation.failed", "t-1", event("t-1", &json!({}))).await?;
    let reqs = receiver.wait_for(3, SOON).await?;
    wait_idle(&js, "busy", "rotation.>").await?;

    for pair in reqs.windows(2) {
        let gap = pair[1].arrived - pair[0].arrived;
        assert!(
            gap + SLACK >= Duration::from_secs(2),
            "retried after {gap:?}, before Retry-After: 2"
        );
    }
    assert_eq!(receiver.count(), 3);
    assert!(receiver.requests().iter().all(|r| r.body == reqs[0].body));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_then_delivered_once() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::status(202)).await?;
    receiver.push(Reply::status(503).body("Service Unavailable"));
    let (_worker, _config) =
        start(&nats, &[teams("flaky", &receiver.url(), &["rotation.>"])]).await?;
    let js = nats.jetstream().await?;

    publish(
        &js,
        "rotation.completed",
        "f-1",
        event("f-1", &json!({"service": "pg"})),
    )
    .await?;
    let reqs = receiver.wait_for(2, SOON).await?;
    wait_idle(&js, "flaky", "rotation.>").await?;

    assert_eq!(receiver.count(), 2, "one failed attempt, one delivery");
    assert_eq!(reqs[0].body, reqs[1].body);
    assert!(reqs[1].arrived - reqs[0].arrived + SLACK >= Duration::from_secs(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_rate_limit_is_four_a_second() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::status(202)).await?;
    let (_worker, _config) =
        start(&nats, &[teams("paced", &receiver.url(), &["rotation.>"])]).await?;
    let js = nats.jetstream().await?;

    let ids: Vec<String> = (0..9).map(|i| format!("paced-{i}")).collect();
    publish_all(
        &js,
        ids.iter().map(|id| {
            (
                "rotation.completed".to_owned(),
                id.clone(),
                event(id, &json!({})),
            )
        }),
    )
    .await?;
    let reqs = receiver.wait_for(ids.len(), SOON).await?;
    wait_idle(&js, "paced", "rotation.>").await?;

    let first = reqs
        .iter()
        .map(|r| r.arrived)
        .min()
        .context("no requests")?;
    let last = reqs
        .iter()
        .map(|r| r.arrived)
        .max()
        .context("no requests")?;
    // Nine cards at 4 a second, one at a time: eight gaps of 250 ms.
    assert!(
        last - first >= Duration::from_millis(1900),
        "9 cards took only {:?}",
        last - first
    );
    assert_eq!(receiver.count(), 9);
    Ok(())
}
