//! End-to-end tests of the `herald-pagerduty` worker: a real nats-server, the
//! worker binary, and a local HTTP server that behaves as PagerDuty's Events API
//! v2 documents: `202` with the `dedup_key`; `400` with `errors`; one open alert
//! per routing key and `dedup_key` (repeated triggers add to it, a resolve
//! closes it, a trigger after a resolve opens a new one, a resolve with no open
//! alert does nothing).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Recorded, Reply, WorkerCommand, WorkerProcess, publish,
    seed_event, wait_for_dead_letters, wait_until, write_fleet_config,
};
use serde_json::{Value, json};

use crate::support::{SOON, consumers_of, spawn_ready, wait_channel_idle};

/// Allowance for timer granularity when checking a wait.
const SLACK: Duration = Duration::from_millis(20);

const KEY: &str = "R0UT1NGKEY0000000000000000000000";

// === The fake PagerDuty ===

/// One alert, as PagerDuty keeps it.
#[derive(Debug, Clone, Default)]
struct Alert {
    /// Incidents opened for this key so far (a trigger after a resolve opens another).
    incidents: u32,
    /// True while an incident is open.
    open: bool,
    /// Triggers received for it (a repeat adds to the open incident).
    triggers: u32,
    /// Resolves that closed it.
    resolves: u32,
}

/// PagerDuty's state: alerts by (routing key, dedup key).
#[derive(Debug, Default)]
struct Events {
    alerts: BTreeMap<(String, String), Alert>,
}

type Shared = Arc<Mutex<Events>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Events> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

fn invalid(errors: &[&str]) -> Reply {
    Reply::status(400).body(
        &json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors})
            .to_string(),
    )
}

/// Answers one request as the Events API does, updating `state`.
fn events_api(state: &Shared, r: &Recorded) -> Reply {
    let Ok(b) = r.json() else {
        return Reply::status(400).body(
            r#"{"status":"Unrecognized object","message":"Event object format is unrecognized","errors":["JSON parse error"]}"#,
        );
    };
    let routing_key = b["routing_key"].as_str().unwrap_or_default().to_owned();
    if routing_key != KEY {
        return invalid(&["Invalid routing key"]);
    }
    let action = b["event_action"].as_str().unwrap_or_default();
    let dedup = b["dedup_key"].as_str().map(str::to_owned);
    let mut errors = Vec::new();
    match action {
        "trigger" => {
            let p = &b["payload"];
            if p["summary"]
                .as_str()
                .is_none_or(|s| s.is_empty() || s.chars().count() > 1024)
            {
                errors.push("'payload.summary' is missing, blank or too long");
            }
            if p["source"].as_str().is_none_or(str::is_empty) {
                errors.push("'payload.source' is missing or blank");
            }
            if !["critical", "error", "warning", "info"]
                .contains(&p["severity"].as_str().unwrap_or_default())
            {
                errors.push("'payload.severity' is invalid");
            }
        }
        "resolve" | "acknowledge" if dedup.is_none() => {
            errors.push("'dedup_key' is required");
        }
        "resolve" | "acknowledge" => {}
        _ => errors.push("'event_action' is invalid"),
    }
    if dedup.as_ref().is_some_and(|d| d.chars().count() > 255) {
        errors.push("Length of 'dedup_key' is too long");
    }
    if !errors.is_empty() {
        return invalid(&errors);
    }
    let dedup = dedup.unwrap_or_else(|| format!("generated-{}", r.index));
    let mut s = lock(state);
    let alert = s.alerts.entry((routing_key, dedup.clone())).or_default();
    match action {
        "trigger" => {
            if !alert.open {
                alert.open = true;
                alert.incidents += 1;
            }
            alert.triggers += 1;
        }
        "resolve" if alert.open => {
            alert.open = false;
            alert.resolves += 1;
        }
        _ => {}
    }
    Reply::status(202).body(
        &json!({"status": "success", "message": "Event processed", "dedup_key": dedup}).to_string(),
    )
}

