//! `send` over Microsoft Graph against local HTTP servers that answer as
//! Microsoft documents: the token endpoint (client secret and certificate
//! assertions, `expires_in`), `sendMail` (202, 429 with `Retry-After`, 401
//! `InvalidAuthenticationToken` for an expired token, 400/403/404 error bodies),
//! and the limit of four concurrent requests per mailbox.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use herald_core::config::FleetConfig;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::worker::prepare;
use herald_core::{Channel, DeliveryContext, Envelope, Outcome};
use herald_email::{Email, MAILBOX_CONCURRENCY};
use herald_testkit::{Receiver, Recorded, Reply, seed_event};
use serde_json::{Value, json};

const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
const SEND_PATH: &str = "/v1.0/users/noreply%40example%2Ecom/sendMail";

fn email(server: &Receiver, auth: &str) -> Email {
    let yaml = format!(
        "destinations:\n  - name: ops-mail\n    channel: email\n    events: [\"rotation.>\"]\n    from: Herald <noreply@example.com>\n    to: [ops@example.com]\n    timeout: 10s\n    graph:\n      tenant_id: contoso.onmicrosoft.com\n      client_id: 11111111-2222-3333-4444-555555555555\n      authority_url: {base}\n      graph_url: {base}\n{auth}",
        base = server.base_url()
    );
    let config = FleetConfig::from_yaml(&yaml, "t.yaml").expect("the test configuration");
    prepare::<Email>(&config, "t.yaml")
        .expect("the destination builds")
        .remove(0)
        .channel
}

const SECRET: &str = "      client_secret: s3cr3t-value\n";

fn event(id: &str) -> Envelope {
    let s = seed_event("mazevault-cert.expiring");
    let mut json = s.json.clone();
    json["id"] = id.into();
    ingest(
        &RawEvent {
            subject: &s.subject,
            payload: json.to_string().as_bytes(),
            headers: None,
            published: Utc::now(),
        },
        IngestLimits::default(),
    )
    .expect("the seed ingests")
}

async fn send(channel: &Email, id: &str) -> Outcome {
    let e = event(id);
    let ctx = DeliveryContext::one_off("ops-mail", &e.id, Utc::now());
    let payload = channel.render(&e, &ctx).expect("renders");
    channel.send(&payload, &ctx).await
}

/// The form fields of a token request.
fn form(r: &Recorded) -> HashMap<String, String> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

fn token_reply(token: &str, expires_in: u64) -> Reply {
    Reply::ok().header("content-type", "application/json").body(
        &json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token})
            .to_string(),
    )
}

fn graph_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::status(status)
        .header("content-type", "application/json")
        .body(&json!({"error": {"code": code, "message": message}}).to_string())
}

/// A Microsoft stand-in: tokens `token-1`, `token-2`, ... from the token
/// endpoint; `sendMail` answers 202 to a known token, else `fallback`.
fn microsoft(server: &Receiver, expired: &'static [&'static str]) {
    let issued = Arc::new(Mutex::new(0u32));
    server.respond_with(move |r: &Recorded| {
        if r.path == TOKEN_PATH {
            let mut n = issued.lock().expect("not poisoned");
            *n += 1;
            return Some(token_reply(&format!("token-{n}"), 3599));
        }
        if r.path == SEND_PATH {
            let auth = r.header("authorization").unwrap_or_default();
            if expired.iter().any(|t| auth == format!("Bearer {t}")) {
                return Some(graph_error(
                    401,
                    "InvalidAuthenticationToken",
                    "Lifetime validation failed, the token is expired.",
                ));
            }
            return Some(Reply::status(202));
        }
        Some(Reply::status(404))
    });
}

