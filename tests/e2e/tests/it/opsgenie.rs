//! End-to-end tests of the `herald-opsgenie` worker: a real nats-server, the
//! worker binary, and a local Opsgenie Alert API that answers as Opsgenie
//! documents (the fake is shared with the crate's own tests).

#[path = "../../../../crates/herald-opsgenie/tests/opsgenie/fake_opsgenie.rs"]
mod fake_opsgenie;

use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_testkit::{NatsServer, Reply, wait_for_dead_letters, wait_until};
use serde_json::{Value, json};

use crate::support::{self, SOON, wait_broken_logged};
use fake_opsgenie::FakeOpsgenie;

/// The key the fake accepts; the worker reads it from the environment.
const KEY: &str = "e2e-genie-key";

/// Allowance for timer granularity when checking a wait.
const SLACK: Duration = Duration::from_millis(20);

/// An Opsgenie destination for `rotation.>` at the fake, the key by reference.
fn destination(name: &str, fake: &FakeOpsgenie) -> Value {
    json!({
        "name": name,
        "channel": "opsgenie",
        "events": ["rotation.>"],
        "api_key": {"from": {"env": "OPSGENIE_TEST_KEY"}},
        "api_url": fake.url(),
        "responders": [{"type": "team", "name": "platform-oncall"}],
        "timeout": "5s",
        "retry": {"schedule": ["1s"], "jitter": 0},
    })
}

/// A running fleet: nats-server, the fake, the worker process.
type Fleet = support::Fleet<FakeOpsgenie>;

/// Starts everything for one destination (changed by `tweak`), and waits
/// until the worker's consumer exists.
async fn start(tweak: impl FnOnce(&mut Value)) -> Result<Fleet> {
    let nats = NatsServer::start().await?;
    let fake = FakeOpsgenie::start(KEY).await?;
    let mut dest = destination("og", &fake);
    tweak(&mut dest);
    Fleet::start(nats, fake, "opsgenie", dest, &[("OPSGENIE_TEST_KEY", KEY)]).await
}

