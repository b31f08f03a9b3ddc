//! Deliveries against a local server that behaves like Jira Cloud.

use std::time::Duration;

use herald_core::memory::Memory;
use herald_core::{Channel, Outcome};
use herald_jira::Jira;
use herald_testkit::Reply;
use serde_json::{Value, json};

use crate::fake_jira::{FakeJira, jira_error};
use crate::support::{ctx, destination, event};

const EMAIL: &str = "ops@example.com";
const TOKEN: &str = "t0k3n";

async fn fake() -> FakeJira {
    FakeJira::start(EMAIL, TOKEN, "SEC").await.unwrap()
}

fn pointed_at(fake: &FakeJira, extra: &str) -> Jira {
    destination(&format!(
        "    base_url: {}\n    email: {EMAIL}\n    api_token: {TOKEN}\n    project_key: SEC\n    timeout: 1s\n{extra}",
        fake.url()
    ))
}

fn failed(id: &str, time: &str) -> Value {
    json!({"id": id, "time": time, "service": "postgres-prod", "environment": "production",
           "correlation": "rot-1", "error": "Connection verification failed"})
}

fn completed(id: &str, time: &str) -> Value {
    json!({"id": id, "time": time, "service": "postgres-prod", "correlation": "rot-1"})
}

async fn deliver(
    jira: &Jira,
    memory: &Memory,
    attempt: u32,
    subject: &str,
    json: &Value,
) -> Outcome {
    let e = event(subject, json);
    let c = ctx(&e.id, attempt, memory);
    let plan = jira.render(&e, &c).unwrap();
    jira.send(&plan, &c).await
}

fn key_of(o: &Outcome) -> Option<&str> {
    match o {
        Outcome::Delivered { handle, .. } => handle.as_deref(),
        _ => None,
    }
}

fn paths(fake: &FakeJira) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path.split('?').next().unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn raise_repeat_then_resolve() {
    let fake = fake().await;
    let jira = pointed_at(
        &fake,
        "    resolve_transition: Done\n    labels: [herald]\n",
    );
    let memory = Memory::local();

    let first = deliver(
        &jira,
        &memory,
        1,
        "rotation.failed",
        &failed("f1", "2026-11-23T14:30:00Z"),
    )
    .await;
    assert_eq!(key_of(&first), Some("SEC-1"), "{first:?}");
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(
        issues[0].fields["summary"],
        "Rotation Failed: postgres-prod"
    );
    assert_eq!(issues[0].labels[0], "herald");
    assert!(issues[0].labels[1].starts_with("herald-"));
    for r in fake.requests() {
        assert!(r.header("authorization").unwrap().starts_with("Basic "));
        assert_eq!(r.header("accept"), Some("application/json"));
    }

    let again = deliver(
        &jira,
        &memory,
        1,
        "rotation.failed",
        &failed("f2", "2026-11-23T14:31:00Z"),
    )
    .await;
    assert_eq!(key_of(&again), Some("SEC-1"));
    assert_eq!(
        fake.issues().len(),
        1,
        "a repeat does not open a second issue"
    );
    assert_eq!(fake.issue("SEC-1").unwrap().comments.len(), 1);

    let done = deliver(
        &jira,
        &memory,
        1,
        "rotation.completed",
        &completed("c1", "2026-11-23T14:35:00Z"),
    )
    .await;
    assert_eq!(key_of(&done), Some("SEC-1"));
    let issue = fake.issue("SEC-1").unwrap();
    assert!(issue.done, "transitioned to Done");
    assert_eq!(issue.comments.len(), 2);
    assert!(
        serde_json::to_string(&issue.comments[1])
            .unwrap()
            .contains("Rotation Completed")
    );
    assert_eq!(
        paths(&fake),
        [
            "POST /rest/api/3/search/jql",
            "POST /rest/api/3/issue",
            // The noted key is read back directly, before the search.
            "GET /rest/api/3/issue/SEC-1",
            "POST /rest/api/3/issue/SEC-1/comment",
            "GET /rest/api/3/issue/SEC-1",
            "POST /rest/api/3/issue/SEC-1/comment",
            "GET /rest/api/3/issue/SEC-1/transitions",
            "POST /rest/api/3/issue/SEC-1/transitions",
        ]
    );

    // After the resolve, a new failure opens a new issue.
    let next = deliver(
        &jira,
        &memory,
        1,
        "rotation.failed",
        &failed("f3", "2026-11-23T15:00:00Z"),
    )
    .await;
    assert_eq!(key_of(&next), Some("SEC-2"));
}

