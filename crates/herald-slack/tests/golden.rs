//! Every seed event rendered in both formats, compared with the golden files in
//! `tests/golden/<format>/<seed>.json` (`HERALD_BLESS=1 cargo test -p herald-slack`
//! rewrites them), and checked against Slack's documented limits: Slack publishes
//! no JSON Schema for Block Kit or webhook payloads, so the limits are the oracle.

use chrono::{DateTime, Utc};
use herald_core::{Channel, DeliveryContext, Envelope};
use herald_slack::mrkdwn::safe_url;
use herald_slack::{
    BUTTON_TEXT, BUTTONS, FIELD_TEXT, HEADER_TEXT, MAX_BLOCKS, MESSAGE_TEXT, SECTION_FIELDS,
    SECTION_TEXT, Slack,
};
use herald_testkit::{Goldens, SeedEvent, at, destination, seed_envelope, seed_event, seed_events};
use serde_json::Value;

/// The committed golden files.
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const FORMATS: [&str; 2] = ["blocks", "attachments"];

/// The configured mentions: none of them occurs in the hostile event, so any
/// live mention in a rendering of it would be the event's.
const MENTIONS: [&str; 3] = [
    "<!subteam^S0123ABCD>",
    "<@U0999ZZZZ>",
    "<!subteam^S0456EFGH>",
];

fn slack(format: &str) -> Slack {
    let keys = format!(
        r##"    webhook_url: https://hooks.slack.com/services/T0000/B0000/XXXXXXXX
    slack_channel: "#ops-alerts"
    username: Herald
    message_prefix: "[PROD]"
    format: {format}
    mentions:
      on_failure: ["subteam:S0123ABCD", "U0999ZZZZ"]
      events:
        rotation.rollback: ["U0999ZZZZ"]
        update.request_created: ["S0456EFGH"]
"##
    );
    destination("ops-slack", &keys)
}

fn envelope(seed: &SeedEvent) -> Envelope {
    seed_envelope(seed, at("2030-01-01T00:00:00Z"))
}

fn now() -> DateTime<Utc> {
    at("2026-11-23T16:00:00Z")
}

fn render(channel: &Slack, seed: &SeedEvent) -> Value {
    let e = envelope(seed);
    let ctx = DeliveryContext::one_off("ops-slack", &e.id, now());
    Value::Object(
        channel
            .render(&e, &ctx)
            .expect("every seed renders")
            .message,
    )
}

#[test]
fn every_seed_matches_its_golden_file() {
    let seeds = seed_events();
    assert!(seeds.len() >= 26, "only {} seeds", seeds.len());
    let mut goldens = Goldens::new(GOLDEN);
    for format in FORMATS {
        let channel = slack(format);
        for seed in &seeds {
            goldens.check(format, &seed.name, &render(&channel, seed));
        }
        goldens.sweep(format);
    }
    goldens.assert_current("cargo test -p herald-slack");
}

/// Length as Slack limits count it (never fewer than characters).
fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.encode_utf16().count())
}

/// Block Kit limits, for every block of one message.
fn check_blocks(name: &str, m: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |what: String| problems.push(format!("{name}: {what}"));
    let blocks = m["blocks"].as_array().cloned().unwrap_or_default();
    if blocks.is_empty() || blocks.len() > MAX_BLOCKS {
        fail(format!("{} blocks", blocks.len()));
    }
    if len(&m["text"]) == 0 || len(&m["text"]) > MESSAGE_TEXT {
        fail(format!("text of {}", len(&m["text"])));
    }
    for b in &blocks {
        match b["type"].as_str().unwrap_or_default() {
            "header" => {
                if b["text"]["type"] != "plain_text" || len(&b["text"]["text"]) > HEADER_TEXT {
                    fail(format!("header {b}"));
                }
            }
            "section" => {
                if let Some(fields) = b["fields"].as_array() {
                    if fields.is_empty() || fields.len() > SECTION_FIELDS {
                        fail(format!("{} fields in a section", fields.len()));
                    }
                    for f in fields {
                        if len(&f["text"]) == 0 || len(&f["text"]) > FIELD_TEXT {
                            fail(format!("field of {}", len(&f["text"])));
                        }
                    }
                } else if len(&b["text"]["text"]) == 0 || len(&b["text"]["text"]) > SECTION_TEXT {
                    fail(format!("section text of {}", len(&b["text"]["text"])));
                }
            }
            "actions" => {
                let el = b["elements"].as_array().cloned().unwrap_or_default();
                if el.is_empty() || el.len() > BUTTONS {
                    fail(format!("{} buttons", el.len()));
                }
                for e in &el {
                    let url = e["url"].as_str().unwrap_or_default();
                    if len(&e["text"]["text"]) > BUTTON_TEXT
                        || !(url.starts_with("https://") || url.starts_with("http://"))
                        || url.len() > 3000
                    {
                        fail(format!("button {e}"));
                    }
                }
            }
            "context" => {
                let el = b["elements"].as_array().map_or(0, Vec::len);
                if el == 0 || el > 10 {
                    fail(format!("{el} context elements"));
                }
            }
            other => fail(format!("unexpected block type {other}")),
        }
    }
    problems
}