fn failed(time: &str) -> Value {
    json!({"time": time, "service": "postgres-prod", "environment": "production",
           "correlation": "rot-e2e-1", "error": "Connection verification failed"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_opened_counted_and_closed_by_alias() -> Result<()> {
    let f = start(|_| {}).await?;
    f.publish("rotation.failed", "og-1", &failed("2026-11-23T14:30:00Z"))
        .await?;
    f.fake.receiver.wait_for(1, SOON).await?;
    f.publish("rotation.failed", "og-2", &failed("2026-11-23T14:31:00Z"))
        .await?;
    f.fake.receiver.wait_for(2, SOON).await?;
    let alerts = f.fake.alerts();
    assert_eq!(alerts.len(), 1, "the repeat did not open a second alert");
    assert_eq!(alerts[0].count, 2);
    assert_eq!(alerts[0].alias, "rot-e2e-1");
    assert_eq!(alerts[0].body["priority"], "P2");
    assert_eq!(alerts[0].body["responders"][0]["name"], "platform-oncall");
    assert_eq!(alerts[0].body["message"], "Rotation Failed: postgres-prod");

    f.publish(
        "rotation.completed",
        "og-3",
        &json!({"time": "2026-11-23T14:35:00Z", "service": "postgres-prod", "correlation": "rot-e2e-1"}),
    )
    .await?;
    wait_until(SOON, "the alert to be closed", || async {
        f.fake.alerts().first().is_some_and(|a| !a.open)
    })
    .await?;
    f.idle().await?;
    let reqs = f.fake.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| r.header("authorization") == Some("GenieKey e2e-genie-key"))
    );
    assert_eq!(
        reqs[2].path,
        "/v2/alerts/rot-e2e-1/close?identifierType=alias"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsgenie_error_bodies_are_dead_lettered() -> Result<()> {
    let f = start(|_| {}).await?;
    f.fake.push(
        Reply::status(422)
            .header("content-type", "application/json")
            .body(r#"{"message":"Request body is not processable. Please check the errors.","took":0.002,"requestId":"e2e-422"}"#),
    );
    f.publish("rotation.failed", "og-bad", &failed("2026-11-23T14:30:00Z"))
        .await?;
    let letters = wait_for_dead_letters(&f.js, 1, SOON).await?;
    f.idle().await?;
    let d = &letters[0];
    assert_eq!(d.subject, "herald.dlq.opsgenie.og");
    assert_eq!(d.reason(), Some("permanent"));
    assert_eq!(d.status(), Some(422));
    assert_eq!(d.attempts(), Some(1));
    assert!(
        d.error()
            .is_some_and(|e| e.contains("Request body is not processable")),
        "{:?}",
        d.error()
    );
    assert!(
        d.response().is_some_and(|r| r.contains("e2e-422")),
        "{:?}",
        d.response()
    );
    assert_eq!(f.fake.requests().len(), 1, "not retried");
    assert!(f.fake.alerts().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_dead_letters_and_reports_the_destination_broken() -> Result<()> {
    let f = start(|d| d["api_key"] = json!("revoked-key")).await?;
    f.publish("rotation.failed", "og-401", &failed("2026-11-23T14:30:00Z"))
        .await?;
    let letters = wait_for_dead_letters(&f.js, 1, SOON).await?;
    assert_eq!(letters[0].status(), Some(401));
    assert!(
        letters[0]
            .error()
            .is_some_and(|e| e.contains("refused the API key")),
        "{:?}",
        letters[0].error()
    );
    wait_broken_logged(&f.worker).await?;
    assert!(
        !f.worker.stderr().contains("revoked-key"),
        "the key is never logged"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_retry_after() -> Result<()> {
    let f = start(|_| {}).await?;
    f.fake.push(
        Reply::status(429)
            .header("Retry-After", "2")
            .body(r#"{"message":"You are making too many requests! To avoid errors, we recommend you limit requests.","took":0.0,"requestId":"e2e-429"}"#),
    );
    f.publish(
        "rotation.failed",
        "og-slow",
        &failed("2026-11-23T14:30:00Z"),
    )
    .await?;
    let reqs = f.fake.receiver.wait_for(2, SOON).await?;
    f.idle().await?;
    let gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        gap + SLACK >= Duration::from_secs(2),
        "retried after {gap:?}, before Retry-After: 2"
    );
    assert_eq!(f.fake.alerts().len(), 1);
    assert_eq!(f.fake.requests().len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_then_delivered() -> Result<()> {
    let f = start(|_| {}).await?;
    f.fake.push(Reply::status(503));
    f.publish("rotation.failed", "og-5xx", &failed("2026-11-23T14:30:00Z"))
        .await?;
    f.fake.receiver.wait_for(2, SOON).await?;
    f.idle().await?;
    assert_eq!(f.fake.requests().len(), 2);
    assert_eq!(f.fake.alerts().len(), 1);
    assert_eq!(f.fake.alerts()[0].count, 1, "the retry did not count twice");
    Ok(())
}

/// The failure's create fails and waits for its retry; meanwhile the
/// completion closes the alias. The retried create is older than the close,
/// so it is acknowledged without reopening the alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_retried_after_its_close_does_not_reopen() -> Result<()> {
    let f = start(|d| d["retry"] = json!({"schedule": ["4s"], "jitter": 0})).await?;
    f.fake.push(Reply::status(503));
    f.publish(
        "rotation.failed",
        "og-early",
        &failed("2026-11-23T14:30:00Z"),
    )
    .await?;
    f.fake.receiver.wait_for(1, SOON).await?;
    f.publish(
        "rotation.completed",
        "og-late",
        &json!({"time": "2026-11-23T14:35:00Z", "service": "postgres-prod", "correlation": "rot-e2e-1"}),
    )
    .await?;
    let reqs = f.fake.receiver.wait_for(2, SOON).await?;
    assert!(
        reqs[1].path.ends_with("/close?identifierType=alias"),
        "the close came before the retry: {:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    wait_until(SOON, "the retried create to be handled", || async {
        f.worker
            .stderr()
            .contains("Skipping a stale Opsgenie request.")
    })
    .await
    .with_context(|| f.worker.stderr())?;
    f.idle().await?;
    assert_eq!(f.fake.requests().len(), 2, "no second create");
    assert!(f.fake.alerts().is_empty(), "no alert was reopened");
    Ok(())
}
