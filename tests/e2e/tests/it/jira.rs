//! End-to-end tests of the `herald-jira` worker: a real nats-server, the worker
//! binary, and a local Jira Cloud that keeps issues, searches them by label and
//! status, takes comments and transitions (the fake is shared with the crate's
//! own tests).

#[path = "../../../../crates/herald-jira/tests/jira/fake_jira.rs"]
mod fake_jira;

use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_testkit::{NatsServer, Reply, wait_for_dead_letters, wait_until};
use serde_json::{Value, json};

use crate::support::{self, SOON, wait_broken_logged};
use fake_jira::{FakeJira, jira_error};

const EMAIL: &str = "herald@example.com";
const TOKEN: &str = "e2e-api-token";

/// Allowance for timer granularity when checking a wait.
const SLACK: Duration = Duration::from_millis(20);

/// A Jira destination for `rotation.>` at the fake, credentials by reference.
fn destination(fake: &FakeJira) -> Value {
    json!({
        "name": "tickets",
        "channel": "jira",
        "events": ["rotation.>"],
        "base_url": fake.url(),
        "email": {"from": {"env": "JIRA_TEST_EMAIL"}},
        "api_token": {"from": {"env": "JIRA_TEST_TOKEN"}},
        "project_key": "SEC",
        "labels": ["herald"],
        "resolve_transition": "Done",
        "timeout": "5s",
        "retry": {"schedule": ["1s"], "jitter": 0},
    })
}

/// A running fleet: nats-server, the fake, the worker process.
type Fleet = support::Fleet<FakeJira>;

/// Starts everything for one destination (changed by `tweak`), and waits
/// until the worker's consumer exists.
async fn start(tweak: impl FnOnce(&mut Value)) -> Result<Fleet> {
    let nats = NatsServer::start().await?;
    let fake = FakeJira::start(EMAIL, TOKEN, "SEC").await?;
    let mut dest = destination(&fake);
    tweak(&mut dest);
    Fleet::start(
        nats,
        fake,
        "jira",
        dest,
        &[("JIRA_TEST_EMAIL", EMAIL), ("JIRA_TEST_TOKEN", TOKEN)],
    )
    .await
}

impl Fleet {
    /// Waits until `what` holds of the fake's issues.
    async fn until(&self, what: &str, f: impl Fn(&[fake_jira::Issue]) -> bool) -> Result<()> {
        wait_until(SOON, what, || async { f(&self.fake.issues()) })
            .await
            .with_context(|| format!("worker stderr:\n{}", self.worker.stderr()))
    }
}

