//! `send` against a real HTTP server on 127.0.0.1 answering as Workflows
//! triggers and legacy connectors do.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic with the value is the clearest failure"
)]

use std::time::Duration;

use herald_core::outcome::Outcome;
use herald_core::{Channel, DeliveryContext, Envelope};
use herald_teams::{Teams, TeamsRequest};
use herald_testkit::{Receiver, Reply, destination, envelope, failure};

const THROTTLED: &str = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deadbeef.0..";

fn teams(yaml_tail: &str) -> Teams {
    destination("ops-teams", yaml_tail)
}

fn event() -> Envelope {
    envelope(
        "rotation.failed",
        br#"{"id":"e1","source":"dsops","service":"postgres-prod","environment":"production"}"#,
        chrono::Utc::now(),
    )
}

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off("ops-teams", "e1", chrono::Utc::now())
}

async fn send(t: &Teams) -> (Outcome, TeamsRequest) {
    let req = t.render(&event(), &ctx()).unwrap();
    (t.send(&req, &ctx()).await, req)
}

#[tokio::test]
async fn a_workflows_202_is_delivered_with_the_card() {
    let r = Receiver::start_with_default(Reply::status(202))
        .await
        .unwrap();
    let t = teams(&format!("    url: {}\n", r.url()));
    let (outcome, req) = send(&t).await;
    assert_eq!(outcome, Outcome::delivered(Some(202)));
    let got = r.requests().remove(0);
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/hook");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.body, req.body);
    let body = got.json().unwrap();
    assert_eq!(
        body["attachments"][0]["content"]["body"][0]["text"],
        "❌ Rotation Failed: postgres-prod"
    );
}

#[tokio::test]
async fn a_connector_is_read_from_its_body() {
    let r = Receiver::start_with_default(Reply::ok().body("1"))
        .await
        .unwrap();
    let t = teams(&format!(
        "    url: {}\n    format: messagecard\n    webhook_type: connector\n",
        r.url()
    ));
    assert_eq!(send(&t).await.0, Outcome::delivered(Some(200)));
    assert_eq!(r.requests()[0].json().unwrap()["@type"], "MessageCard");

    r.push(Reply::ok().header("Retry-After", "2").body(THROTTLED));
    let o = send(&t).await.0;
    let f = failure(&o);
    assert!(matches!(o, Outcome::Retry(_)), "{o:?}");
    assert!(f.throttled);
    assert_eq!(f.retry_after, Some(Duration::from_secs(2)));
    assert!(
        f.excerpt
            .as_deref()
            .is_some_and(|e| e.contains("HTTP error 429"))
    );

    r.push(Reply::ok().body(&THROTTLED.replace("429", "400")));
    assert!(matches!(send(&t).await.0, Outcome::Permanent(_)));

    r.push(Reply::ok().body(""));
    let o = send(&t).await.0;
    assert!(
        matches!(o, Outcome::Permanent(_)),
        "a connector 200 without 1: {o:?}"
    );
    assert_eq!(r.count(), 4);
}

#[tokio::test]
async fn http_errors_follow_the_table() {
    let r = Receiver::start().await.unwrap();
    let t = teams(&format!("    url: {}\n", r.url()));
    r.push(Reply::status(429).header("Retry-After", "7"));
    let o = send(&t).await.0;
    assert!(matches!(o, Outcome::Retry(_)) && failure(&o).throttled);
    assert_eq!(failure(&o).retry_after, Some(Duration::from_secs(7)));

    r.push(Reply::status(503).body("busy"));
    assert!(matches!(send(&t).await.0, Outcome::Retry(_)));

    r.push(Reply::status(404).body("workflow not found"));
    let o = send(&t).await.0;
    assert!(matches!(o, Outcome::Permanent(_)) && failure(&o).broken);
    assert_eq!(failure(&o).status, Some(404));

    r.push(Reply::status(400).body("{\"error\":{\"code\":\"InvalidRequestContent\"}}"));
    let o = send(&t).await.0;
    assert!(matches!(o, Outcome::Permanent(_)) && !failure(&o).broken);
    assert!(
        failure(&o)
            .excerpt
            .as_deref()
            .is_some_and(|e| e.contains("InvalidRequestContent"))
    );
}

#[tokio::test]
async fn a_hanging_endpoint_times_out_and_is_retried() {
    let r = Receiver::start_with_default(Reply::status(202).after(Duration::from_secs(3)))
        .await
        .unwrap();
    let t = teams(&format!("    url: {}\n    timeout: 1s\n", r.url()));
    let o = send(&t).await.0;
    assert!(matches!(o, Outcome::Retry(_)), "{o:?}");
    assert!(failure(&o).reason.contains("timed out"), "{o:?}");
}
