//! The `herald-discord` worker end to end: a real nats-server, the worker binary,
//! and a local HTTP server answering as Discord's webhooks do (`?wait=true`
//! message answers, `X-RateLimit-*` headers, JSON error bodies).

use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_core::receipts::receipt_key;
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Recorded, Reply, WorkerCommand, WorkerProcess, fleet,
    publish, seed_event, wait_for_dead_letters,
};
use serde_json::{Value, json};

use crate::support::{SOON, spawn_ready, wait_broken_logged, wait_channel_idle};

/// Allowance for timer granularity when checking a wait was honoured.
const TICK: Duration = Duration::from_millis(20);

/// A Discord destination for `rotation.>` posting to `url`: fast retries, no
/// jitter, one delivery at a time, no proactive pacing beyond Discord's headers.
fn discord(name: &str, url: &str) -> Value {
    json!({
        "name": name,
        "channel": "discord",
        "events": ["rotation.>"],
        "webhook_url": url,
        "timeout": "5s",
        "concurrency": 1,
        "retry": {"schedule": ["1s"], "jitter": 0},
        "rate_limit": {"per_second": 100, "burst": 100},
    })
}

/// Starts `herald-discord` on `config` and waits for its consumer.
async fn start(nats: &NatsServer, config: &ConfigFile, destination: &str) -> Result<WorkerProcess> {
    let js = nats.jetstream().await?;
    let command = WorkerCommand::new("herald-discord", config.path());
    spawn_ready(&command, &js, "discord", &[(destination, "rotation.>")]).await
}

async fn idle(nats: &NatsServer, destination: &str) -> Result<()> {
    let js = nats.jetstream().await?;
    wait_channel_idle(&js, "discord", destination, "rotation.>").await
}

/// A seed event's subject and payload, with a new id.
fn seed(name: &str, id: &str) -> (String, Vec<u8>) {
    let s = seed_event(name);
    let mut json = s.json.clone();
    json["id"] = json!(id);
    (s.subject, json.to_string().into_bytes())
}

