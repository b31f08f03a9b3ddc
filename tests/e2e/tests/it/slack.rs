//! The `herald-slack` worker end to end: a real nats-server, the worker binary,
//! and a local HTTP server answering as Slack's incoming webhooks and Web API do.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_core::receipts::receipt_key;
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Recorded, Reply, WorkerCommand, WorkerProcess, fleet,
    publish, seed_event, wait_for_dead_letters, wait_until,
};
use serde_json::{Value, json};

use crate::support::{SOON, spawn_ready, wait_channel_idle};

/// Allowance for timer granularity when checking a wait was honoured.
const TICK: Duration = Duration::from_millis(20);

/// A Slack destination for `rotation.>`: fast retries, no jitter, no pacing.
fn slack(name: &str, keys: &Value) -> Value {
    let mut d = json!({
        "name": name,
        "channel": "slack",
        "events": ["rotation.>"],
        "timeout": "5s",
        "retry": {"schedule": ["1s"], "jitter": 0},
        "rate_limit": {"per_second": 100, "burst": 100},
    });
    if let (Some(d), Some(k)) = (d.as_object_mut(), keys.as_object()) {
        d.extend(k.clone());
    }
    d
}

/// Starts `herald-slack` on `config` and waits for its consumer.
async fn start(nats: &NatsServer, config: &ConfigFile, destination: &str) -> Result<WorkerProcess> {
    let js = nats.jetstream().await?;
    let command = WorkerCommand::new("herald-slack", config.path());
    spawn_ready(&command, &js, "slack", &[(destination, "rotation.>")]).await
}

async fn idle(nats: &NatsServer, destination: &str) -> Result<()> {
    let js = nats.jetstream().await?;
    wait_channel_idle(&js, "slack", destination, "rotation.>").await
}