#[tokio::test]
async fn client_secret_token_is_fetched_once_and_the_mail_is_accepted() {
    let server = Receiver::start().await.unwrap();
    microsoft(&server, &[]);
    let channel = email(&server, SECRET);
    let outcome = send(&channel, "g-1").await;
    let Outcome::Delivered { handle, status, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(status, Some(202));
    assert!(handle.unwrap().ends_with("@example.com>"));
    assert!(matches!(
        send(&channel, "g-2").await,
        Outcome::Delivered { .. }
    ));
    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [TOKEN_PATH, SEND_PATH, SEND_PATH],
        "the token is cached"
    );
    let f = form(&reqs[0]);
    assert_eq!(f["grant_type"], "client_credentials");
    assert_eq!(f["client_id"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(f["client_secret"], "s3cr3t-value");
    assert_eq!(f["scope"], format!("{}/.default", server.base_url()));
    let send = &reqs[1];
    assert_eq!(send.method, "POST");
    assert_eq!(send.header("authorization"), Some("Bearer token-1"));
    assert_eq!(send.header("content-type"), Some("application/json"));
    let body = send.json().unwrap();
    assert_eq!(
        body["message"]["subject"],
        "[mazevault] Certificate Expiring: CN=api.example.com (production)"
    );
    assert_eq!(body["message"]["importance"], "normal");
    assert_eq!(body["saveToSentItems"], false);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_send_tried_once_more() {
    let server = Receiver::start().await.unwrap();
    microsoft(&server, &["token-1"]);
    let channel = email(&server, SECRET);
    let outcome = send(&channel, "g-expired").await;
    assert!(
        matches!(
            outcome,
            Outcome::Delivered {
                status: Some(202),
                ..
            }
        ),
        "{outcome:?}"
    );
    let reqs = server.requests();
    let auths: Vec<(&str, Option<&str>)> = reqs
        .iter()
        .map(|r| (r.path.as_str(), r.header("authorization")))
        .collect();
    assert_eq!(
        auths,
        [
            (TOKEN_PATH, None),
            (SEND_PATH, Some("Bearer token-1")),
            (TOKEN_PATH, None),
            (SEND_PATH, Some("Bearer token-2")),
        ]
    );
    // A token refused twice is a broken destination.
    let server = Receiver::start().await.unwrap();
    microsoft(&server, &["token-1", "token-2"]);
    match send(&email(&server, SECRET), "g-revoked").await {
        Outcome::Permanent(f) => {
            assert!(
                f.broken && f.reason.contains("InvalidAuthenticationToken"),
                "{f:?}"
            );
            assert_eq!(f.status, Some(401));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn graph_errors_carry_their_code_and_429_its_retry_after() {
    let server = Receiver::start().await.unwrap();
    microsoft(&server, &[]);
    let channel = email(&server, SECRET);
    server.push(token_reply("token-a", 3599));
    server.push_all([
        graph_error(429, "TooManyRequests", "Please retry again later.").header("retry-after", "7"),
        Reply::status(503).body("Service Unavailable"),
        graph_error(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient is not valid.",
        ),
        graph_error(
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        graph_error(
            404,
            "ErrorInvalidUser",
            "The requested user 'noreply@example.com' is invalid.",
        ),
    ]);
    match send(&channel, "g-429").await {
        Outcome::Retry(f) => {
            assert!(f.throttled);
            assert_eq!(f.retry_after, Some(Duration::from_secs(7)));
            assert!(f.reason.contains("TooManyRequests"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(send(&channel, "g-503").await, Outcome::Retry(ref f) if f.status == Some(503))
    );
    for (code, broken) in [
        ("ErrorInvalidRecipients", false),
        ("ErrorAccessDenied", true),
        ("ErrorInvalidUser", true),
    ] {
        match send(&channel, code).await {
            Outcome::Permanent(f) => {
                assert!(f.reason.contains(code), "{f:?}");
                assert!(f.excerpt.as_deref().unwrap_or_default().contains(code));
                assert_eq!(f.broken, broken, "{code}");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn refused_credentials_at_the_token_endpoint_break_the_destination() {
    let server = Receiver::start_with_default(
        Reply::status(401).header("content-type", "application/json").body(
            &json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 0000",
                "error_codes": [7_000_215]
            })
            .to_string(),
        ),
    )
    .await
    .unwrap();
    match send(&email(&server, SECRET), "g-bad-secret").await {
        Outcome::Permanent(f) => {
            assert!(f.broken);
            assert!(f.reason.contains("invalid_client: AADSTS7000215"), "{f:?}");
            assert!(!f.reason.contains("s3cr3t"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.count(), 1, "sendMail is not tried without a token");
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn certificate_credentials_send_a_signed_assertion() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=herald-test-app",
        ],
    );
    let public = openssl(
        d,
        &[
            "rsa",
            "-in",
            "key.pem",
            "-RSAPublicKey_out",
            "-outform",
            "DER",
        ],
    );
    let fingerprint = String::from_utf8(openssl(
        d,
        &["x509", "-in", "cert.pem", "-noout", "-fingerprint", "-sha1"],
    ))
    .unwrap();
    let thumbprint = hex::decode(
        fingerprint
            .trim()
            .rsplit('=')
            .next()
            .unwrap()
            .replace(':', ""),
    )
    .unwrap();

    let server = Receiver::start().await.unwrap();
    microsoft(&server, &[]);
    let auth = format!(
        "      auth: certificate\n      certificate: {{from: {{file: {}}}}}\n      private_key: {{from: {{file: {}}}}}\n",
        d.join("cert.pem").display(),
        d.join("key.pem").display()
    );
    let channel = email(&server, &auth);
    let outcome = send(&channel, "g-cert").await;
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");

    let f = form(&server.requests()[0]);
    assert!(!f.contains_key("client_secret"));
    assert_eq!(
        f["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let jwt = &f["client_assertion"];
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode(&thumbprint));
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["aud"], format!("{}{TOKEN_PATH}", server.base_url()));
    assert_eq!(claims["iss"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(claims["sub"], claims["iss"]);
    let now = Utc::now().timestamp();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > now && exp <= now + 600, "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    // The signature verifies with the certificate's public key, read by openssl.
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public,
    );
    key.verify(
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
    .expect("the assertion's signature verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_four_requests_at_once_per_mailbox() {
    let server = Receiver::start().await.unwrap();
    server.respond_with(|r: &Recorded| {
        Some(if r.path == TOKEN_PATH {
            token_reply("token-c", 3599)
        } else {
            Reply::status(202).after(Duration::from_millis(300))
        })
    });
    let channel = Arc::new(email(&server, SECRET));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let c = channel.clone();
        tasks.push(tokio::spawn(async move {
            send(&c, &format!("g-par-{i}")).await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Outcome::Delivered { .. }));
    }
    let sends: Vec<Recorded> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == SEND_PATH)
        .collect();
    assert_eq!(sends.len(), 10);
    let most = sends
        .iter()
        .map(|r| {
            sends
                .iter()
                .filter(|o| o.arrived <= r.arrived && o.answered.is_some_and(|a| a > r.arrived))
                .count()
        })
        .max()
        .unwrap();
    assert!(most <= MAILBOX_CONCURRENCY, "{most} requests at once");
    assert!(most >= 2, "the sends did overlap ({most})");
}