/// Discord's answer to `?wait=true`: the message, with rate-limit headers.
fn message(id: &str, remaining: &str, reset_after: &str) -> Reply {
    Reply::ok()
        .header("content-type", "application/json")
        .header("x-ratelimit-limit", "5")
        .header("x-ratelimit-remaining", remaining)
        .header("x-ratelimit-reset-after", reset_after)
        .header("x-ratelimit-bucket", "e2e")
        .body(&json!({"id": id, "type": 0, "channel_id": "900", "webhook_id": "1"}).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_webhooks_get_an_embed_and_the_message_id_is_kept() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    receiver.respond_with(|r: &Recorded| {
        // Discord only returns the message with wait=true.
        Some(if r.path.contains("wait=true") {
            message("1180000000000000042", "4", "1")
        } else {
            Reply::status(204)
        })
    });
    let mut dest = discord("ops-discord", &format!("{}?thread_id=77", receiver.url()));
    dest["mentions"] = json!({"on_failure": ["<@&555>"]});
    let config = ConfigFile::write(&fleet(&nats.url(), &[dest]))?;
    let worker = start(&nats, &config, "ops-discord").await?;
    let js = nats.jetstream().await?;

    let (subject, payload) = seed("dsops-rotation.failed", "d-ok");
    publish(&js, &subject, "d-ok", payload).await?;
    let req = receiver
        .wait_for(1, SOON)
        .await
        .with_context(|| worker.stderr())?
        .remove(0);
    idle(&nats, "ops-discord").await?;

    assert_eq!(req.path, "/hook?thread_id=77&wait=true");
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json()?;
    assert_eq!(body["content"], "<@&555>");
    assert_eq!(
        body["allowed_mentions"],
        json!({"parse": [], "roles": ["555"]})
    );
    let embed = &body["embeds"][0];
    assert_eq!(embed["title"], "❌ Rotation Failed: postgres-prod");
    assert_eq!(embed["color"], 0x00EF_4444);
    assert_eq!(embed["timestamp"], "2026-11-23T14:30:41Z");
    let receipts = js.get_key_value("herald_receipts").await?;
    let entry = receipts
        .get(receipt_key("ops-discord", "d-ok"))
        .await?
        .context("no receipt")?;
    let receipt: Value = serde_json::from_slice(&entry)?;
    assert_eq!(receipt["handle"], "1180000000000000042");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_webhook_is_dead_lettered_and_reported_broken() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(
        Reply::status(404)
            .header("content-type", "application/json")
            .body(r#"{"message": "Unknown Webhook", "code": 10015}"#),
    )
    .await?;
    let config = ConfigFile::write(&fleet(&nats.url(), &[discord("deleted", &receiver.url())]))?;
    let worker = start(&nats, &config, "deleted").await?;
    let js = nats.jetstream().await?;

    let (subject, payload) = seed("dsops-rotation.completed", "d-404");
    publish(&js, &subject, "d-404", payload).await?;
    let letters = wait_for_dead_letters(&js, 1, SOON)
        .await
        .with_context(|| worker.stderr())?;
    idle(&nats, "deleted").await?;

    let d = &letters[0];
    assert_eq!(d.subject, "herald.dlq.discord.deleted");
    assert_eq!(d.reason(), Some("permanent"));
    assert_eq!(d.status(), Some(404));
    assert!(
        d.response().is_some_and(|r| r.contains("10015")),
        "{:?}",
        d.response()
    );
    assert!(
        d.error().is_some_and(|e| e.contains("Unknown Webhook")),
        "{:?}",
        d.error()
    );
    assert_eq!(receiver.count(), 1, "a 404 webhook is not tried again");
    wait_broken_logged(&worker).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_the_json_retry_after_and_a_5xx_is_retried() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(message("1180000000000000043", "4", "1")).await?;
    // No Retry-After header: only the JSON body says how long to wait.
    receiver.push_all([
        Reply::status(429)
            .header("content-type", "application/json")
            .header("x-ratelimit-scope", "user")
            .body(r#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#),
        Reply::status(502).body("<html>bad gateway</html>"),
    ]);
    let config = ConfigFile::write(&fleet(&nats.url(), &[discord("busy", &receiver.url())]))?;
    let worker = start(&nats, &config, "busy").await?;
    let js = nats.jetstream().await?;

    let (subject, payload) = seed("dsops-rotation.completed", "d-429");
    publish(&js, &subject, "d-429", payload).await?;
    let reqs = receiver
        .wait_for(3, SOON)
        .await
        .with_context(|| worker.stderr())?;
    idle(&nats, "busy").await?;

    let gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        gap + TICK >= Duration::from_millis(2500),
        "retried {gap:?} after a 429 asking for 2.5 s"
    );
    let gap = reqs[2].arrived - reqs[1].arrived;
    assert!(
        gap + TICK >= Duration::from_secs(1),
        "retried {gap:?} after a 502"
    );
    assert_eq!(receiver.count(), 3);
    assert!(herald_testkit::dead_letters(&js).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_holds_the_next_message_until_the_reset() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(message("1180000000000000045", "4", "1")).await?;
    receiver.push(message("1180000000000000044", "0", "2"));
    let config = ConfigFile::write(&fleet(&nats.url(), &[discord("paced", &receiver.url())]))?;
    let worker = start(&nats, &config, "paced").await?;
    let js = nats.jetstream().await?;

    for id in ["d-first", "d-second"] {
        let (subject, payload) = seed("dsops-rotation.completed", id);
        publish(&js, &subject, id, payload).await?;
    }
    let reqs = receiver
        .wait_for(2, SOON)
        .await
        .with_context(|| worker.stderr())?;
    idle(&nats, "paced").await?;

    let gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        gap + TICK >= Duration::from_secs(2),
        "the second message came {gap:?} after Discord said the budget resets in 2 s"
    );
    assert_eq!(receiver.count(), 2, "no 429 was needed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_compatible_url_gets_the_attachments_format() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::ok().body("ok")).await?;
    let url = format!("{}/slack", receiver.url());
    let config = ConfigFile::write(&fleet(&nats.url(), &[discord("compat", &url)]))?;
    let worker = start(&nats, &config, "compat").await?;
    let js = nats.jetstream().await?;

    // The seed keeps its own `type`; it is published where the destination listens.
    let (_, payload) = seed("certifyclouds-secret.expiring", "d-slack");
    publish(&js, "rotation.completed", "d-slack", payload).await?;
    let req = receiver
        .wait_for(1, SOON)
        .await
        .with_context(|| worker.stderr())?
        .remove(0);
    idle(&nats, "compat").await?;

    assert_eq!(req.path, "/hook/slack?wait=true");
    let body = req.json()?;
    assert!(body.get("embeds").is_none());
    let a = &body["attachments"][0];
    assert_eq!(a["color"], "#F97316");
    assert_eq!(a["title"], "⚠️ Secrets Expiring Soon: kv-production");
    assert_eq!(a["footer"], "certifyclouds · secret.expiring");
    assert_eq!(
        a["fields"][1],
        json!({"title": "Vault", "value": "kv-production", "short": true})
    );
    Ok(())
}