/// A receiver that answers as PagerDuty (after any scripted replies).
async fn fake_pagerduty() -> Result<(Receiver, Shared)> {
    let receiver = Receiver::start().await?;
    let state = Shared::default();
    let s = state.clone();
    receiver.respond_with(move |r| Some(events_api(&s, r)));
    Ok((receiver, state))
}

fn alert(state: &Shared, dedup_key: &str) -> Alert {
    lock(state)
        .alerts
        .get(&(KEY.to_owned(), dedup_key.to_owned()))
        .cloned()
        .unwrap_or_default()
}

// === The worker ===

/// A PagerDuty destination for `events` posting to `url`: 5 s timeout, retries
/// after 1 s without jitter.
fn pagerduty(name: &str, url: &str, events: &[&str]) -> Value {
    json!({
        "name": name,
        "channel": "pagerduty",
        "events": events,
        "routing_key": KEY,
        "events_url": url,
        "timeout": "5s",
        "retry": {"schedule": ["1s"], "jitter": 0},
    })
}

/// Starts `herald-pagerduty` on one destination and waits for its consumers.
async fn start(nats: &NatsServer, dest: &Value) -> Result<(WorkerProcess, ConfigFile)> {
    let destinations = std::slice::from_ref(dest);
    let config = write_fleet_config(&nats.url(), destinations)?;
    let js = nats.jetstream().await?;
    let command = WorkerCommand::new("herald-pagerduty", config.path());
    let worker = spawn_ready(&command, &js, "pagerduty", &consumers_of(destinations)).await?;
    Ok((worker, config))
}

async fn wait_idle(js: &async_nats::jetstream::Context, destination: &str) -> Result<()> {
    wait_channel_idle(js, "pagerduty", destination, "rotation.>").await
}

/// Publishes seed event `name`, optionally with another id and time.
async fn publish_seed(
    js: &async_nats::jetstream::Context,
    name: &str,
    id_and_time: Option<(&str, &str)>,
) -> Result<String> {
    let s = seed_event(name);
    let mut doc = s.json.clone();
    if let Some((id, time)) = id_and_time {
        doc["id"] = json!(id);
        doc["time"] = json!(time);
    }
    let id = doc["id"].as_str().unwrap_or_default().to_owned();
    publish(js, &s.subject, &id, doc.to_string()).await?;
    Ok(id)
}

const DEDUP: &str = "herald-rot-2026-11-23-abc123";

