//! Signed deliveries, verified with an HMAC computed here, not by the signing code.

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_testkit::{NatsServer, Receiver, event, publish, webhook, write_fleet_config};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::support::{SOON, start_worker};

type HmacSha256 = Hmac<Sha256>;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn mac(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>> {
    let mut m = HmacSha256::new_from_slice(key).context("HMAC key")?;
    for p in parts {
        m.update(p);
    }
    Ok(m.finalize().into_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_webhooks_signature_verifies() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut dest = webhook("signed", &receiver.url(), &["rotation.>"]);
    dest["signing"] = json!({"scheme": "standard-webhooks", "secret": SECRET});
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let before = chrono_now();
    publish(
        &js,
        "rotation.failed",
        "sig-1",
        event("sig-1", &json!({"resource": "postgres-prod"})),
    )
    .await?;
    let req = receiver.wait_for(1, SOON).await?.remove(0);

    let id = req.header("webhook-id").context("no webhook-id")?;
    let ts = req
        .header("webhook-timestamp")
        .context("no webhook-timestamp")?;
    let sig = req
        .header("webhook-signature")
        .context("no webhook-signature")?;
    assert!(id.starts_with("msg_"), "webhook-id {id}");
    let ts_num: i64 = ts.parse()?;
    assert!(
        (before - 5..=chrono_now() + 5).contains(&ts_num),
        "timestamp {ts_num} is not now ({before})"
    );

    let key = STANDARD.decode(SECRET.trim_start_matches("whsec_"))?;
    let expected = STANDARD.encode(mac(
        &key,
        &[id.as_bytes(), b".", ts.as_bytes(), b".", &req.body],
    )?);
    let offered: Vec<&str> = sig
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .collect();
    assert!(!offered.is_empty(), "no v1 signature in {sig}");
    assert!(
        offered.contains(&expected.as_str()),
        "signature {sig} does not match the HMAC computed here (v1,{expected})"
    );
    // The check is not vacuous: a changed body no longer verifies.
    let tampered = STANDARD.encode(mac(
        &key,
        &[id.as_bytes(), b".", ts.as_bytes(), b".", b"{}"],
    )?);
    assert!(!offered.contains(&tampered.as_str()));

    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hook");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.event_id(), Some("sig-1"));
    let body = req.json()?;
    assert_eq!(body["id"], "sig-1");
    assert_eq!(body["type"], "rotation.failed");
    assert_eq!(body["resource"], "postgres-prod");
    assert_eq!(receiver.count(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_sha256_signature_verifies() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut dest = webhook("headwind", &receiver.url(), &["update.>"]);
    dest["signing"] = json!({
        "scheme": "hmac-sha256",
        "secret": "your-secret-key",
        "header": "X-Headwind-Signature",
    });
    let config = write_fleet_config(&nats.url(), &[dest])?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    publish(
        &js,
        "update.completed",
        "hw-1",
        event("hw-1", &json!({"deployment": {"name": "nginx"}})),
    )
    .await?;
    let req = receiver.wait_for(1, SOON).await?.remove(0);

    let sig = req
        .header("x-headwind-signature")
        .context("no X-Headwind-Signature")?;
    let expected: String = mac(b"your-secret-key", &[&req.body])?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sig, format!("sha256={expected}"));
    assert!(
        req.header("webhook-id")
            .is_some_and(|id| id.starts_with("msg_"))
    );
    assert_eq!(req.json()?["id"], "hw-1");
    Ok(())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