#[tokio::test]
async fn the_search_finds_issues_herald_did_not_note() {
    let fake = fake().await;
    let jira = pointed_at(&fake, "");
    let e = event("rotation.failed", &failed("f1", "2026-11-23T14:30:00Z"));
    let label = herald_jira::label(&e, "unused").value;
    let key = fake.seed_issue("Opened by another replica", &[&label]);
    // A fresh memory: another replica created the issue.
    let o = deliver(
        &jira,
        &Memory::local(),
        1,
        "rotation.failed",
        &failed("f1", "2026-11-23T14:30:00Z"),
    )
    .await;
    assert_eq!(key_of(&o), Some(key.as_str()));
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(fake.issue(&key).unwrap().comments.len(), 1);
}

#[tokio::test]
async fn a_create_that_timed_out_is_not_repeated() {
    let fake = fake().await;
    let jira = pointed_at(&fake, "");
    let memory = Memory::local();
    fake.slow_next_create(Duration::from_secs(3));
    let ev = failed("f1", "2026-11-23T14:30:00Z");
    let first = deliver(&jira, &memory, 1, "rotation.failed", &ev).await;
    let Outcome::Retry(f) = &first else {
        panic!("a timeout is retried: {first:?}");
    };
    assert!(f.reason.contains("timed out"), "{}", f.reason);
    assert_eq!(fake.issues().len(), 1, "Jira created it nonetheless");

    let retry = deliver(&jira, &memory, 2, "rotation.failed", &ev).await;
    assert_eq!(key_of(&retry), Some("SEC-1"), "{retry:?}");
    assert_eq!(fake.issues().len(), 1, "no second issue");
    assert!(
        fake.issue("SEC-1").unwrap().comments.is_empty(),
        "and no comment"
    );
}

#[tokio::test]
async fn a_comment_that_timed_out_is_not_repeated() {
    let fake = fake().await;
    let jira = pointed_at(&fake, "");
    let memory = Memory::local();
    deliver(
        &jira,
        &memory,
        1,
        "rotation.failed",
        &failed("f1", "2026-11-23T14:30:00Z"),
    )
    .await;
    fake.slow_next_comment(Duration::from_secs(3));
    let repeat = failed("f2", "2026-11-23T14:31:00Z");
    assert!(matches!(
        deliver(&jira, &memory, 1, "rotation.failed", &repeat).await,
        Outcome::Retry(_)
    ));
    assert_eq!(fake.issue("SEC-1").unwrap().comments.len(), 1);
    let retry = deliver(&jira, &memory, 2, "rotation.failed", &repeat).await;
    assert_eq!(key_of(&retry), Some("SEC-1"));
    assert_eq!(
        fake.issue("SEC-1").unwrap().comments.len(),
        1,
        "no second comment"
    );
    // A different event still comments.
    deliver(
        &jira,
        &memory,
        2,
        "rotation.failed",
        &failed("f3", "2026-11-23T14:32:00Z"),
    )
    .await;
    assert_eq!(fake.issue("SEC-1").unwrap().comments.len(), 2);
}

#[tokio::test]
async fn a_trigger_retried_after_its_resolve_is_skipped() {
    let fake = fake().await;
    let jira = pointed_at(&fake, "    resolve_transition: Done\n");
    let memory = Memory::local();
    // The completion is delivered while the failure waits for its retry.
    let done = deliver(
        &jira,
        &memory,
        1,
        "rotation.completed",
        &completed("c1", "2026-11-23T14:35:00Z"),
    )
    .await;
    assert_eq!(
        done,
        Outcome::Delivered {
            handle: None,
            status: None,
            hold: None
        }
    );
    let late = deliver(
        &jira,
        &memory,
        2,
        "rotation.failed",
        &failed("f1", "2026-11-23T14:30:00Z"),
    )
    .await;
    assert_eq!(key_of(&late), None);
    assert!(matches!(late, Outcome::Delivered { .. }));
    assert!(
        fake.issues().is_empty(),
        "no issue for a rotation that already completed"
    );
    assert!(fake.writes().is_empty());
}

#[tokio::test]
async fn repeats_without_comments_and_unknown_transitions() {
    let fake = fake().await;
    let jira = pointed_at(
        &fake,
        "    comment_on_repeat: false\n    resolve_transition: Close Issue\n",
    );
    let memory = Memory::local();
    deliver(
        &jira,
        &memory,
        1,
        "rotation.failed",
        &failed("f1", "2026-11-23T14:30:00Z"),
    )
    .await;
    deliver(
        &jira,
        &memory,
        1,
        "rotation.failed",
        &failed("f2", "2026-11-23T14:31:00Z"),
    )
    .await;
    assert!(fake.issue("SEC-1").unwrap().comments.is_empty());
    let o = deliver(
        &jira,
        &memory,
        1,
        "rotation.completed",
        &completed("c1", "2026-11-23T14:35:00Z"),
    )
    .await;
    let Outcome::Permanent(f) = o else {
        panic!("{o:?}")
    };
    assert!(
        f.reason.contains(
            "`Close Issue` is not available for SEC-1 (available: To Do, In Progress, Done)"
        ),
        "{}",
        f.reason
    );
}

