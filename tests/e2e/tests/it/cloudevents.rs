//! CloudEvents 1.0 on NATS, binary and structured modes, delivered end to end.

use anyhow::Result;
use async_nats::HeaderMap;
use herald_testkit::{NatsServer, Receiver, publish_with_headers, webhook, write_fleet_config};
use serde_json::json;

use crate::support::{SOON, start_worker, wait_idle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_structured_cloudevents_are_delivered() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut dest = webhook("ce", &receiver.url(), &["cert.>"]);
    dest["format"] = json!("envelope");
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    // Binary mode: attributes in ce-* headers (percent-encoded), the body is the data.
    let mut h = HeaderMap::new();
    h.insert("ce-specversion", "1.0");
    h.insert("ce-id", "ce-bin-1");
    h.insert("ce-source", "/certifyclouds/scanner");
    h.insert("ce-type", "cert.expiring");
    h.insert("ce-time", "2025-01-02T03:04:05Z");
    h.insert("ce-severity", "warning");
    h.insert("ce-subject", "api%20cert");
    h.insert("content-type", "application/json");
    let data = json!({"days_left": 3, "environment": "production"});
    publish_with_headers(&js, "cert.expiring", Some("ce-bin-1"), h, data.to_string()).await?;

    // Structured mode: the body is the JSON event format.
    let mut h = HeaderMap::new();
    h.insert("content-type", "application/cloudevents+json");
    let doc = json!({
        "specversion": "1.0", "id": "ce-str-1", "source": "/vault", "type": "cert.expired",
        "data": {"certificate": "web-cert"}
    });
    publish_with_headers(&js, "cert.expired", Some("ce-str-1"), h, doc.to_string()).await?;

    receiver.wait_for(2, SOON).await?;
    wait_idle(&js, "ce", "cert.>").await?;
    let reqs = receiver.requests();
    assert_eq!(reqs.len(), 2);

    let bin = reqs
        .iter()
        .find(|r| r.event_id() == Some("ce-bin-1"))
        .ok_or_else(|| anyhow::anyhow!("binary-mode event not delivered"))?;
    assert_eq!(bin.header("x-herald-event-type"), Some("cert.expiring"));
    let body = bin.json()?;
    assert_eq!(body["id"], "ce-bin-1");
    assert_eq!(body["type"], "cert.expiring");
    assert_eq!(body["source"], "/certifyclouds/scanner");
    assert_eq!(body["severity"], "warning");
    assert_eq!(
        body["resource"], "api cert",
        "ce-subject is percent-decoded"
    );
    assert_eq!(body["environment"], "production", "lifted from the data");
    assert_eq!(body["data"], data);
    assert!(
        body["time"]
            .as_str()
            .is_some_and(|t| t.starts_with("2025-01-02T03:04:05")),
        "{body}"
    );

    let st = reqs
        .iter()
        .find(|r| r.event_id() == Some("ce-str-1"))
        .ok_or_else(|| anyhow::anyhow!("structured-mode event not delivered"))?;
    let body = st.json()?;
    assert_eq!(body["type"], "cert.expired");
    assert_eq!(body["source"], "/vault");
    assert_eq!(body["resource"], "web-cert");
    Ok(())
}