fn action(r: &Recorded) -> String {
    r.json()
        .ok()
        .and_then(|b| b["event_action"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

// === The tests ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_triggers_and_the_completion_resolves() -> Result<()> {
    let nats = NatsServer::start().await?;
    let (receiver, state) = fake_pagerduty().await?;
    let mut dest = pagerduty("oncall", &receiver.url(), &["rotation.>"]);
    dest["auto_resolve"] = json!(true);
    dest["custom_details"] = json!({"team": "platform-engineering"});
    let (worker, _config) = start(&nats, &dest).await?;
    let js = nats.jetstream().await?;

    publish_seed(&js, "dsops-rotation.failed", None).await?;
    publish_seed(&js, "dsops-rotation.completed", None).await?;
    let reqs = receiver
        .wait_for(2, SOON)
        .await
        .with_context(|| format!("worker stderr:\n{}", worker.stderr()))?;
    wait_idle(&js, "oncall").await?;

    let trigger = reqs[0].json()?;
    let resolve = reqs[1].json()?;
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(
        trigger["payload"]["summary"],
        "dsops rotation failed: postgres-prod (production)"
    );
    assert_eq!(
        trigger["payload"]["custom_details"]["team"],
        "platform-engineering"
    );
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(trigger["dedup_key"], DEDUP);
    assert_eq!(resolve["dedup_key"], DEDUP, "the same dedup_key");
    assert_eq!(
        resolve["routing_key"], trigger["routing_key"],
        "and routing key"
    );
    let a = alert(&state, DEDUP);
    assert_eq!((a.incidents, a.open, a.resolves), (1, false, 1), "{a:?}");
    assert_eq!(receiver.count(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_triggers_keep_one_incident() -> Result<()> {
    let nats = NatsServer::start().await?;
    let (receiver, state) = fake_pagerduty().await?;
    let (_worker, _config) = start(
        &nats,
        &pagerduty("oncall", &receiver.url(), &["rotation.>"]),
    )
    .await?;
    let js = nats.jetstream().await?;

    publish_seed(&js, "dsops-rotation.failed", None).await?;
    publish_seed(&js, "dsops-rotation.rollback", None).await?;
    publish_seed(
        &js,
        "dsops-rotation.failed",
        Some(("dsops-rot-abc123-failed-again", "2026-11-23T14:35:00Z")),
    )
    .await?;
    receiver.wait_for(3, SOON).await?;
    wait_idle(&js, "oncall").await?;

    let a = alert(&state, DEDUP);
    assert_eq!((a.incidents, a.triggers, a.open), (1, 3, true), "{a:?}");
    assert_eq!(lock(&state).alerts.len(), 1, "one alert in all");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_event_is_dead_lettered_with_the_errors() -> Result<()> {
    let nats = NatsServer::start().await?;
    let (receiver, state) = fake_pagerduty().await?;
    let mut dest = pagerduty("wrong-key", &receiver.url(), &["rotation.>"]);
    dest["routing_key"] = json!("NOT-THE-KEY");
    let (worker, _config) = start(&nats, &dest).await?;
    let js = nats.jetstream().await?;

    let id = publish_seed(&js, "dsops-rotation.failed", None).await?;
    let letters = wait_for_dead_letters(&js, 1, SOON).await?;
    wait_idle(&js, "wrong-key").await?;

    let d = &letters[0];
    assert_eq!(d.subject, "herald.dlq.pagerduty.wrong-key");
    assert_eq!(d.reason(), Some("permanent"));
    assert_eq!(d.status(), Some(400));
    assert_eq!(d.header("Herald-Dlq-Msg-Id"), Some(id.as_str()));
    assert!(
        d.response()
            .is_some_and(|r| r.contains("\"errors\"") && r.contains("Invalid routing key")),
        "{:?}",
        d.response()
    );
    assert!(
        d.error().is_some_and(|e| e.contains("Invalid routing key")),
        "{:?}",
        d.error()
    );
    assert_eq!(receiver.count(), 1, "a 400 is not retried");
    assert!(lock(&state).alerts.is_empty());
    assert!(
        worker.stderr().contains("broken"),
        "an invalid key breaks the destination"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_retry_after_and_a_502_is_retried() -> Result<()> {
    let nats = NatsServer::start().await?;
    let (receiver, state) = fake_pagerduty().await?;
    receiver.push_all([
        Reply::status(429)
            .header("Retry-After", "2")
            .body(r#"{"status":"throttle exceeded","message":"Requests for this service are arriving too quickly. Please retry later."}"#),
        Reply::status(502).body("<html><body>502 Bad Gateway</body></html>"),
    ]);
    let (_worker, _config) = start(
        &nats,
        &pagerduty("oncall", &receiver.url(), &["rotation.>"]),
    )
    .await?;
    let js = nats.jetstream().await?;

    publish_seed(&js, "dsops-rotation.failed", None).await?;
    let reqs = receiver.wait_for(3, SOON).await?;
    wait_idle(&js, "oncall").await?;

    let throttled_gap = reqs[1].arrived - reqs[0].arrived;
    assert!(
        throttled_gap + SLACK >= Duration::from_secs(2),
        "retried after {throttled_gap:?}, before Retry-After: 2"
    );
    assert!(reqs[2].arrived - reqs[1].arrived + SLACK >= Duration::from_secs(1));
    assert!(
        reqs.iter().all(|r| r.body == reqs[0].body),
        "the same event each time"
    );
    let a = alert(&state, DEDUP);
    assert_eq!((a.incidents, a.triggers), (1, 1), "{a:?}");
    assert_eq!(receiver.count(), 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_timeout_adds_to_the_same_incident() -> Result<()> {
    let nats = NatsServer::start().await?;
    let (receiver, state) = fake_pagerduty().await?;
    // PagerDuty takes the first trigger but answers after the worker gave up.
    let s = state.clone();
    receiver.respond_with(move |r| {
        let reply = events_api(&s, r);
        Some(if r.index == 0 {
            reply.after(Duration::from_secs(3))
        } else {
            reply
        })
    });
    let mut dest = pagerduty("oncall", &receiver.url(), &["rotation.>"]);
    dest["timeout"] = json!("1s");
    let (_worker, _config) = start(&nats, &dest).await?;
    let js = nats.jetstream().await?;

    publish_seed(&js, "dsops-rotation.failed", None).await?;
    receiver.wait_for(2, SOON).await?;
    wait_idle(&js, "oncall").await?;

    let a = alert(&state, DEDUP);
    assert_eq!((a.incidents, a.triggers, a.open), (1, 2, true), "{a:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_trigger_retried_after_the_resolve_does_not_reopen() -> Result<()> {
    let nats = NatsServer::start().await?;
    let (receiver, state) = fake_pagerduty().await?;
    // PagerDuty is unavailable for triggers until the resolve has come in,
    // so the trigger's retry always arrives after its resolve.
    let s = state.clone();
    let resolved = Arc::new(Mutex::new(false));
    let seen = resolved.clone();
    receiver.respond_with(move |r| {
        let mut done = seen.lock().unwrap_or_else(PoisonError::into_inner);
        match action(r).as_str() {
            "trigger" if !*done => Some(Reply::status(503).body("Service Unavailable")),
            "resolve" => {
                *done = true;
                Some(events_api(&s, r))
            }
            _ => Some(events_api(&s, r)),
        }
    });
    let mut dest = pagerduty("oncall", &receiver.url(), &["rotation.>"]);
    dest["auto_resolve"] = json!(true);
    let (worker, _config) = start(&nats, &dest).await?;
    let js = nats.jetstream().await?;

    publish_seed(&js, "dsops-rotation.failed", None).await?;
    receiver.wait_for(1, SOON).await?;
    publish_seed(&js, "dsops-rotation.completed", None).await?;
    wait_until(SOON, "the resolve to arrive", || async {
        receiver.requests().iter().any(|r| action(r) == "resolve")
    })
    .await?;
    wait_idle(&js, "oncall").await?;

    let actions: Vec<String> = receiver.requests().iter().map(action).collect();
    let resolve_at = actions
        .iter()
        .position(|a| a == "resolve")
        .context("no resolve")?;
    assert!(
        actions[..resolve_at].iter().all(|a| a == "trigger") && actions.len() == resolve_at + 1,
        "the stale trigger reached PagerDuty after the resolve: {actions:?}"
    );
    let a = alert(&state, DEDUP);
    assert_eq!(
        (a.incidents, a.open),
        (0, false),
        "no incident was opened: {a:?}"
    );
    assert!(
        worker.stderr().contains("Skipping a stale event"),
        "the skip is logged: {}",
        worker.stderr()
    );

    // A new failure, later than the resolve, still opens an incident.
    publish_seed(
        &js,
        "dsops-rotation.failed",
        Some(("dsops-rot-abc123-failed-later", "2026-11-23T15:10:00Z")),
    )
    .await?;
    wait_until(SOON, "the new incident", || async {
        alert(&state, DEDUP).incidents == 1
    })
    .await?;
    wait_idle(&js, "oncall").await?;
    assert!(alert(&state, DEDUP).open);
    Ok(())
}
