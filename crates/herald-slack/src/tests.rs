use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use herald_testkit::{Receiver, Recorded, Reply, envelope, example_settings, try_destination};
use serde_json::{Value, json};

fn build(yaml_tail: &str) -> Result<Slack, String> {
    try_destination("ops", yaml_tail)
}

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off("ops", "e1", chrono::Utc::now())
}

fn event(subject: &str, json: &str) -> Envelope {
    envelope(subject, json.as_bytes(), chrono::Utc::now())
}

fn completed() -> Envelope {
    event(
        "rotation.completed",
        r#"{"id":"c1","service":"postgres-prod","environment":"production",
            "fields":[{"title":"Strategy","value":"two-key"},{"title":"Duration","value":"45s"},
                      {"title":"New version","value":"2025-12-09-1430"}]}"#,
    )
}

fn failed() -> Envelope {
    event(
        "rotation.failed",
        r#"{"id":"f1","service":"postgres-prod","environment":"production",
            "fields":[{"title":"Error","value":"Connection verification failed"},
                      {"title":"Suggestion","value":"Check database connectivity and credentials"},
                      {"title":"Rollback","value":"Automatic rollback initiated"}]}"#,
    )
}

#[test]
fn the_text_reads_like_the_dsops_seed() {
    let s = build(
        "    webhook_url: https://hooks.slack.com/services/T1/B2/xyz\n    message_prefix: \"[PROD]\"\n    mentions: {on_failure: [\"@here\", S0123ABCD]}\n",
    )
    .unwrap();
    let ok = s.render(&completed(), &ctx()).unwrap();
    assert_eq!(
        ok.message["text"],
        "✅ [PROD] Rotation Completed: postgres-prod\n\nEnvironment: production\nStrategy: two-key\nDuration: 45s\nNew version: 2025-12-09-1430"
    );
    let bad = s.render(&failed(), &ctx()).unwrap();
    assert_eq!(
        bad.message["text"],
        "❌ [PROD] Rotation Failed: postgres-prod\n\nEnvironment: production\nError: Connection verification failed\nSuggestion: Check database connectivity and credentials\nRollback: Automatic rollback initiated\n\n<!here> <!subteam^S0123ABCD>"
    );
    let blocks = bad.message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        blocks
            .iter()
            .any(|b| b["text"]["text"] == "<!here> <!subteam^S0123ABCD>"),
        "the mentions have their own block"
    );
    assert!(ok.thread.is_none(), "webhooks do not thread");
}

#[test]
fn overrides_and_attachments_follow_the_settings() {
    let s = build(
        "    webhook_url: https://hooks.slack.com/services/T1/B2/xyz\n    format: attachments\n    slack_channel: \"#ops-alerts\"\n    username: Herald\n    icon_emoji: \":rocket:\"\n",
    )
    .unwrap();
    let m = s.render(&failed(), &ctx()).unwrap().message;
    assert_eq!(m["channel"], "#ops-alerts");
    assert_eq!(m["username"], "Herald");
    assert_eq!(m["icon_emoji"], ":rocket:");
    assert!(m.get("text").is_none(), "no mentions, no top-level text");
    let a = &m["attachments"][0];
    assert_eq!(a["color"], "#EF4444");
    assert_eq!(a["title"], "❌ Rotation Failed: postgres-prod");
    assert_eq!(
        a["fields"][1],
        json!({"title": "Error", "value": "Connection verification failed", "short": true})
    );
    assert_eq!(a["ts"], failed().time.timestamp());
}