/// A seed event's payload with some keys replaced.
fn seed(name: &str, changes: &Value) -> (String, String, Vec<u8>) {
    let s = seed_event(name);
    let mut json = s.json.clone();
    if let (Some(j), Some(c)) = (json.as_object_mut(), changes.as_object()) {
        j.extend(c.clone());
    }
    let id = json["id"].as_str().unwrap_or_default().to_owned();
    (s.subject, id, json.to_string().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gets_block_kit_with_the_seed_text() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::ok().body("ok")).await?;
    let dest = slack(
        "ops-slack",
        &json!({"webhook_url": receiver.url(), "message_prefix": "[PROD]",
                "mentions": {"on_failure": ["@here"]}}),
    );
    let config = ConfigFile::write(&fleet(&nats.url(), &[dest]))?;
    let worker = start(&nats, &config, "ops-slack").await?;
    let js = nats.jetstream().await?;

    let (subject, id, payload) = seed("dsops-rotation.failed", &json!({}));
    publish(&js, &subject, &id, payload).await?;
    let req = receiver
        .wait_for(1, SOON)
        .await
        .with_context(|| worker.stderr())?
        .remove(0);
    idle(&nats, "ops-slack").await?;

    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hook");
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json()?;
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(
            "❌ [PROD] Rotation Failed: postgres-prod\n\nEnvironment: production\nStrategy: two-key\nError: Connection verification failed"
        ),
        "{text}"
    );
    assert!(text.ends_with("\n\n<!here>"), "{text}");
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(receiver.count(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_error_bodies_are_dead_lettered_and_a_dead_webhook_is_reported() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    // Slack's answers, by the event in the request.
    receiver.respond_with(|r: &Recorded| {
        let text = r.text();
        Some(if text.contains("Rotation Failed") {
            Reply::status(400).body("invalid_payload")
        } else {
            Reply::status(404).body("channel_not_found")
        })
    });
    let dest = slack("gone", &json!({"webhook_url": receiver.url()}));
    let config = ConfigFile::write(&fleet(&nats.url(), &[dest]))?;
    let worker = start(&nats, &config, "gone").await?;
    let js = nats.jetstream().await?;

    let (subject, _, payload) = seed("dsops-rotation.failed", &json!({"id": "bad-payload"}));
    publish(&js, &subject, "bad-payload", payload).await?;
    let (subject, _, payload) = seed("dsops-rotation.completed", &json!({"id": "no-channel"}));
    publish(&js, &subject, "no-channel", payload).await?;
    let letters = wait_for_dead_letters(&js, 2, SOON)
        .await
        .with_context(|| worker.stderr())?;
    idle(&nats, "gone").await?;

    let by_id = |id: &str| {
        letters
            .iter()
            .find(|l| l.header("Herald-Dlq-Msg-Id") == Some(id))
            .with_context(|| format!("no dead letter for {id}"))
    };
    let bad = by_id("bad-payload")?;
    assert_eq!(bad.subject, "herald.dlq.slack.gone");
    assert_eq!(bad.reason(), Some("permanent"));
    assert_eq!(bad.status(), Some(400));
    assert_eq!(bad.response(), Some("invalid_payload"));
    let gone = by_id("no-channel")?;
    assert_eq!(gone.status(), Some(404));
    assert_eq!(gone.response(), Some("channel_not_found"));
    assert_eq!(gone.attempts(), Some(1));
    assert_eq!(receiver.count(), 2, "permanent failures are not retried");
    wait_until(SOON, "the broken destination to be logged", || async {
        let logs = worker.stderr();
        logs.contains("The destination is broken") && logs.contains("channel_not_found")
    })
    .await
    .with_context(|| worker.stderr())?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_retry_after_and_a_5xx_is_retried() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::ok().body("ok")).await?;
    receiver.push_all([
        Reply::status(429).header("Retry-After", "2"),
        Reply::status(500).body("rollup_error"),
    ]);
    let mut dest = slack("busy", &json!({"webhook_url": receiver.url()}));
    dest["concurrency"] = json!(1);
    let config = ConfigFile::write(&fleet(&nats.url(), &[dest]))?;
    let worker = start(&nats, &config, "busy").await?;
    let js = nats.jetstream().await?;

    let (subject, id, payload) = seed("dsops-rotation.completed", &json!({}));
    publish(&js, &subject, &id, payload).await?;
    let reqs = receiver
        .wait_for(3, SOON)
        .await
        .with_context(|| worker.stderr())?;
    idle(&nats, "busy").await?;

    let gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        gap + TICK >= Duration::from_secs(2),
        "retried {gap:?} after a 429 with Retry-After: 2"
    );
    let gap = reqs[2].arrived - reqs[1].arrived;
    assert!(
        gap + TICK >= Duration::from_secs(1),
        "retried {gap:?} after a 500, before the 1 s schedule"
    );
    assert_eq!(receiver.count(), 3, "429, 500, then delivered once");
    assert!(herald_testkit::dead_letters(&js).await?.is_empty());
    Ok(())
}

