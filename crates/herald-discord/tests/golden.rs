//! Every seed event rendered for both endpoints, compared with the golden files in
//! `tests/golden/<native|slack>/<seed>.json` (`HERALD_BLESS=1 cargo test -p
//! herald-discord` rewrites them), validated against Discord's OpenAPI schema
//! (`tests/fixtures/discord-openapi.json`: `IncomingWebhookRequestPartial` for
//! Execute Webhook, `SlackWebhook` for the Slack-compatible one), and checked
//! against the embed limits, which that schema leaves out by design.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use herald_core::{Channel, DeliveryContext, Envelope};
use herald_discord::Discord;
use herald_discord::embed::{
    CONTENT, DESCRIPTION, EMBED_TOTAL, FIELD_NAME, FIELD_VALUE, FIELDS, FOOTER, TITLE, embed_total,
};
use herald_testkit::{Goldens, SeedEvent, at, destination, seed_envelope, seed_event, seed_events};
use serde_json::{Value, json};

/// The committed golden files.
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const FLAVORS: [&str; 2] = ["native", "slack"];
const ROLE: &str = "123456789012345678";
const USER: &str = "234567890123456789";

fn discord(flavor: &str) -> Discord {
    let suffix = if flavor == "slack" { "/slack" } else { "" };
    let keys = format!(
        r##"    webhook_url: https://discord.com/api/webhooks/1180000000000000000/TOKEN{suffix}
    username: Herald
    avatar_url: https://example.com/herald.png
    message_prefix: "[PROD]"
    mentions:
      on_failure: ["<@&{ROLE}>"]
      events:
        rotation.rollback: ["user:{USER}"]
        update.request_created: ["@here"]
"##
    );
    destination("ops-discord", &keys)
}

fn envelope(seed: &SeedEvent) -> Envelope {
    seed_envelope(seed, at("2030-01-01T00:00:00Z"))
}

fn now() -> DateTime<Utc> {
    at("2026-11-23T16:00:00Z")
}

fn render(channel: &Discord, seed: &SeedEvent) -> Value {
    let e = envelope(seed);
    let ctx = DeliveryContext::one_off("ops-discord", &e.id, now());
    channel.render(&e, &ctx).expect("every seed renders").body
}

#[test]
fn every_seed_matches_its_golden_file() {
    let seeds = seed_events();
    assert!(seeds.len() >= 26, "only {} seeds", seeds.len());
    let mut goldens = Goldens::new(GOLDEN);
    for flavor in FLAVORS {
        let channel = discord(flavor);
        for seed in &seeds {
            goldens.check(flavor, &seed.name, &render(&channel, seed));
        }
        goldens.sweep(flavor);
    }
    goldens.assert_current("cargo test -p herald-discord");
}

/// A validator for one request-body schema of Discord's OpenAPI document.
fn validator(component: &str) -> jsonschema::Validator {
    static DOC: OnceLock<Value> = OnceLock::new();
    let doc = DOC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/discord-openapi.json"
        );
        let text = std::fs::read_to_string(path).expect("the Discord OpenAPI fixture");
        serde_json::from_str(&text).expect("the fixture is JSON")
    });
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{component}"),
        "components": doc["components"],
    });
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the OpenAPI component compiles as JSON Schema")
}

/// The request body of Execute Webhook is the schema checked here.
#[test]
fn the_schemas_are_the_execute_webhook_request_bodies() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/discord-openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let paths = &doc["paths"];
    let native = &paths["/webhooks/{webhook_id}/{webhook_token}"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["anyOf"][0]["$ref"];
    assert_eq!(native, "#/components/schemas/IncomingWebhookRequestPartial");
    let slack = &paths["/webhooks/{webhook_id}/{webhook_token}/slack"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"];
    assert_eq!(slack, "#/components/schemas/SlackWebhook");
    // The validators are not vacuous.
    let v = validator("IncomingWebhookRequestPartial");
    assert!(!v.is_valid(&json!({"content": "x".repeat(2001)})));
    assert!(!v.is_valid(&json!({"embeds": [{"title": "t".repeat(257)}]})));
    assert!(!v.is_valid(&json!({"embeds": [{"color": "red"}]})));
    assert!(!v.is_valid(&json!({"allowed_mentions": {"parse": ["all"]}})));
    assert!(!validator("SlackWebhook").is_valid(&json!({"attachments": [{"color": "red"}]})));
}

fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.encode_utf16().count())
}