#[tokio::test]
async fn error_answers_are_classified() {
    let fake = fake().await;
    let memory = Memory::local();
    let ev = failed("f1", "2026-11-23T14:30:00Z");

    // 400 on create, about the event's content: permanent, with Jira's words.
    let jira = pointed_at(&fake, "");
    fake.push(Reply::status(200).body(r#"{"issues":[],"isLast":true}"#));
    fake.push(jira_error(
        400,
        &["Issue could not be created."],
        &json!({"summary": "Summary is too long."}),
    ));
    let Outcome::Permanent(f) = deliver(&jira, &memory, 1, "rotation.failed", &ev).await else {
        panic!("400 is permanent");
    };
    assert_eq!(f.status, Some(400));
    assert_eq!(
        f.reason,
        "Jira rejected creating the issue (400): Issue could not be created.; summary: Summary is too long."
    );
    assert!(f.excerpt.as_deref().unwrap().contains("errorMessages"));
    assert!(!f.broken);

    // 400 naming a field the settings chose: the destination is broken.
    let bug = pointed_at(&fake, "    issue_type: Story\n");
    let Outcome::Permanent(f) = deliver(&bug, &memory, 1, "rotation.failed", &ev).await else {
        panic!("400 is permanent");
    };
    assert!(
        f.reason.contains("issuetype: Specify a valid issue type"),
        "{}",
        f.reason
    );
    assert!(f.broken);

    // A project that does not exist: the search fails, the destination is broken.
    let elsewhere = destination(&format!(
        "    base_url: {}\n    email: {EMAIL}\n    api_token: {TOKEN}\n    project_key: NOPE\n",
        fake.url()
    ));
    let Outcome::Permanent(f) = deliver(&elsewhere, &memory, 1, "rotation.failed", &ev).await
    else {
        panic!("a 400 search is permanent");
    };
    assert!(
        f.broken && f.reason.contains("'NOPE' does not exist"),
        "{}",
        f.reason
    );

    // Refused credentials.
    let revoked = destination(&format!(
        "    base_url: {}\n    email: {EMAIL}\n    api_token: revoked\n    project_key: SEC\n",
        fake.url()
    ));
    let Outcome::Permanent(f) = deliver(&revoked, &memory, 1, "rotation.failed", &ev).await else {
        panic!("401 is permanent");
    };
    assert_eq!(f.status, Some(401));
    assert!(f.broken);
    fake.push(jira_error(
        403,
        &["You do not have permission to create issues in this project."],
        &json!({}),
    ));
    let Outcome::Permanent(f) = deliver(&jira, &memory, 1, "rotation.failed", &ev).await else {
        panic!("403 is permanent");
    };
    assert!(
        f.broken && f.reason.contains("do not have permission"),
        "{}",
        f.reason
    );

    // A wrong base_url: 404.
    let lost = destination(&format!(
        "    base_url: {}/wiki\n    email: {EMAIL}\n    api_token: {TOKEN}\n    project_key: SEC\n",
        fake.url()
    ));
    let Outcome::Permanent(f) = deliver(&lost, &memory, 1, "rotation.failed", &ev).await else {
        panic!("404 is permanent");
    };
    assert_eq!(f.status, Some(404));
    assert!(f.broken);

    // Throttled, and failing.
    fake.push(Reply::status(429).header("Retry-After", "4"));
    let Outcome::Retry(f) = deliver(&jira, &memory, 1, "rotation.failed", &ev).await else {
        panic!("429 is retried");
    };
    assert!(f.throttled);
    assert_eq!(f.retry_after, Some(Duration::from_secs(4)));
    fake.push(Reply::status(200).body(r#"{"issues":[],"isLast":true}"#));
    fake.push(Reply::status(503).header("Retry-After", "2"));
    let Outcome::Retry(f) = deliver(&jira, &memory, 1, "rotation.failed", &ev).await else {
        panic!("503 is retried");
    };
    assert_eq!(f.status, Some(503));
    assert!(
        fake.issues().is_empty(),
        "nothing was created by any of these"
    );
}