#[test]
fn build_errors_name_the_field() {
    let e = build("    slack_channel: \"#x\"\n").unwrap_err();
    assert!(e.contains("webhook_url") && e.contains("or `token`"), "{e}");
    let e = build("    token: xoxb-1\n").unwrap_err();
    assert!(e.contains("destinations[ops].slack_channel"), "{e}");
    let e = build("    token: xoxb-1\n    webhook_url: https://x\n").unwrap_err();
    assert!(e.contains("not both"), "{e}");
    let e = build("    webhook_url: ftp://x\n").unwrap_err();
    assert!(
        e.contains("f.yaml:5:") && e.contains("http or https"),
        "{e}"
    );
    let e = build("    webhook_url: https://x\n    mentions: {on_failure: [\"@oncall\"]}\n")
        .unwrap_err();
    assert!(
        e.contains("f.yaml:6:") && e.contains("mentions.on_failure[0]") && e.contains("@oncall"),
        "{e}"
    );
    let e = build("    webhook_url: https://x\n    format: markdown\n").unwrap_err();
    assert!(e.contains("f.yaml:6:"), "{e}");
    let e = build("    webhook_url: https://x\n    icon_emoji: rocket\n").unwrap_err();
    assert!(e.contains("icon_emoji"), "{e}");
    let e = build("    webhook_url: https://x\n    colour: red\n").unwrap_err();
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e = build("    webhook_url: {from: {env: HERALD_TEST_SURELY_UNSET}}\n").unwrap_err();
    assert!(e.contains("HERALD_TEST_SURELY_UNSET"), "{e}");
}

