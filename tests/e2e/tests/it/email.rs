//! The `herald-email` worker end to end: a real nats-server, the worker binary,
//! and a real SMTP server (aiosmtpd, STARTTLS and AUTH required) whose mail is
//! read back as MIME, or local HTTP servers answering as Microsoft's token
//! endpoint and Graph `sendMail` do.

use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_core::jetstream::consumer_name;
use herald_core::receipts::{idempotency_key, receipt_key};
use herald_core::routing::SubjectPattern;
use herald_testkit::{
    ConfigFile, EVENT_STREAM, NatsServer, Receiver, Recorded, Reply, SmtpScript, SmtpServer,
    WorkerCommand, WorkerProcess, dead_letters, fleet, publish, seed_event, wait_for_consumer,
    wait_for_consumer_idle, wait_for_dead_letters, wait_until,
};
use serde_json::{Value, json};

use crate::support::SOON;

/// Allowance for timer granularity when checking a wait was honoured.
const TICK: Duration = Duration::from_millis(20);

/// An email destination for `rotation.>`: fast retries, no jitter, no pacing.
fn email(name: &str, transport: (&str, Value)) -> Value {
    let mut d = json!({
        "name": name,
        "channel": "email",
        "events": ["rotation.>"],
        "from": "Herald <herald@example.com>",
        "to": ["ops@example.com", "security@example.com"],
        "timeout": "10s",
        "retry": {"schedule": ["1s"], "jitter": 0},
        "rate_limit": {"per_second": 100, "burst": 100},
    });
    d[transport.0] = transport.1;
    d
}

fn smtp(server: &SmtpServer) -> (&'static str, Value) {
    (
        "smtp",
        json!({
            "host": "localhost",
            "port": server.port(),
            "username": server.username(),
            "password": server.password(),
            "ca_file": server.ca_file().display().to_string(),
        }),
    )
}

fn graph(receiver: &Receiver) -> (&'static str, Value) {
    (
        "graph",
        json!({
            "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "s3cr3t-value",
            "authority_url": receiver.base_url(),
            "graph_url": receiver.base_url(),
        }),
    )
}

fn consumer(destination: &str) -> Result<String> {
    let p = SubjectPattern::parse("rotation.>").map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(consumer_name("email", destination, &p))
}

async fn start(nats: &NatsServer, config: &ConfigFile, destination: &str) -> Result<WorkerProcess> {
    let worker = WorkerCommand::new("herald-email", config.path()).spawn()?;
    let js = nats.jetstream().await?;
    wait_for_consumer(&js, EVENT_STREAM, &consumer(destination)?, SOON)
        .await
        .with_context(|| format!("herald-email stderr:\n{}", worker.stderr()))?;
    Ok(worker)
}

async fn idle(nats: &NatsServer, destination: &str) -> Result<()> {
    let js = nats.jetstream().await?;
    wait_for_consumer_idle(&js, EVENT_STREAM, &consumer(destination)?, SOON).await
}

/// A seed event's subject and payload, with a new id.
fn seed(name: &str, id: &str) -> (String, Vec<u8>) {
    let s = seed_event(name);
    let mut json = s.json.clone();
    json["id"] = json!(id);
    (s.subject, json.to_string().into_bytes())
}

