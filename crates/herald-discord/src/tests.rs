use std::time::Duration;

use super::*;
use herald_testkit::{Receiver, Reply, envelope, example_settings, try_destination};

fn build(yaml_tail: &str) -> Result<Discord, String> {
    try_destination("ops", yaml_tail)
}

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off("ops", "e1", chrono::Utc::now())
}

fn failed() -> Envelope {
    envelope(
        "rotation.failed",
        br#"{"id":"f1","service":"postgres-prod","environment":"production",
                "fields":[{"title":"Error","value":"Connection verification failed"}],
                "links":[{"title":"Runbook","url":"https://wiki.example.com/runbooks/rotation"}]}"#,
        chrono::Utc::now(),
    )
}

#[test]
fn native_embeds_carry_the_view_and_the_mentions() {
    let d = build(
        "    webhook_url: https://discord.com/api/webhooks/1/tok\n    message_prefix: \"[PROD]\"\n    username: Herald\n    mentions: {on_failure: [\"<@&42>\", \"user:7\"]}\n",
    )
    .unwrap();
    let b = d.render(&failed(), &ctx()).unwrap().body;
    assert_eq!(b["content"], "<@&42> <@7>");
    assert_eq!(
        b["allowed_mentions"],
        json!({"parse": [], "users": ["7"], "roles": ["42"]})
    );
    assert_eq!(b["username"], "Herald");
    let e = &b["embeds"][0];
    assert_eq!(e["title"], "❌ \\[PROD\\] Rotation Failed: postgres-prod");
    assert_eq!(e["color"], 0x00EF_4444);
    assert_eq!(
        e["fields"][0],
        json!({"name": "Environment", "value": "production", "inline": true})
    );
    assert!(
        e["description"]
            .as_str()
            .unwrap()
            .ends_with("[Runbook](https://wiki.example.com/runbooks/rotation)")
    );
    assert_eq!(e["footer"]["text"], "rotation.failed");
}

#[test]
fn without_mentions_nothing_can_ping() {
    let d = build("    webhook_url: https://discord.com/api/webhooks/1/tok\n").unwrap();
    let b = d.render(&failed(), &ctx()).unwrap().body;
    assert!(b.get("content").is_none());
    assert_eq!(b["allowed_mentions"], json!({"parse": []}));
}

#[test]
fn slack_compatible_urls_get_attachments() {
    let d = build(
        "    webhook_url: https://discord.com/api/webhooks/1/tok/slack\n    avatar_url: https://example.com/a.png\n    mentions: {on_failure: [\"@here\"]}\n",
    )
    .unwrap();
    let b = d.render(&failed(), &ctx()).unwrap().body;
    assert_eq!(b["text"], "@here");
    assert_eq!(b["icon_url"], "https://example.com/a.png");
    let a = &b["attachments"][0];
    assert_eq!(a["color"], "#EF4444");
    assert_eq!(a["title"], "❌ Rotation Failed: postgres-prod");
    assert!(b.get("embeds").is_none());
}

#[test]
fn build_errors_name_the_field() {
    let e = build("    username: Herald\n").unwrap_err();
    assert!(e.contains("webhook_url"), "{e}");
    let e = build("    webhook_url: ftp://x\n").unwrap_err();
    assert!(
        e.contains("f.yaml:5:") && e.contains("http or https"),
        "{e}"
    );
    let e = build("    webhook_url: https://x/y\n    username: My Discord Bot\n").unwrap_err();
    assert!(e.contains("username") && e.contains("discord"), "{e}");
    let e = build("    webhook_url: https://x/y\n    mentions: {on_failure: [\"@oncall\"]}\n")
        .unwrap_err();
    assert!(e.contains("mentions.on_failure[0]"), "{e}");
    let e =
        build("    webhook_url: https://x/y\n    mentions: {on_success: [\"123\"]}\n").unwrap_err();
    assert!(e.contains("user:ID or role:ID"), "{e}");
    let e = build("    webhook_url: https://x/y\n    avatar_url: not a url\n").unwrap_err();
    assert!(e.contains("avatar_url"), "{e}");
    let e = build("    webhook_url: https://x/y\n    embed_colour: red\n").unwrap_err();
    assert!(e.contains("unknown field `embed_colour`"), "{e}");
}

#[test]
fn previews_hide_the_token() {
    let d = build("    webhook_url: https://discord.com/api/webhooks/1/s3cr3t\n").unwrap();
    let p = d.preview(&d.render(&failed(), &ctx()).unwrap());
    assert_eq!(p.target, "https://discord.com/…");
    assert!(!format!("{p:?} {d:?}").contains("s3cr3t"));
}

#[test]
fn env_only_configuration() {
    let get = |k: &str| match k {
        "DISCORD_WEBHOOK_URL" => Some("https://discord.com/api/webhooks/1/t".to_owned()),
        "DISCORD_MENTIONS_ON_FAILURE" => Some("<@&1>, @here".to_owned()),
        _ => None,
    };
    let d = Discord::env_destination(&get).unwrap();
    assert_eq!(d["webhook_url"]["from"]["env"], "DISCORD_WEBHOOK_URL");
    assert_eq!(d["mentions"]["on_failure"], json!(["<@&1>", "@here"]));
    assert!(Discord::env_destination(&|_| None).is_none());
}

#[tokio::test]
async fn sends_wait_for_the_message_and_read_discords_answers() {
    let r = Receiver::start().await.unwrap();
    r.push_all([
        Reply::ok()
            .header("content-type", "application/json")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset-after", "1.5")
            .body(r#"{"id":"1180000000000000001","type":0}"#),
        Reply::status(429)
            .header("retry-after", "1")
            .body(r#"{"message":"You are being rate limited.","retry_after":0.25,"global":false}"#),
        Reply::status(404).body(r#"{"message":"Unknown Webhook","code":10015}"#),
        Reply::status(503),
    ]);
    let d = build(&format!("    webhook_url: {}?thread_id=99\n", r.url())).unwrap();
    let req = d.render(&failed(), &ctx()).unwrap();
    assert_eq!(
        d.send(&req, &ctx()).await,
        Outcome::Delivered {
            handle: Some("1180000000000000001".into()),
            status: Some(200),
            hold: Some(Duration::from_millis(1500)),
        }
    );
    let Outcome::Retry(f) = d.send(&req, &ctx()).await else {
        panic!("429")
    };
    assert!(f.throttled && f.retry_after == Some(Duration::from_millis(250)));
    let Outcome::Permanent(f) = d.send(&req, &ctx()).await else {
        panic!("404")
    };
    assert!(f.broken && f.reason.contains("10015"));
    assert!(matches!(d.send(&req, &ctx()).await, Outcome::Retry(_)));
    let first = &r.requests()[0];
    assert_eq!(first.path, "/hook?thread_id=99&wait=true");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.json().unwrap(), req.body);
}

/// The example configuration shipped in `deploy/config` stays valid for Discord.
#[test]
fn the_example_configuration_parses() {
    example_settings::<DiscordSettings>("discord");
}