#[test]
fn previews_hide_the_webhook_and_the_token() {
    let s = build("    webhook_url: https://hooks.slack.com/services/T1/B2/s3cr3t\n").unwrap();
    let p = s.preview(&s.render(&completed(), &ctx()).unwrap());
    assert_eq!(p.target, "https://hooks.slack.com/…");
    assert!(!format!("{p:?} {s:?}").contains("s3cr3t"));
    let s = build("    token: xoxb-s3cr3t\n    slack_channel: C0123\n").unwrap();
    let p = s.preview(&s.render(&completed(), &ctx()).unwrap());
    assert_eq!(p.target, "https://slack.com/api/chat.postMessage");
    assert!(p.body.contains(r#""channel":"C0123""#));
    assert!(!format!("{p:?} {s:?}").contains("s3cr3t"));
}

#[test]
fn env_only_configuration() {
    let vars = [
        ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/x"),
        ("SLACK_CHANNEL", "#deployments"),
        ("SLACK_USERNAME", "Headwind Bot"),
        ("SLACK_MENTIONS_ON_FAILURE", "@here, S0123ABCD"),
        ("HERALD_EVENTS", "update.>"),
    ];
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    };
    let d = Slack::env_destination(&get).unwrap();
    assert_eq!(d["webhook_url"]["from"]["env"], "SLACK_WEBHOOK_URL");
    assert_eq!(d["slack_channel"], "#deployments");
    assert_eq!(d["username"], "Headwind Bot");
    assert_eq!(d["events"], json!(["update.>"]));
    assert_eq!(d["mentions"]["on_failure"], json!(["@here", "S0123ABCD"]));
    assert!(Slack::env_destination(&|_| None).is_none());
    let disabled = |k: &str| match k {
        "SLACK_ENABLED" => Some("false".to_owned()),
        other => get(other),
    };
    assert!(Slack::env_destination(&disabled).is_none());
    let bot = |k: &str| match k {
        "SLACK_BOT_TOKEN" => Some("xoxb-1".to_owned()),
        _ => None,
    };
    assert_eq!(
        Slack::env_destination(&bot).unwrap()["token"]["from"]["env"],
        "SLACK_BOT_TOKEN"
    );
}

#[tokio::test]
async fn webhook_sends_are_classified_from_a_real_server() {
    let r = Receiver::start().await.unwrap();
    r.push_all([
        Reply::ok().body("ok"),
        Reply::status(404).body("channel_not_found"),
        Reply::status(400).body("invalid_payload"),
        Reply::status(429).header("Retry-After", "4"),
        Reply::status(500).body("rollup_error"),
    ]);
    let s = build(&format!("    webhook_url: {}\n", r.url())).unwrap();
    let req = s.render(&completed(), &ctx()).unwrap();
    assert!(matches!(
        s.send(&req, &ctx()).await,
        Outcome::Delivered {
            status: Some(200),
            ..
        }
    ));
    let Outcome::Permanent(f) = s.send(&req, &ctx()).await else {
        panic!("404")
    };
    assert!(f.broken && f.status == Some(404), "{f:?}");
    let Outcome::Permanent(f) = s.send(&req, &ctx()).await else {
        panic!("400")
    };
    assert!(!f.broken && f.excerpt.as_deref() == Some("invalid_payload"));
    let Outcome::Retry(f) = s.send(&req, &ctx()).await else {
        panic!("429")
    };
    assert!(f.throttled && f.retry_after == Some(Duration::from_secs(4)));
    assert!(matches!(s.send(&req, &ctx()).await, Outcome::Retry(_)));
    let first = &r.requests()[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/hook");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.json().unwrap(), Value::Object(req.message.clone()));
}

/// A local server that answers as `chat.postMessage` and `chat.update` do:
/// checks the bearer token and the JSON, assigns `ts` values in order.
fn slack_api(r: &Receiver) -> Arc<Mutex<u32>> {
    let counter = Arc::new(Mutex::new(0u32));
    let c = counter.clone();
    r.respond_with(move |req: &Recorded| {
        let ok = |v: Value| Some(Reply::ok().header("content-type", "application/json").body(&v.to_string()));
        if req.header("authorization") != Some("Bearer xoxb-test") {
            return ok(json!({"ok": false, "error": "invalid_auth"}));
        }
        let Ok(body) = req.json() else {
            return ok(json!({"ok": false, "error": "invalid_json"}));
        };
        match req.path.as_str() {
            "/api/chat.postMessage" => {
                let mut n = c.lock().unwrap();
                *n += 1;
                ok(json!({"ok": true, "channel": "C0HERALD", "ts": format!("1700000000.{:06}", *n), "message": body}))
            }
            "/api/chat.update" if body["channel"] == "C0HERALD" => {
                ok(json!({"ok": true, "channel": "C0HERALD", "ts": body["ts"], "text": body["text"]}))
            }
            "/api/chat.update" => ok(json!({"ok": false, "error": "channel_not_found"})),
            _ => ok(json!({"ok": false, "error": "unknown_method"})),
        }
    });
    counter
}

fn lifecycle(kind: &str, id: &str, time: &str) -> Envelope {
    event(
        &format!("rotation.{kind}"),
        &format!(
            r#"{{"id":"{id}","service":"pg","environment":"production","correlation":"rot-1","time":"{time}"}}"#
        ),
    )
}

#[tokio::test]
async fn web_api_threads_a_lifecycle_and_never_regresses_the_parent() {
    let r = Receiver::start().await.unwrap();
    slack_api(&r);
    let s = build(&format!(
        "    token: xoxb-test\n    slack_channel: \"#ops\"\n    api_url: {}/api\n",
        r.base_url()
    ))
    .unwrap();
    let memory = ctx().memory;
    let ctx_for = |id: &str| DeliveryContext {
        memory: memory.clone(),
        ..DeliveryContext::one_off("ops", id, chrono::Utc::now())
    };
    let s = &s;
    let send = |e: Envelope| {
        let c = ctx_for(&e.id);
        let req = s.render(&e, &c).unwrap();
        async move { s.send(&req, &c).await }
    };

    let started = send(lifecycle("started", "s", "2026-01-01T10:00:00Z")).await;
    assert_eq!(
        started,
        Outcome::Delivered {
            handle: Some("1700000000.000001".into()),
            status: Some(200),
            hold: None
        }
    );
    let completed = send(lifecycle("completed", "c", "2026-01-01T10:05:00Z")).await;
    assert!(
        matches!(completed, Outcome::Delivered { handle: Some(ref h), .. } if h == "1700000000.000002")
    );
    // Older than what the parent shows: a reply only.
    let late = send(lifecycle("failed", "f", "2026-01-01T10:01:00Z")).await;
    assert!(
        matches!(late, Outcome::Delivered { handle: Some(ref h), .. } if h == "1700000000.000003")
    );

    let reqs = r.requests();
    let paths: Vec<&str> = reqs.iter().map(|q| q.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.postMessage"
        ]
    );
    let first = reqs[0].json().unwrap();
    assert_eq!(first["channel"], "#ops");
    assert!(first.get("thread_ts").is_none());
    let reply = reqs[1].json().unwrap();
    assert_eq!(reply["channel"], "C0HERALD");
    assert_eq!(reply["thread_ts"], "1700000000.000001");
    let update = reqs[2].json().unwrap();
    assert_eq!(update["ts"], "1700000000.000001");
    assert!(
        update["text"]
            .as_str()
            .unwrap()
            .starts_with("✅ Rotation Completed")
    );
    assert!(update.get("thread_ts").is_none() && update.get("username").is_none());
    let late_reply = reqs[3].json().unwrap();
    assert_eq!(late_reply["thread_ts"], "1700000000.000001");
}

#[tokio::test]
async fn a_failed_parent_edit_is_retried_without_a_second_reply() {
    let r = Receiver::start().await.unwrap();
    slack_api(&r);
    let s = build(&format!(
        "    token: xoxb-test\n    slack_channel: \"#ops\"\n    api_url: {}/api\n",
        r.base_url()
    ))
    .unwrap();
    let c1 = ctx();
    let c2 = DeliveryContext {
        memory: c1.memory.clone(),
        ..DeliveryContext::one_off("ops", "c", chrono::Utc::now())
    };
    let e1 = lifecycle("started", "s", "2026-01-01T10:00:00Z");
    s.send(&s.render(&e1, &c1).unwrap(), &c1).await;
    let e2 = lifecycle("completed", "c", "2026-01-01T10:05:00Z");
    let req2 = s.render(&e2, &c2).unwrap();
    // The reply goes through; the edit meets a 503.
    r.push_all([
        Reply::ok().body(r#"{"ok":true,"channel":"C0HERALD","ts":"1700000000.000099"}"#),
        Reply::status(503).body("upstream"),
    ]);
    assert!(matches!(s.send(&req2, &c2).await, Outcome::Retry(_)));
    assert!(matches!(
        s.send(&req2, &c2).await,
        Outcome::Delivered { handle: Some(ref h), .. } if h == "1700000000.000099"
    ));
    let paths: Vec<String> = r.requests().iter().map(|q| q.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.update"
        ]
    );
}

#[tokio::test]
async fn web_api_errors_are_classified() {
    let r = Receiver::start().await.unwrap();
    r.push_all([
        Reply::ok().body(r#"{"ok":false,"error":"channel_not_found"}"#),
        Reply::status(429)
            .header("Retry-After", "3")
            .body(r#"{"ok":false,"error":"ratelimited"}"#),
        Reply::ok().body(r#"{"ok":false,"error":"invalid_blocks"}"#),
    ]);
    let s = build(&format!(
        "    token: xoxb-test\n    slack_channel: C1\n    threads: false\n    api_url: {}/api\n",
        r.base_url()
    ))
    .unwrap();
    let req = s.render(&completed(), &ctx()).unwrap();
    let Outcome::Permanent(f) = s.send(&req, &ctx()).await else {
        panic!()
    };
    assert!(f.broken && f.reason.contains("channel_not_found"));
    let Outcome::Retry(f) = s.send(&req, &ctx()).await else {
        panic!()
    };
    assert!(f.throttled && f.retry_after == Some(Duration::from_secs(3)));
    let Outcome::Permanent(f) = s.send(&req, &ctx()).await else {
        panic!()
    };
    assert!(!f.broken);
    assert_eq!(
        r.requests()[0].header("authorization"),
        Some("Bearer xoxb-test")
    );
}

/// The example configuration shipped in `deploy/config` stays valid for Slack.
#[test]
fn the_example_configuration_parses() {
    example_settings::<SlackSettings>("slack");
}
