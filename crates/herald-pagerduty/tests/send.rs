//! `send` against a real HTTP server on 127.0.0.1 answering as PagerDuty's
//! Events API v2 does, including the per-alert notes that keep a retried, stale
//! trigger from reopening a resolved alert.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic with the value is the clearest failure"
)]

use std::time::Duration;

use herald_core::outcome::Outcome;
use herald_core::{Channel, DeliveryContext, Envelope};
use herald_pagerduty::{EventAction, PagerDuty, THROTTLE_WAIT};
use herald_testkit::{Receiver, Reply, destination, envelope, failure};
use serde_json::{Value, json};

const KEY: &str = "R0UT1NGKEY0000000000000000000000";

fn pagerduty(url: &str, extra: &str) -> PagerDuty {
    destination(
        "oncall",
        &format!(
            "    routing_key: {KEY}
    events_url: {url}
{extra}"
        ),
    )
}

fn event(subject: &str, id: &str, time: &str) -> Envelope {
    let payload = json!({"id": id, "source": "dsops", "service": "postgres-prod",
        "environment": "production", "correlation": "rot-1", "time": time});
    envelope(subject, payload.to_string().as_bytes(), chrono::Utc::now())
}

fn accepted(dedup_key: &str) -> Reply {
    Reply::status(202).body(
        &json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key})
            .to_string(),
    )
}

/// Renders and sends `e` with the shared context (one memory for the test).
async fn deliver(pd: &PagerDuty, ctx: &DeliveryContext, e: &Envelope) -> Outcome {
    let req = pd.render(e, ctx).unwrap();
    pd.send(&req, ctx).await
}

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off("oncall", "e", chrono::Utc::now())
}

#[tokio::test]
async fn a_202_is_delivered_with_the_dedup_key_as_handle() {
    let r = Receiver::start_with_default(accepted("herald-rot-1"))
        .await
        .unwrap();
    let pd = pagerduty(&r.url(), "");
    let o = deliver(
        &pd,
        &ctx(),
        &event("rotation.failed", "f1", "2026-11-23T14:30:41Z"),
    )
    .await;
    assert_eq!(
        o,
        Outcome::Delivered {
            handle: Some("herald-rot-1".into()),
            status: Some(202),
            hold: None
        }
    );
    let got = r.requests().remove(0);
    assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/hook"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    let b = got.json().unwrap();
    assert_eq!(b["routing_key"], KEY);
    assert_eq!(b["event_action"], "trigger");
    assert_eq!(b["dedup_key"], "herald-rot-1");
}

#[tokio::test]
async fn errors_follow_the_documented_table() {
    let r = Receiver::start().await.unwrap();
    let pd = pagerduty(&r.url(), "");
    let e = event("rotation.failed", "f1", "2026-11-23T14:30:41Z");

    r.push(Reply::status(400).body(
        r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'dedup_key' is too long"]}"#,
    ));
    let o = deliver(&pd, &ctx(), &e).await;
    let f = failure(&o);
    assert!(matches!(o, Outcome::Permanent(_)));
    assert_eq!(f.status, Some(400));
    assert!(
        f.reason.contains("Length of 'dedup_key' is too long"),
        "{}",
        f.reason
    );
    assert!(
        f.excerpt
            .as_deref()
            .is_some_and(|x| x.contains("\"errors\""))
    );

    r.push(Reply::status(429).header("Retry-After", "3"));
    let o = deliver(&pd, &ctx(), &e).await;
    assert!(matches!(o, Outcome::Retry(_)) && failure(&o).throttled);
    assert_eq!(failure(&o).retry_after, Some(Duration::from_secs(3)));

    r.push(Reply::status(429));
    let o = deliver(&pd, &ctx(), &e).await;
    assert_eq!(failure(&o).retry_after, Some(THROTTLE_WAIT));

    r.push(Reply::status(502).body("<html>bad gateway</html>"));
    assert!(matches!(deliver(&pd, &ctx(), &e).await, Outcome::Retry(_)));
    assert_eq!(r.count(), 4);
}

#[tokio::test]
async fn a_stale_trigger_retried_after_the_resolve_is_skipped() {
    let r = Receiver::start_with_default(accepted("herald-rot-1"))
        .await
        .unwrap();
    let pd = pagerduty(&r.url(), "    auto_resolve: true\n");
    let ctx = ctx();
    let failed = event("rotation.failed", "f1", "2026-11-23T14:30:41Z");
    let completed = event("rotation.completed", "c1", "2026-11-23T14:32:15Z");

    // The trigger meets a 503 and waits for its retry; the resolve goes through.
    r.push(Reply::status(503));
    assert!(matches!(
        deliver(&pd, &ctx, &failed).await,
        Outcome::Retry(_)
    ));
    let resolve = pd.render(&completed, &ctx).unwrap();
    assert_eq!(resolve.action, EventAction::Resolve);
    assert!(matches!(
        pd.send(&resolve, &ctx).await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(r.count(), 2);

    // The trigger's retry is older than the resolve: nothing is sent.
    let o = deliver(&pd, &ctx, &failed).await;
    assert_eq!(
        o,
        Outcome::Delivered {
            handle: Some("herald-rot-1".into()),
            status: None,
            hold: None
        }
    );
    assert_eq!(r.count(), 2, "the stale trigger was not sent");

    // A new failure, later than the resolve, opens a new alert.
    let again = event("rotation.failed", "f2", "2026-11-23T15:10:00Z");
    assert!(matches!(
        deliver(&pd, &ctx, &again).await,
        Outcome::Delivered {
            status: Some(202),
            ..
        }
    ));
    // ...and the old resolve, retried now, must not close it.
    let o = pd.send(&resolve, &ctx).await;
    assert!(
        matches!(o, Outcome::Delivered { status: None, .. }),
        "{o:?}"
    );
    let actions: Vec<Value> = r
        .requests()
        .iter()
        .map(|q| q.json().unwrap()["event_action"].clone())
        .collect();
    assert_eq!(actions, ["trigger", "resolve", "trigger"]);
}