/// The legacy attachment's shape (CertifyClouds' fields) and Herald's caps.
fn check_attachment(name: &str, m: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let a = &m["attachments"][0];
    if m["attachments"].as_array().map_or(0, Vec::len) != 1 {
        problems.push(format!("{name}: not exactly one attachment"));
    }
    for key in ["color", "title", "footer"] {
        if !a[key].is_string() {
            problems.push(format!("{name}: no {key}"));
        }
    }
    if !a["ts"].is_i64() {
        problems.push(format!("{name}: ts is not an integer"));
    }
    if len(&a["title"]) > 250 || len(&a["text"]) > 3000 {
        problems.push(format!("{name}: title or text too long"));
    }
    for f in a["fields"].as_array().into_iter().flatten() {
        if !f["short"].is_boolean() || len(&f["value"]) > 2000 || len(&f["title"]) > 250 {
            problems.push(format!("{name}: field {f}"));
        }
    }
    if a["fields"].as_array().map_or(0, Vec::len) > 50 {
        problems.push(format!("{name}: too many fields"));
    }
    problems
}

/// Every `<…>` control sequence in the message is one Herald wrote: a configured
/// mention, a date, or a link to one of the event's own web links.
fn check_control_sequences(name: &str, m: &Value, event: &Envelope) -> Vec<String> {
    let mut problems = Vec::new();
    let mut strings = Vec::new();
    collect_strings(m, &mut strings);
    for s in strings {
        let mut rest = s.as_str();
        while let Some(start) = rest.find('<') {
            let Some(end) = rest[start..].find('>') else {
                problems.push(format!("{name}: unclosed < in {s:?}"));
                break;
            };
            let seq = &rest[start..=start + end];
            let ours = MENTIONS.contains(&seq)
                || seq.starts_with("<!date^")
                || event
                    .links
                    .iter()
                    .chain(&event.actions)
                    .filter_map(|l| safe_url(&l.url))
                    .any(|u| seq.starts_with(&format!("<{}|", u.replace('&', "&amp;"))));
            if !ours {
                problems.push(format!("{name}: control sequence {seq} in {s:?}"));
            }
            rest = &rest[start + end + 1..];
        }
    }
    problems
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

#[test]
fn every_seed_keeps_slacks_limits_and_writes_no_foreign_control_sequence() {
    let mut problems = Vec::new();
    for format in FORMATS {
        let channel = slack(format);
        for seed in seed_events() {
            let m = render(&channel, &seed);
            let name = format!("{format}/{}", seed.name);
            problems.extend(match format {
                "blocks" => check_blocks(&name, &m),
                _ => check_attachment(&name, &m),
            });
            problems.extend(check_control_sequences(&name, &m, &envelope(&seed)));
            if serde_json::to_vec(&m).unwrap().len() > 64 * 1024 {
                problems.push(format!("{name}: body over 64 KiB"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_hostile_event_can_neither_mention_nor_link_and_is_cut_to_the_limits() {
    let seed = seed_event("hostile-injection");
    for format in FORMATS {
        let m = render(&slack(format), &seed);
        let body = serde_json::to_string(&m).unwrap();
        for live in [
            "<!channel>",
            "<!here>",
            "<!everyone>",
            "<@U123>",
            "<@U00",
            "<https://evil",
            "<script",
            "<img",
        ] {
            assert!(!body.contains(live), "{format}: {live} survived");
        }
        assert!(
            body.contains("&lt;!channel&gt;") && body.contains("&lt;@U123&gt;"),
            "{format}: the text is shown, escaped"
        );
        assert!(
            body.contains("&amp;amp;"),
            "{format}: an entity in the event stays literal"
        );
        // The configured mentions are the only live ones.
        assert!(
            body.contains("<!subteam^S0123ABCD> <@U0999ZZZZ>"),
            "{format}"
        );
        // The 5,000-character value is cut with the marker.
        assert!(body.contains('…'), "{format}");
    }
    let blocks = render(&slack("blocks"), &seed);
    let fields: Vec<&Value> = blocks["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .collect();
    // 30 fields and the Environment: all shown, ten to a section.
    assert_eq!(fields.len(), 31);
    let long = fields
        .iter()
        .find(|f| f["text"].as_str().unwrap().starts_with("*Long value*"))
        .unwrap();
    assert!(len(&long["text"]) <= FIELD_TEXT);
    assert!(long["text"].as_str().unwrap().ends_with('…'));
    for f in &fields {
        assert_eq!(f["verbatim"], true, "event text is not auto-linked");
    }
    // The action's URL keeps its query, encoded.
    let buttons: Vec<&str> = blocks["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["elements"].as_array())
        .flatten()
        .filter_map(|e| e["url"].as_str())
        .collect();
    assert_eq!(
        buttons,
        [
            "https://example.com/runbook?a=1&b=2",
            "https://example.com/approve?id=1&x=%3Cy%3E"
        ]
    );
}

#[test]
fn many_facts_are_cut_to_fifty_blocks_with_a_marker() {
    let mut json = seed_event("dsops-rotation.failed").json;
    let fields: Vec<Value> = (0..600)
        .map(|i| serde_json::json!({"title": format!("F{i}"), "value": "v"}))
        .collect();
    json["fields"] = Value::Array(fields);
    let seed = SeedEvent {
        name: "many".into(),
        subject: "rotation.failed".into(),
        json,
    };
    let m = render(&slack("blocks"), &seed);
    let blocks = m["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), MAX_BLOCKS);
    assert!(check_blocks("many", &m).is_empty());
    let last_fields = blocks
        .iter()
        .rev()
        .find_map(|b| b["fields"].as_array())
        .unwrap();
    let marker = last_fields.last().unwrap()["text"].as_str().unwrap();
    assert!(marker.contains("more not shown"), "{marker}");
    let a = render(&slack("attachments"), &seed);
    assert!(check_attachment("many", &a).is_empty());
    assert_eq!(a["attachments"][0]["fields"].as_array().unwrap().len(), 50);
}