fn check_embed(name: &str, e: &Value) -> Vec<String> {
    let mut p = Vec::new();
    if len(&e["title"]) == 0 || len(&e["title"]) > TITLE {
        p.push(format!("{name}: title {}", len(&e["title"])));
    }
    if len(&e["description"]) > DESCRIPTION {
        p.push(format!("{name}: description {}", len(&e["description"])));
    }
    if len(&e["footer"]["text"]) > FOOTER {
        p.push(format!("{name}: footer"));
    }
    let fields = e["fields"].as_array().cloned().unwrap_or_default();
    if fields.len() > FIELDS {
        p.push(format!("{name}: {} fields", fields.len()));
    }
    for f in &fields {
        let (n, v) = (len(&f["name"]), len(&f["value"]));
        if n == 0 || n > FIELD_NAME || v == 0 || v > FIELD_VALUE {
            p.push(format!("{name}: field {f}"));
        }
    }
    if embed_total(e) > EMBED_TOTAL {
        p.push(format!("{name}: embed total {}", embed_total(e)));
    }
    p
}

/// The Slack-compatible attachment, measured the way Discord measures the embed it becomes.
fn as_embed(a: &Value) -> Value {
    let fields: Vec<Value> = a["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| json!({"name": f["title"], "value": f["value"]}))
        .collect();
    json!({"title": a["title"], "description": a["text"], "footer": {"text": a["footer"]}, "fields": fields})
}

#[test]
fn every_seed_is_valid_by_the_schema_and_within_the_embed_limits() {
    let native = validator("IncomingWebhookRequestPartial");
    let slack = validator("SlackWebhook");
    let mut problems = Vec::new();
    for flavor in FLAVORS {
        let channel = discord(flavor);
        for seed in seed_events() {
            let body = render(&channel, &seed);
            let name = format!("{flavor}/{}", seed.name);
            let v = if flavor == "native" { &native } else { &slack };
            problems.extend(
                v.iter_errors(&body)
                    .map(|e| format!("{name}: {e} at {}", e.instance_path())),
            );
            if flavor == "native" {
                let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
                if embeds.len() != 1 {
                    problems.push(format!("{name}: {} embeds", embeds.len()));
                }
                problems.extend(embeds.iter().flat_map(|e| check_embed(&name, e)));
                if len(&body["content"]) > CONTENT {
                    problems.push(format!("{name}: content"));
                }
                if !body["allowed_mentions"].is_object() {
                    problems.push(format!("{name}: no allowed_mentions"));
                }
            } else {
                problems.extend(check_embed(&name, &as_embed(&body["attachments"][0])));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn mentions_ping_exactly_the_configured_ones() {
    let d = discord("native");
    let failed = render(&d, &seed_event("dsops-rotation.failed"));
    assert_eq!(failed["content"], format!("<@&{ROLE}>"));
    assert_eq!(
        failed["allowed_mentions"],
        json!({"parse": [], "roles": [ROLE]})
    );
    let rollback = render(&d, &seed_event("dsops-rotation.rollback"));
    assert_eq!(rollback["allowed_mentions"]["users"], json!([USER]));
    let request = render(&d, &seed_event("headwind-update.request_created"));
    assert_eq!(request["content"], "@here");
    assert_eq!(request["allowed_mentions"], json!({"parse": ["everyone"]}));
    let completed = render(&d, &seed_event("dsops-rotation.completed"));
    assert!(completed.get("content").is_none());
    assert_eq!(completed["allowed_mentions"], json!({"parse": []}));
}

#[test]
fn the_hostile_event_is_escaped_and_cut() {
    let seed = seed_event("hostile-injection");
    let body = render(&discord("native"), &seed);
    // Only the configured role can ping, and `content` holds nothing else.
    assert_eq!(body["content"], format!("<@&{ROLE}>"));
    assert_eq!(
        body["allowed_mentions"],
        json!({"parse": [], "roles": [ROLE]})
    );
    let e = &body["embeds"][0];
    let mut strings = Vec::new();
    collect_strings(e, &mut strings);
    for s in &strings {
        for c in ['<', '*', '`', '_', '~', '|'] {
            assert!(!unescaped(s, c), "an unescaped {c} in {s:?}");
        }
        // The event's `[x](https://evil.example)` must keep its brackets escaped,
        // so it cannot become a masked link.
        for (i, _) in s.match_indices("](https://evil") {
            assert!(s[..i].ends_with('\\'), "a masked link survived in {s:?}");
        }
    }
    assert!(e["title"].as_str().unwrap().contains("\\<@U123\\>"));
    // 31 facts: 24 shown, then one saying how many were left out.
    let fields = e["fields"].as_array().unwrap();
    assert_eq!(fields.len(), FIELDS);
    assert_eq!(fields[24]["name"], "…");
    assert_eq!(fields[24]["value"], "7 more not shown");
    let long = fields.iter().find(|f| f["name"] == "Long value").unwrap();
    assert_eq!(len(&long["value"]), FIELD_VALUE);
    assert!(long["value"].as_str().unwrap().ends_with('…'));
    assert!(embed_total(e) <= EMBED_TOTAL);
    // The links are the event's own, as masked links with escaped labels.
    let d = e["description"].as_str().unwrap();
    assert!(d.ends_with(
        "[\\<!here\\> \\[x\\](https://evil.example) \\*runbook\\*](https://example.com/runbook?a=1&b=2) · [\\<@U123\\> Approve \\`now\\`](https://example.com/approve?id=1&x=%3Cy%3E)"
    ), "{d}");

    let slack = render(&discord("slack"), &seed);
    let text = serde_json::to_string(&slack).unwrap();
    for live in ["<!channel>", "<@U123>", "<https://evil", "<script"] {
        assert!(!text.contains(live), "slack-compatible: {live} survived");
    }
    assert_eq!(slack["text"], format!("<@&{ROLE}>"));
}

#[test]
fn a_huge_event_keeps_the_6000_total() {
    let mut json = seed_event("dsops-rotation.failed").json;
    json["summary"] = json!("S".repeat(10_000));
    json["title"] = json!("T".repeat(1000));
    json["fields"] = Value::Array(
        (0..40)
            .map(|i| json!({"title": format!("F{i}"), "value": "v".repeat(900)}))
            .collect(),
    );
    let seed = SeedEvent {
        name: "huge".into(),
        subject: "rotation.failed".into(),
        json,
    };
    for flavor in FLAVORS {
        let body = render(&discord(flavor), &seed);
        let e = if flavor == "native" {
            body["embeds"][0].clone()
        } else {
            as_embed(&body["attachments"][0])
        };
        assert!(
            check_embed(flavor, &e).is_empty(),
            "{:?}",
            check_embed(flavor, &e)
        );
        assert!(
            embed_total(&e) > 5500,
            "{flavor}: the budget is used, {}",
            embed_total(&e)
        );
        let fields = e["fields"].as_array().unwrap();
        assert!(
            fields.last().unwrap()["value"]
                .as_str()
                .unwrap()
                .contains("more not shown")
        );
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// True when `c` occurs in `s` without a backslash escaping it.
fn unescaped(s: &str, c: char) -> bool {
    let mut backslashes = 0;
    for ch in s.chars() {
        if ch == c && backslashes % 2 == 0 {
            return true;
        }
        backslashes = if ch == '\\' { backslashes + 1 } else { 0 };
    }
    false
}