/// The header `name` of a received message, unfolded.
fn header(data: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let head = text.split("\r\n\r\n").next()?.replace("\r\n ", " ");
    head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_mail_arrives_with_a_stable_message_id_and_priority() -> Result<()> {
    let nats = NatsServer::start().await?;
    let server = SmtpServer::start().await?;
    let config = ConfigFile::write(&fleet(&nats.url(), &[email("ops-mail", smtp(&server))]))?;
    let worker = start(&nats, &config, "ops-mail").await?;
    let js = nats.jetstream().await?;

    let (subject, payload) = seed("dsops-rotation.failed", "e-smtp-1");
    publish(&js, &subject, "e-smtp-1", payload).await?;
    let m = server
        .wait_for_messages(1, SOON)
        .await
        .with_context(|| worker.stderr())?
        .remove(0);
    idle(&nats, "ops-mail").await?;

    assert!(m.tls && m.auth_user.as_deref() == Some("herald"));
    assert_eq!(m.rcpt_tos, ["ops@example.com", "security@example.com"]);
    let expected_id = format!("<{}@example.com>", idempotency_key("ops-mail", "e-smtp-1"));
    assert_eq!(header(&m.data, "Message-ID"), Some(expected_id.clone()));
    assert_eq!(
        header(&m.data, "Subject").as_deref(),
        Some("[dsops] Rotation Failed: postgres-prod (production)")
    );
    assert_eq!(
        header(&m.data, "X-Priority").as_deref(),
        Some("1 (Highest)")
    );
    assert_eq!(header(&m.data, "Importance").as_deref(), Some("high"));
    let text = String::from_utf8_lossy(&m.data);
    assert!(text.contains("Content-Type: multipart/alternative"));
    assert!(text.contains("Content-Type: text/plain; charset=utf-8"));
    assert!(text.contains("Content-Type: text/html; charset=utf-8"));

    let receipts = js.get_key_value("herald_receipts").await?;
    let entry = receipts
        .get(receipt_key("ops-mail", "e-smtp-1"))
        .await?
        .context("no receipt")?;
    let receipt: Value = serde_json::from_slice(&entry)?;
    assert_eq!(receipt["handle"], expected_id);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_4yz_is_retried_5yz_dead_lettered_and_refusals_recorded() -> Result<()> {
    let nats = NatsServer::start().await?;
    let server = SmtpServer::start().await?;
    server.script(
        &SmtpScript::default()
            .data(&["451 4.3.0 Try again later"])
            .refuse(
                "security@example.com",
                "550 5.1.1 <security@example.com>: User unknown",
            ),
    )?;
    let config = ConfigFile::write(&fleet(&nats.url(), &[email("ops-mail", smtp(&server))]))?;
    let worker = start(&nats, &config, "ops-mail").await?;
    let js = nats.jetstream().await?;

    let (subject, payload) = seed("dsops-rotation.completed", "e-451");
    publish(&js, &subject, "e-451", payload).await?;
    let m = server
        .wait_for_messages(1, SOON)
        .await
        .with_context(|| worker.stderr())?
        .remove(0);
    idle(&nats, "ops-mail").await?;
    assert_eq!(server.data_replies()[0], "451 4.3.0 Try again later");
    assert_eq!(
        m.rcpt_tos,
        ["ops@example.com"],
        "the refused recipient is skipped"
    );
    let receipts = js.get_key_value("herald_receipts").await?;
    let entry = receipts
        .get(receipt_key("ops-mail", "e-451"))
        .await?
        .context("no receipt")?;
    let receipt: Value = serde_json::from_slice(&entry)?;
    let handle = receipt["handle"].as_str().unwrap_or_default();
    assert!(
        handle.contains("refused: security@example.com (permanent error (550)"),
        "{handle}"
    );
    assert_eq!(receipt["attempt"], 2);
    wait_until(SOON, "the refusal to be logged", || async {
        worker.stderr().contains("Some recipients were refused")
    })
    .await?;

    server.script(&SmtpScript::default().data(&["554 5.7.1 Message rejected as spam"]))?;
    let (subject, payload) = seed("dsops-rotation.rollback", "e-554");
    publish(&js, &subject, "e-554", payload).await?;
    let letters = wait_for_dead_letters(&js, 1, SOON)
        .await
        .with_context(|| worker.stderr())?;
    let d = &letters[0];
    assert_eq!(d.subject, "herald.dlq.email.ops-mail");
    assert_eq!(d.reason(), Some("permanent"));
    assert_eq!(d.status(), Some(554));
    assert!(
        d.response().is_some_and(|r| r.contains("rejected as spam")),
        "{:?}",
        d.response()
    );
    assert_eq!(server.messages()?.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_server_down_then_up() -> Result<()> {
    let nats = NatsServer::start().await?;
    let mut server = SmtpServer::start().await?;
    let config = ConfigFile::write(&fleet(&nats.url(), &[email("ops-mail", smtp(&server))]))?;
    let worker = start(&nats, &config, "ops-mail").await?;
    let js = nats.jetstream().await?;

    server.stop()?;
    let (subject, payload) = seed("dsops-rotation.started", "e-down");
    publish(&js, &subject, "e-down", payload).await?;
    wait_until(
        SOON,
        "a failed attempt while the server is down",
        || async { worker.stderr().contains("will retry") },
    )
    .await
    .with_context(|| worker.stderr())?;
    assert!(server.messages()?.is_empty());
    server.restart().await?;
    server
        .wait_for_messages(1, SOON)
        .await
        .with_context(|| worker.stderr())?;
    idle(&nats, "ops-mail").await?;
    assert!(dead_letters(&js).await?.is_empty());
    Ok(())
}

/// Microsoft's token endpoint and `sendMail`, with scripted `sendMail` answers first.
fn microsoft(receiver: &Receiver) {
    receiver.respond_with(|r: &Recorded| {
        Some(if r.path.ends_with("/oauth2/v2.0/token") {
            Reply::ok().header("content-type", "application/json").body(
                &json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "token-1"})
                    .to_string(),
            )
        } else {
            Reply::status(202)
        })
    });
}

fn sends(receiver: &Receiver) -> Vec<Recorded> {
    receiver
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/sendMail"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_429_waits_for_retry_after_and_a_5xx_is_retried() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    microsoft(&receiver);
    // The token request takes the first scripted answer's place, so script after it.
    let mut dest = email("graph-mail", graph(&receiver));
    dest["from"] = json!("Herald <noreply@example.com>");
    let config = ConfigFile::write(&fleet(&nats.url(), &[dest]))?;
    let worker = start(&nats, &config, "graph-mail").await?;
    let js = nats.jetstream().await?;

    receiver.push(
        Reply::ok()
            .header("content-type", "application/json")
            .body(r#"{"token_type":"Bearer","expires_in":3599,"access_token":"token-1"}"#),
    );
    receiver.push_all([
        Reply::status(429)
            .header("content-type", "application/json")
            .header("retry-after", "3")
            .body(r#"{"error":{"code":"TooManyRequests","message":"Please retry again later."}}"#),
        Reply::status(503).body("Service Unavailable"),
    ]);
    let (subject, payload) = seed("dsops-rotation.completed", "e-graph-429");
    publish(&js, &subject, "e-graph-429", payload).await?;
    wait_until(SOON, "three sendMail requests", || async {
        sends(&receiver).len() >= 3
    })
    .await
    .with_context(|| worker.stderr())?;
    idle(&nats, "graph-mail").await?;

    let s = sends(&receiver);
    let gap = s[1].arrived - s[0].arrived;
    assert!(
        gap + TICK >= Duration::from_secs(3),
        "retried {gap:?} after Retry-After: 3"
    );
    let gap = s[2].arrived - s[1].arrived;
    assert!(
        gap + TICK >= Duration::from_secs(1),
        "retried {gap:?} after a 503"
    );
    assert_eq!(s.len(), 3);
    assert_eq!(s[2].header("authorization"), Some("Bearer token-1"));
    let body = s[2].json()?;
    assert_eq!(
        body["message"]["internetMessageId"],
        format!(
            "<{}@example.com>",
            idempotency_key("graph-mail", "e-graph-429")
        )
    );
    assert!(dead_letters(&js).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_403_is_dead_lettered_with_its_code_and_reported_broken() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    receiver.respond_with(|r: &Recorded| {
        Some(if r.path.ends_with("/oauth2/v2.0/token") {
            Reply::ok().header("content-type", "application/json").body(
                &json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "token-1"})
                    .to_string(),
            )
        } else {
            Reply::status(403).header("content-type", "application/json").body(
                r#"{"error":{"code":"ErrorAccessDenied","message":"Access is denied. Check credentials and try again."}}"#,
            )
        })
    });
    let config = ConfigFile::write(&fleet(&nats.url(), &[email("denied", graph(&receiver))]))?;
    let worker = start(&nats, &config, "denied").await?;
    let js = nats.jetstream().await?;

    let (subject, payload) = seed("dsops-rotation.failed", "e-graph-403");
    publish(&js, &subject, "e-graph-403", payload).await?;
    let letters = wait_for_dead_letters(&js, 1, SOON)
        .await
        .with_context(|| worker.stderr())?;
    let d = &letters[0];
    assert_eq!(d.subject, "herald.dlq.email.denied");
    assert_eq!(d.status(), Some(403));
    assert!(
        d.error().is_some_and(|e| e.contains("ErrorAccessDenied")),
        "{:?}",
        d.error()
    );
    assert!(
        d.response()
            .is_some_and(|r| r.contains("ErrorAccessDenied"))
    );
    assert_eq!(sends(&receiver).len(), 1, "a 403 is not tried again");
    wait_until(SOON, "the broken destination to be logged", || async {
        worker.stderr().contains("The destination is broken")
    })
    .await
    .with_context(|| worker.stderr())?;
    Ok(())
}