/// A local Web API: `chat.postMessage` assigns `ts` values in order and
/// `chat.update` edits; both check the bearer token and the JSON body, and
/// answer `{"ok": false, "error": ...}` as Slack does when something is wrong.
fn web_api(receiver: &Receiver) -> Arc<Mutex<u32>> {
    let posted = Arc::new(Mutex::new(0u32));
    let counter = posted.clone();
    receiver.respond_with(move |r: &Recorded| {
        let answer = |v: Value| {
            Some(
                Reply::ok()
                    .header("content-type", "application/json; charset=utf-8")
                    .body(&v.to_string()),
            )
        };
        if r.header("authorization") != Some("Bearer xoxb-e2e-token") {
            return answer(json!({"ok": false, "error": "invalid_auth"}));
        }
        if !r
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
        {
            return answer(json!({"ok": false, "error": "invalid_form_data"}));
        }
        let Ok(body) = r.json() else {
            return answer(json!({"ok": false, "error": "invalid_json"}));
        };
        if body["text"].as_str().is_none_or(str::is_empty) && body.get("blocks").is_none() {
            return answer(json!({"ok": false, "error": "no_text"}));
        }
        match r.path.as_str() {
            "/api/chat.postMessage" => {
                let mut n = counter
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *n += 1;
                answer(json!({
                    "ok": true,
                    "channel": "C0E2E",
                    "ts": format!("1700000000.{:06}", *n),
                    "message": {"text": body["text"]},
                }))
            }
            "/api/chat.update" if body["channel"] == "C0E2E" && body["ts"].is_string() => answer(
                json!({"ok": true, "channel": "C0E2E", "ts": body["ts"], "text": body["text"]}),
            ),
            "/api/chat.update" => answer(json!({"ok": false, "error": "message_not_found"})),
            _ => answer(json!({"ok": false, "error": "unknown_method"})),
        }
    });
    posted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_threads_a_rotation_across_a_worker_restart() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    web_api(&receiver);
    let dest = slack(
        "ops-thread",
        &json!({
            "token": "xoxb-e2e-token",
            "slack_channel": "#ops-alerts",
            "api_url": format!("{}/api", receiver.base_url()),
        }),
    );
    let mut doc = fleet(&nats.url(), &[dest]);
    doc["worker"]["ack_wait"] = json!("10s");
    let config = ConfigFile::write(&doc)?;
    let js = nats.jetstream().await?;

    // started: the thread's first message.
    let mut first = start(&nats, &config, "ops-thread").await?;
    let (subject, started_id, payload) = seed("dsops-rotation.started", &json!({}));
    publish(&js, &subject, &started_id, payload).await?;
    receiver
        .wait_for(1, SOON)
        .await
        .with_context(|| first.stderr())?;
    idle(&nats, "ops-thread").await?;
    first.kill()?;

    // A new process: the thread is found in the key-value memory.
    let second = start(&nats, &config, "ops-thread").await?;
    let (subject, completed_id, payload) = seed("dsops-rotation.completed", &json!({}));
    publish(&js, &subject, &completed_id, payload).await?;
    receiver
        .wait_for(3, SOON)
        .await
        .with_context(|| second.stderr())?;
    idle(&nats, "ops-thread").await?;

    // A failure older than the completion (a retried event arriving late): it
    // joins the thread, but the first message keeps showing the completion.
    let (subject, late_id, payload) = seed(
        "dsops-rotation.failed",
        &json!({"id": "late-failure", "time": "2026-11-23T14:31:00Z"}),
    );
    publish(&js, &subject, &late_id, payload).await?;
    receiver
        .wait_for(4, SOON)
        .await
        .with_context(|| second.stderr())?;
    idle(&nats, "ops-thread").await?;

    let reqs = receiver.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.postMessage"
        ],
        "{}",
        second.stderr()
    );
    let parent = reqs[0].json()?;
    assert_eq!(parent["channel"], "#ops-alerts");
    assert!(parent.get("thread_ts").is_none());
    assert!(
        parent["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("ℹ️ Rotation Started: postgres-prod"))
    );
    let reply = reqs[1].json()?;
    assert_eq!(reply["channel"], "C0E2E");
    assert_eq!(reply["thread_ts"], "1700000000.000001");
    let update = reqs[2].json()?;
    assert_eq!(update["channel"], "C0E2E");
    assert_eq!(update["ts"], "1700000000.000001");
    assert!(
        update["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("✅ Rotation Completed: postgres-prod"))
    );
    let late = reqs[3].json()?;
    assert_eq!(late["thread_ts"], "1700000000.000001");
    assert!(
        late["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("❌ Rotation Failed"))
    );
    assert!(
        second.stderr().contains("first message left as it is"),
        "the stale event is logged: {}",
        second.stderr()
    );

    // The Slack ts is kept with each idempotency receipt.
    let receipts = js.get_key_value("herald_receipts").await?;
    for (id, ts) in [
        (started_id.as_str(), "1700000000.000001"),
        (completed_id.as_str(), "1700000000.000002"),
        (late_id.as_str(), "1700000000.000003"),
    ] {
        let entry = receipts
            .get(receipt_key("ops-thread", id))
            .await?
            .with_context(|| format!("no receipt for {id}"))?;
        let receipt: Value = serde_json::from_slice(&entry)?;
        assert_eq!(receipt["handle"], ts, "{id}");
    }
    Ok(())
}