fn failed(time: &str) -> Value {
    json!({"time": time, "service": "postgres-prod", "environment": "production",
           "correlation": "rot-e2e-7", "error": "Connection verification failed"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_is_opened_commented_and_resolved() -> Result<()> {
    let f = start(|_| {}).await?;
    f.publish("rotation.failed", "j-1", &failed("2026-11-23T14:30:00Z"))
        .await?;
    f.until("the issue to be created", |i| i.len() == 1).await?;
    f.publish("rotation.failed", "j-2", &failed("2026-11-23T14:31:00Z"))
        .await?;
    f.until("the repeat to be commented", |i| {
        i.first().is_some_and(|i| i.comments.len() == 1)
    })
    .await?;
    f.publish(
        "rotation.completed",
        "j-3",
        &json!({"time": "2026-11-23T14:35:00Z", "service": "postgres-prod", "correlation": "rot-e2e-7"}),
    )
    .await?;
    f.until("the issue to be resolved", |i| {
        i.first().is_some_and(|i| i.done)
    })
    .await?;
    f.idle().await?;

    let issues = f.fake.issues();
    assert_eq!(issues.len(), 1, "one issue for the whole rotation");
    let issue = &issues[0];
    assert_eq!(issue.key, "SEC-1");
    assert_eq!(issue.fields["summary"], "Rotation Failed: postgres-prod");
    assert_eq!(issue.fields["issuetype"]["name"], "Task");
    assert_eq!(issue.labels[0], "herald");
    assert!(issue.labels[1].starts_with("herald-"));
    assert_eq!(issue.fields["description"]["type"], "doc");
    assert_eq!(issue.comments.len(), 2, "the repeat and the resolve");
    assert!(f.fake.requests().iter().all(|r| {
        r.header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    }),);
    assert!(
        !f.worker.stderr().contains(TOKEN),
        "the token is never logged"
    );
    Ok(())
}

/// The create reaches Jira, but its answer comes after the destination's
/// timeout: the retry finds the issue by its label and marker and writes
/// nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_timed_out_is_not_duplicated_on_retry() -> Result<()> {
    let f = start(|d| d["timeout"] = json!("1s")).await?;
    f.fake.slow_next_create(Duration::from_secs(3));
    f.publish("rotation.failed", "j-slow", &failed("2026-11-23T14:30:00Z"))
        .await?;
    wait_until(SOON, "the retry to search again", || async {
        f.fake
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/rest/api/3/search/jql"))
            .count()
            >= 2
    })
    .await
    .with_context(|| f.worker.stderr())?;
    f.idle().await?;
    let issues = f.fake.issues();
    assert_eq!(issues.len(), 1, "no duplicate issue");
    assert!(issues[0].comments.is_empty(), "and no comment on it");
    let creates = f
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/rest/api/3/issue")
        .count();
    assert_eq!(creates, 1);
    assert!(
        f.worker
            .stderr()
            .contains("An earlier attempt created this event's issue."),
        "{}",
        f.worker.stderr()
    );
    Ok(())
}

/// The same for a comment on an open issue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_that_timed_out_is_not_duplicated_on_retry() -> Result<()> {
    let f = start(|d| d["timeout"] = json!("1s")).await?;
    f.publish("rotation.failed", "j-a", &failed("2026-11-23T14:30:00Z"))
        .await?;
    f.until("the issue to be created", |i| i.len() == 1).await?;
    f.fake.slow_next_comment(Duration::from_secs(3));
    f.publish("rotation.failed", "j-b", &failed("2026-11-23T14:31:00Z"))
        .await?;
    wait_until(SOON, "the retry to read the comments", || async {
        f.fake
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/comment"))
    })
    .await
    .with_context(|| f.worker.stderr())?;
    f.idle().await?;
    let issues = f.fake.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].comments.len(), 1, "no duplicate comment");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_dead_lettered_with_jiras_error_messages() -> Result<()> {
    let f = start(|_| {}).await?;
    f.fake
        .push(Reply::status(200).body(r#"{"issues":[],"isLast":true}"#));
    f.fake.push(jira_error(
        400,
        &["Issue could not be created."],
        &json!({"customfield_10010": "Team is required."}),
    ));
    f.publish("rotation.failed", "j-400", &failed("2026-11-23T14:30:00Z"))
        .await?;
    let letters = wait_for_dead_letters(&f.js, 1, SOON).await?;
    f.idle().await?;
    let d = &letters[0];
    assert_eq!(d.subject, "herald.dlq.jira.tickets");
    assert_eq!(d.reason(), Some("permanent"));
    assert_eq!(d.status(), Some(400));
    let error = d.error().unwrap_or_default();
    assert!(
        error.contains("Issue could not be created.")
            && error.contains("customfield_10010: Team is required."),
        "{error}"
    );
    assert!(
        d.response().is_some_and(|r| r.contains("errorMessages")),
        "{:?}",
        d.response()
    );
    assert!(f.fake.issues().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_dead_letter_and_report_the_destination_broken() -> Result<()> {
    let f = start(|d| d["api_token"] = json!("revoked-token")).await?;
    f.publish("rotation.failed", "j-401", &failed("2026-11-23T14:30:00Z"))
        .await?;
    let letters = wait_for_dead_letters(&f.js, 1, SOON).await?;
    assert_eq!(letters[0].status(), Some(401));
    assert!(
        letters[0]
            .response()
            .is_some_and(|r| r.contains("Client must be authenticated")),
        "{:?}",
        letters[0].response()
    );
    wait_broken_logged(&f.worker).await?;
    assert!(!f.worker.stderr().contains("revoked-token"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_retry_after() -> Result<()> {
    let f = start(|_| {}).await?;
    f.fake.push(
        Reply::status(429)
            .header("Retry-After", "2")
            .header("RateLimit-Reason", "jira-burst-based"),
    );
    f.publish("rotation.failed", "j-429", &failed("2026-11-23T14:30:00Z"))
        .await?;
    f.until("the issue to be created", |i| i.len() == 1).await?;
    f.idle().await?;
    let reqs = f.fake.requests();
    let gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        gap + SLACK >= Duration::from_secs(2),
        "retried after {gap:?}, before Retry-After: 2"
    );
    assert_eq!(f.fake.issues().len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_then_delivered() -> Result<()> {
    let f = start(|_| {}).await?;
    f.fake
        .push(Reply::status(200).body(r#"{"issues":[],"isLast":true}"#));
    f.fake
        .push(jira_error(503, &["Service unavailable"], &json!({})));
    f.publish("rotation.failed", "j-503", &failed("2026-11-23T14:30:00Z"))
        .await?;
    f.until("the issue to be created", |i| i.len() == 1).await?;
    f.idle().await?;
    assert_eq!(f.fake.issues().len(), 1);
    assert!(herald_testkit::dead_letters(&f.js).await?.is_empty());
    Ok(())
}
