//! The demo's HTTP receiver: it accepts `POST /hooks/<destination>`, checks the
//! signature itself (Standard Webhooks or `sha256=<hex>` HMAC, written here from
//! the specifications, not with Herald's signer) and records what arrived.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

type HmacSha256 = Hmac<Sha256>;

/// Standard Webhooks: messages older or newer than this are refused (replay protection).
const TOLERANCE_SECS: i64 = 5 * 60;

/// How one destination's requests are checked.
#[derive(Clone)]
pub(crate) enum Verifier {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`,
    /// keyed by the decoded `whsec_` secret.
    StandardWebhooks {
        /// The key bytes.
        key: Vec<u8>,
    },
    /// `<header>: sha256=<hex>` over the body, keyed by the secret's bytes.
    HmacSha256 {
        /// The key bytes.
        key: Vec<u8>,
        /// The signature header.
        header: String,
    },
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.scheme())
    }
}

impl Verifier {
    /// The scheme's name as written in configuration.
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            Verifier::StandardWebhooks { .. } => "standard-webhooks",
            Verifier::HmacSha256 { .. } => "hmac-sha256",
        }
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), String> {
        match self {
            Verifier::StandardWebhooks { key } => verify_standard_webhooks(key, headers, body, now),
            Verifier::HmacSha256 { key, header } => verify_hmac_sha256(key, header, headers, body),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    headers
        .get(name)
        .ok_or_else(|| format!("no `{name}` header"))?
        .to_str()
        .map_err(|_| format!("`{name}` is not text"))
}

fn mac(key: &[u8]) -> Result<HmacSha256, String> {
    HmacSha256::new_from_slice(key).map_err(|_| "unusable key".to_string())
}

/// Checks a Standard Webhooks request: the timestamp is recent and one of the
/// `v1,` signatures is HMAC-SHA256 of `{id}.{timestamp}.{body}`.
pub(crate) fn verify_standard_webhooks(
    key: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), String> {
    let id = header(headers, "webhook-id")?;
    let ts_text = header(headers, "webhook-timestamp")?;
    let ts: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| format!("`webhook-timestamp` is not a number: {ts_text}"))?;
    if (now - ts).abs() > TOLERANCE_SECS {
        return Err(format!(
            "`webhook-timestamp` is {}s away from now",
            now - ts
        ));
    }
    let signatures = header(headers, "webhook-signature")?;
    for candidate in signatures.split_whitespace() {
        let Some(b64) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(sig) = STANDARD.decode(b64) else {
            continue;
        };
        let mut m = mac(key)?;
        m.update(id.as_bytes());
        m.update(b".");
        m.update(ts_text.trim().as_bytes());
        m.update(b".");
        m.update(body);
        if m.verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err("no `v1` signature matches".into())
}

/// Checks `<header>: sha256=<hex>` (HMAC-SHA256 of the body).
pub(crate) fn verify_hmac_sha256(
    key: &[u8],
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let value = header(headers, name)?;
    let hex_sig = value
        .strip_prefix("sha256=")
        .ok_or_else(|| format!("`{name}` does not start with `sha256=`"))?;
    let sig = hex::decode(hex_sig).map_err(|_| format!("`{name}` is not hex"))?;
    let mut m = mac(key)?;
    m.update(body);
    m.verify_slice(&sig)
        .map_err(|_| "the signature does not match".to_string())
}

/// One request received.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    /// The destination, from the path.
    pub(crate) destination: String,
    /// `X-Herald-Event-Id`.
    pub(crate) event_id: String,
    /// `X-Herald-Event-Type`.
    pub(crate) event_type: String,
    /// The signature scheme checked.
    pub(crate) scheme: &'static str,
    /// The signature check.
    pub(crate) signature: Result<(), String>,
    /// The body, parsed (`Null` when it is not JSON).
    pub(crate) body: Value,
}

struct Shared {
    verifiers: HashMap<String, Verifier>,
    arrivals: watch::Sender<Vec<Arrival>>,
}

/// The running receiver.
#[derive(Debug)]
pub(crate) struct Receiver {
    addr: SocketAddr,
    arrivals: watch::Receiver<Vec<Arrival>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn hook(
    State(shared): State<Arc<Shared>>,
    Path(destination): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(verifier) = shared.verifiers.get(&destination) else {
        return StatusCode::NOT_FOUND;
    };
    let signature = verifier.verify(&headers, &body, chrono::Utc::now().timestamp());
    let text = |name: &str| header(&headers, name).unwrap_or_default().to_string();
    let ok = signature.is_ok();
    let arrival = Arrival {
        destination,
        event_id: text("x-herald-event-id"),
        event_type: text("x-herald-event-type"),
        scheme: verifier.scheme(),
        signature,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    shared.arrivals.send_modify(|all| all.push(arrival));
    if ok {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    }
}

impl Receiver {
    /// Listens on a free loopback port; `verifiers` maps destination names to checks.
    ///
    /// # Errors
    /// When no port can be bound.
    pub(crate) async fn start(verifiers: HashMap<String, Verifier>) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot open the demo receiver")?;
        let addr = listener.local_addr()?;
        let (tx, arrivals) = watch::channel(Vec::new());
        let shared = Arc::new(Shared {
            verifiers,
            arrivals: tx,
        });
        let app = Router::new()
            .route("/hooks/{destination}", post(hook))
            .with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "The demo receiver stopped.");
            }
        });
        Ok(Self {
            addr,
            arrivals,
            stop,
            task,
        })
    }

    /// The URL a destination posts to.
    pub(crate) fn url_for(&self, destination: &str) -> String {
        format!("http://{}/hooks/{destination}", self.addr)
    }

    /// The base URL.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A handle on everything received so far, notified on each arrival.
    pub(crate) fn arrivals(&self) -> watch::Receiver<Vec<Arrival>> {
        self.arrivals.clone()
    }

    /// Stops listening.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// The official Standard Webhooks vectors (tests/fixtures, see SOURCES.md).
    #[test]
    fn standard_webhooks_vectors_verify() {
        let raw = include_str!("../../../../tests/fixtures/standard-webhooks-vectors.json");
        let doc: Value = serde_json::from_str(raw).unwrap();
        for v in doc["vectors"].as_array().unwrap() {
            let secret = v["secret"].as_str().unwrap();
            let key = STANDARD
                .decode(secret.strip_prefix("whsec_").unwrap())
                .unwrap();
            let ts = v["timestamp"].as_i64().unwrap();
            let h = headers(&[
                ("webhook-id", v["msg_id"].as_str().unwrap()),
                ("webhook-timestamp", &ts.to_string()),
                (
                    "webhook-signature",
                    v["expected_signature"].as_str().unwrap(),
                ),
            ]);
            let body = v["payload"].as_str().unwrap().as_bytes();
            assert_eq!(
                verify_standard_webhooks(&key, &h, body, ts),
                Ok(()),
                "{}",
                v["name"]
            );
            let mut tampered = body.to_vec();
            tampered.push(b' ');
            assert!(verify_standard_webhooks(&key, &h, &tampered, ts).is_err());
            assert!(verify_standard_webhooks(&key, &h, body, ts + 3600).is_err());
        }
    }

    #[test]
    fn herald_signatures_verify_and_forgeries_do_not() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        let signer = herald_webhook::StandardWebhooksKey::parse(secret).unwrap();
        let body = br#"{"a":1}"#;
        let sig = signer.sign("msg_1", 1_700_000_000, body);
        let h = headers(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", &format!("v1,Zm9v {sig}")),
        ]);
        assert_eq!(
            verify_standard_webhooks(&key, &h, body, 1_700_000_010),
            Ok(())
        );
        let forged = headers(&[
            ("webhook-id", "msg_2"),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", &sig),
        ]);
        assert!(verify_standard_webhooks(&key, &forged, body, 1_700_000_000).is_err());

        let hm = herald_webhook::hmac_sha256_hex(b"k3y", body);
        let h = headers(&[("x-herald-signature", &hm)]);
        assert_eq!(
            verify_hmac_sha256(b"k3y", "X-Herald-Signature", &h, body),
            Ok(())
        );
        assert!(verify_hmac_sha256(b"other", "X-Herald-Signature", &h, body).is_err());
        assert!(verify_hmac_sha256(b"k3y", "X-Missing", &h, body).is_err());
    }
}
