//! Sends against a local server that answers as Opsgenie documents.

use std::time::Duration;

use herald_core::memory::Memory;
use herald_core::{Channel, Outcome};
use herald_opsgenie::Opsgenie;
use herald_testkit::Reply;
use serde_json::json;

use crate::fake_opsgenie::FakeOpsgenie;
use crate::support::{ctx, destination, event};

fn pointed_at(fake: &FakeOpsgenie, extra: &str) -> Opsgenie {
    destination(&format!(
        "    api_key: k-123\n    api_url: {}\n    timeout: 2s\n{extra}",
        fake.url()
    ))
}

async fn deliver(
    og: &Opsgenie,
    memory: &Memory,
    subject: &str,
    json: serde_json::Value,
) -> Outcome {
    let e = event(subject, &json);
    let c = ctx(&e.id, memory);
    let req = og.render(&e, &c).unwrap();
    og.send(&req, &c).await
}

#[tokio::test]
async fn trigger_repeat_then_resolve() {
    let fake = FakeOpsgenie::start("k-123").await.unwrap();
    let og = pointed_at(&fake, "");
    let memory = Memory::local();
    let failed = |id: &str, t: &str| {
        json!({"id": id, "time": t, "service": "postgres-prod", "environment": "production",
               "correlation": "rot-1", "error": "Connection verification failed"})
    };
    let first = deliver(
        &og,
        &memory,
        "rotation.failed",
        failed("f1", "2026-11-23T14:30:00Z"),
    )
    .await;
    let Outcome::Delivered { handle, status, .. } = first else {
        panic!("{first:?}");
    };
    assert_eq!(
        handle.as_deref(),
        Some("req-0001"),
        "the requestId is the handle"
    );
    assert_eq!(status, Some(202));
    let again = deliver(
        &og,
        &memory,
        "rotation.failed",
        failed("f2", "2026-11-23T14:31:00Z"),
    )
    .await;
    assert!(matches!(again, Outcome::Delivered { .. }), "{again:?}");
    let alerts = fake.alerts();
    assert_eq!(alerts.len(), 1, "a repeat does not open a second alert");
    assert_eq!(alerts[0].count, 2);
    assert_eq!(alerts[0].alias, "rot-1");
    assert_eq!(alerts[0].body["priority"], "P2");

    let done = json!({"id": "c1", "time": "2026-11-23T14:35:00Z", "service": "postgres-prod",
                      "correlation": "rot-1"});
    let closed = deliver(&og, &memory, "rotation.completed", done).await;
    assert!(matches!(closed, Outcome::Delivered { .. }), "{closed:?}");
    let alerts = fake.alerts();
    assert!(!alerts[0].open, "closed by alias");
    assert!(
        alerts[0].close.as_ref().unwrap()["note"]
            .as_str()
            .unwrap()
            .contains("Rotation Completed")
    );

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("authorization"), Some("GenieKey k-123"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    assert_eq!(reqs[2].path, "/v2/alerts/rot-1/close?identifierType=alias");
}

#[tokio::test]
async fn a_stale_create_after_a_close_is_skipped_and_so_is_a_stale_close() {
    let fake = FakeOpsgenie::start("k-123").await.unwrap();
    let og = pointed_at(&fake, "");
    let memory = Memory::local();
    let corr = "deploy/7 ä";
    let done = json!({"id": "c1", "time": "2026-11-23T14:35:00Z", "correlation": corr});
    assert!(matches!(
        deliver(&og, &memory, "update.completed", done).await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(
        fake.requests()[0].path,
        "/v2/alerts/deploy%2F7%20%C3%A4/close?identifierType=alias"
    );
    // The failure that happened before the completion comes back from a retry.
    let late = json!({"id": "f1", "time": "2026-11-23T14:30:00Z", "correlation": corr});
    let outcome = deliver(&og, &memory, "update.failed", late).await;
    assert_eq!(
        outcome,
        Outcome::delivered(None),
        "acknowledged without a request"
    );
    assert_eq!(fake.requests().len(), 1);
    assert!(fake.alerts().is_empty());
    // A new failure after the completion opens a new alert.
    let fresh = json!({"id": "f2", "time": "2026-11-23T14:40:00Z", "correlation": corr});
    assert!(matches!(
        deliver(&og, &memory, "update.failed", fresh).await,
        Outcome::Delivered {
            handle: Some(_),
            ..
        }
    ));
    assert_eq!(fake.alerts().len(), 1);
    // And the completion of the earlier run, retried late, does not close it.
    let old_close = json!({"id": "c0", "time": "2026-11-23T14:36:00Z", "correlation": corr});
    assert_eq!(
        deliver(&og, &memory, "update.completed", old_close).await,
        Outcome::delivered(None)
    );
    assert!(fake.alerts()[0].open);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn error_answers_are_classified() {
    let fake = FakeOpsgenie::start("k-123").await.unwrap();
    let og = pointed_at(&fake, "");
    let memory = Memory::local();
    let failed = json!({"id": "x", "correlation": "rot-9"});

    fake.push(
        Reply::status(422).body(
            r#"{"message":"Request body is not processable.","took":0.0,"requestId":"r-422"}"#,
        ),
    );
    let Outcome::Permanent(f) = deliver(&og, &memory, "rotation.failed", failed.clone()).await
    else {
        panic!("422 is permanent");
    };
    assert_eq!(f.status, Some(422));
    assert!(
        f.reason.contains("Request body is not processable."),
        "{}",
        f.reason
    );
    assert!(f.excerpt.unwrap().contains("r-422"));
    assert!(!f.broken);

    fake.push(
        Reply::status(429).header("Retry-After", "3").body(
            r#"{"message":"You are making too many requests!","took":0.0,"requestId":"r-429"}"#,
        ),
    );
    let Outcome::Retry(f) = deliver(&og, &memory, "rotation.failed", failed.clone()).await else {
        panic!("429 is retried");
    };
    assert!(f.throttled);
    assert_eq!(f.retry_after, Some(Duration::from_secs(3)));

    fake.push(Reply::status(503));
    assert!(matches!(
        deliver(&og, &memory, "rotation.failed", failed.clone()).await,
        Outcome::Retry(f) if f.status == Some(503)
    ));

    fake.push(Reply::status(202).after(Duration::from_secs(4)));
    let Outcome::Retry(f) = deliver(&og, &memory, "rotation.failed", failed.clone()).await else {
        panic!("a timeout is retried");
    };
    assert!(f.reason.contains("timed out"), "{}", f.reason);

    let wrong_key = destination(&format!(
        "    api_key: revoked\n    api_url: {}\n",
        fake.url()
    ));
    let Outcome::Permanent(f) = deliver(&wrong_key, &memory, "rotation.failed", failed).await
    else {
        panic!("401 is permanent");
    };
    assert_eq!(f.status, Some(401));
    assert!(f.broken, "a refused key breaks the destination");
    assert!(f.reason.contains("Could not authenticate"));
    assert!(fake.alerts().is_empty());
}
