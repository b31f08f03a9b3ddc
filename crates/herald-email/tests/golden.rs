//! Every seed event rendered for both transports, compared with the golden
//! files in `tests/golden/<format>/<seed>.json` (`HERALD_BLESS=1 cargo test -p
//! herald-email` rewrites them), and checked against what the formats demand.
//!
//! - `smtp`: the envelope, the message's header lines as sent, and its text
//!   and HTML parts as a MIME parser (mail-parser) reads them back. No schema
//!   exists for mail, so the checks are RFC 5322's: every line at most 998
//!   octets, 7-bit clean, one `multipart/alternative` with a text and an HTML
//!   part, the headers Herald wrote and no other.
//! - `graph`: the `sendMail` JSON body. Microsoft publishes no JSON Schema for
//!   it; the body is checked against the documented request shape (the
//!   examples in `tests/fixtures/graph-sendmail-examples.json`, which the same
//!   checker accepts) and Graph's limits (custom headers start with `x-`, 4 MB).

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use herald_core::config::FleetConfig;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::worker::prepare;
use herald_core::{Channel, DeliveryContext, Envelope};
use herald_email::{Email, EmailPayload, FACT_VALUE_CHARS, Wire};
use herald_testkit::{SeedEvent, seed_event, seed_events};
use mail_parser::MessageParser;
use serde_json::{Value, json};

const FORMATS: [&str; 2] = ["smtp", "graph"];

fn email(format: &str) -> Email {
    let transport = match format {
        "smtp" => "    smtp: {host: smtp.example.com, username: herald, password: pw}\n",
        _ => {
            "    graph: {tenant_id: contoso.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: s3cr3t}\n"
        }
    };
    let yaml = format!(
        "destinations:\n  - name: ops-mail\n    channel: email\n    events: [\"rotation.>\"]\n    from: Herald Notifications <noreply@example.com>\n    to: [ops-team@example.com, \"Security <security@example.com>\"]\n    cc: [manager@example.com]\n    bcc: [audit@example.com]\n    reply_to: oncall@example.com\n{transport}"
    );
    let config = FleetConfig::from_yaml(&yaml, "golden.yaml").expect("the golden configuration");
    prepare::<Email>(&config, "golden.yaml")
        .expect("the golden destination builds")
        .remove(0)
        .channel
}

fn envelope(seed: &SeedEvent) -> Envelope {
    let payload = seed.payload();
    ingest(
        &RawEvent {
            subject: &seed.subject,
            payload: &payload,
            headers: None,
            published: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
        },
        IngestLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", seed.name))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).unwrap()
}

fn render(channel: &Email, seed: &SeedEvent) -> EmailPayload {
    let e = envelope(seed);
    let ctx = DeliveryContext::one_off("ops-mail", &e.id, now());
    channel.render(&e, &ctx).expect("every seed renders")
}

/// The header block of a MIME message, unfolded: `(name, raw value)` in order.
fn header_lines(mime: &str) -> Vec<(String, String)> {
    let head = mime.split("\r\n\r\n").next().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.to_owned(), value.trim_start().to_owned()));
        }
    }
    out
}

/// What a golden file holds for a payload.
fn golden_value(p: &EmailPayload) -> Value {
    match &p.wire {
        Wire::Graph { body } => serde_json::from_slice(body).expect("the Graph body is JSON"),
        Wire::Smtp { envelope, mime } => {
            let text = String::from_utf8(mime.clone()).expect("the MIME message is ASCII");
            let parsed = MessageParser::default()
                .parse(mime)
                .expect("the MIME parses");
            json!({
                "mail_from": envelope.from().map(ToString::to_string),
                "rcpt_to": envelope.to().iter().map(ToString::to_string).collect::<Vec<_>>(),
                "headers": header_lines(&text)
                    .into_iter()
                    .map(|(n, v)| json!([n, v]))
                    .collect::<Vec<_>>(),
                "subject": parsed.subject(),
                "text": parsed.body_text(0).map(|t| t.replace("\r\n", "\n")),
                "html": parsed.body_html(0).map(|t| t.replace("\r\n", "\n")),
            })
        }
    }
}

fn golden_dir(format: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format)
}

#[test]
fn every_seed_matches_its_golden_file() {
    let bless = std::env::var_os("HERALD_BLESS").is_some();
    let seeds = seed_events();
    assert!(seeds.len() >= 26, "only {} seeds", seeds.len());
    let mut stale = Vec::new();
    for format in FORMATS {
        let channel = email(format);
        let dir = golden_dir(format);
        std::fs::create_dir_all(&dir).unwrap();
        let mut expected = BTreeSet::new();
        for seed in &seeds {
            let file = dir.join(format!("{}.json", seed.name));
            expected.insert(file.clone());
            let mut text =
                serde_json::to_string_pretty(&golden_value(&render(&channel, seed))).unwrap();
            text.push('\n');
            if bless {
                std::fs::write(&file, &text).unwrap();
            } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
                stale.push(format!("{format}/{}", seed.name));
            }
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !expected.contains(&path) {
                if bless {
                    std::fs::remove_file(&path).unwrap();
                } else {
                    stale.push(format!("{} has no seed", path.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "golden files out of date (HERALD_BLESS=1 cargo test -p herald-email rewrites them): {stale:#?}"
    );
}

/// The header names Herald writes, in a sent message (`Bcc` never).
const HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "User-Agent",
    "X-Priority",
    "Importance",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "X-Herald-Event-Id",
    "X-Herald-Event-Type",
    "MIME-Version",
    "Content-Type",
];

/// The HTML tags Herald writes; any other tag would be the event's.
const TAGS: &[&str] = &[
    "!DOCTYPE", "html", "head", "meta", "title", "body", "table", "tr", "th", "td", "h1", "p", "a",
    "br",
];

fn check_html(name: &str, html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let tag: String = rest[start + 1..]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        if !TAGS.contains(&tag.as_str()) {
            problems.push(format!("{name}: tag <{tag}> in the HTML"));
        }
        if tag == "a" && !rest[start + 1..].starts_with('/') {
            let end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
            let anchor = &rest[start..end];
            if !anchor.starts_with("<a href=\"https://") && !anchor.starts_with("<a href=\"http://")
            {
                problems.push(format!("{name}: anchor {anchor}"));
            }
        }
        rest = &rest[start + 1..];
    }
    problems
}

fn check_smtp(name: &str, p: &EmailPayload) -> Vec<String> {
    let mut problems = Vec::new();
    let Wire::Smtp { mime, envelope } = &p.wire else {
        return vec![format!("{name}: not SMTP")];
    };
    if !mime.is_ascii() {
        problems.push(format!("{name}: the message is not 7-bit"));
    }
    let text = String::from_utf8_lossy(mime);
    for line in text.split("\r\n") {
        if line.len() > 998 || line.contains(['\r', '\n']) {
            problems.push(format!("{name}: line of {} octets", line.len()));
        }
    }
    for (header, _) in header_lines(&text) {
        if !HEADERS.contains(&header.as_str()) {
            problems.push(format!("{name}: header {header}"));
        }
    }
    let parsed = MessageParser::default().parse(mime).expect("parses");
    if parsed.subject() != Some(p.mail.subject.as_str()) {
        problems.push(format!("{name}: subject {:?}", parsed.subject()));
    }
    if parsed.message_id() != Some(p.mail.message_id.trim_matches(['<', '>'])) {
        problems.push(format!("{name}: message id {:?}", parsed.message_id()));
    }
    if parsed.text_body_count() != 1 || parsed.html_body_count() != 1 {
        problems.push(format!("{name}: not one text and one HTML part"));
    }
    if parsed
        .body_text(0)
        .as_deref()
        .map(|t| t.replace("\r\n", "\n"))
        != Some(p.mail.text.clone())
    {
        problems.push(format!("{name}: the text part does not read back"));
    }
    if parsed
        .body_html(0)
        .as_deref()
        .map(|t| t.replace("\r\n", "\n"))
        != Some(p.mail.html.clone())
    {
        problems.push(format!("{name}: the HTML part does not read back"));
    }
    if envelope.to().len() != 4 {
        problems.push(format!(
            "{name}: {} envelope recipients",
            envelope.to().len()
        ));
    }
    if mime.len() > 1024 * 1024 {
        problems.push(format!("{name}: over 1 MiB"));
    }
    problems.extend(check_html(name, &p.mail.html));
    problems
}

/// The documented `sendMail` request shape, and Graph's limits.
fn check_graph_body(name: &str, b: &Value, typed: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |what: String| problems.push(format!("{name}: {what}"));
    let Some(top) = b.as_object() else {
        return vec![format!("{name}: not an object")];
    };
    for key in top.keys() {
        if !["message", "saveToSentItems"].contains(&key.as_str()) {
            fail(format!("top-level key {key}"));
        }
    }
    if typed && !b["saveToSentItems"].is_boolean() {
        fail("saveToSentItems is not a boolean (Edm.Boolean)".into());
    }
    let m = &b["message"];
    let Some(message) = m.as_object() else {
        return vec![format!("{name}: no message")];
    };
    const KEYS: &[&str] = &[
        "subject",
        "body",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "from",
        "importance",
        "internetMessageId",
        "internetMessageHeaders",
        "attachments",
    ];
    for key in message.keys() {
        if !KEYS.contains(&key.as_str()) {
            fail(format!("message key {key}"));
        }
    }
    if !m["subject"].is_string() {
        fail("no subject".into());
    }
    if !matches!(m["body"]["contentType"].as_str(), Some("Text" | "HTML"))
        || !m["body"]["content"].is_string()
    {
        fail(format!("body {}", m["body"]));
    }
    for key in ["toRecipients", "ccRecipients", "bccRecipients", "replyTo"] {
        for r in m[key].as_array().into_iter().flatten() {
            let ok = r["emailAddress"]["address"]
                .as_str()
                .is_some_and(|a| a.contains('@'))
                && r["emailAddress"]
                    .as_object()
                    .is_some_and(|o| o.keys().all(|k| k == "address" || k == "name"));
            if !ok {
                fail(format!("recipient {r}"));
            }
        }
    }
    if let Some(i) = m.get("importance")
        && !matches!(i.as_str(), Some("low" | "normal" | "high"))
    {
        fail(format!("importance {i}"));
    }
    for h in m["internetMessageHeaders"].as_array().into_iter().flatten() {
        let name = h["name"].as_str().unwrap_or_default();
        let value = h["value"].as_str().unwrap_or_default();
        if !name.to_ascii_lowercase().starts_with("x-") || value.contains(['\r', '\n']) {
            fail(format!("custom header {h}"));
        }
    }
    if serde_json::to_vec(b).expect("serializes").len() > 4 * 1024 * 1024 {
        fail("over 4 MB".into());
    }
    problems
}

#[test]
fn the_checker_accepts_microsofts_documented_examples() {
    let raw = include_str!("../../../tests/fixtures/graph-sendmail-examples.json");
    let doc: Value = serde_json::from_str(raw).unwrap();
    for key in [
        "example_1_text",
        "example_2_custom_headers",
        "example_3_file_attachment",
    ] {
        // The docs write saveToSentItems as a string; the type is Edm.Boolean.
        let problems = check_graph_body(key, &doc[key], false);
        assert!(problems.is_empty(), "{problems:#?}");
    }
    let mut bad = doc["example_2_custom_headers"].clone();
    bad["message"]["internetMessageHeaders"][0]["name"] = json!("Custom-Header");
    assert!(!check_graph_body("bad", &bad, true).is_empty());
}

#[test]
fn every_seed_keeps_the_formats_rules() {
    let mut problems = Vec::new();
    let smtp = email("smtp");
    let graph = email("graph");
    for seed in seed_events() {
        let s = render(&smtp, &seed);
        problems.extend(check_smtp(&format!("smtp/{}", seed.name), &s));
        let g = render(&graph, &seed);
        let body = g.graph_json().unwrap();
        problems.extend(check_graph_body(
            &format!("graph/{}", seed.name),
            &body,
            true,
        ));
        problems.extend(check_html(&format!("graph/{}", seed.name), &g.mail.html));
        if body["message"]["body"]["content"] != json!(s.mail.html) {
            problems.push(format!("{}: the two transports differ", seed.name));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_hostile_event_injects_no_header_no_html_and_is_cut_to_the_limits() {
    let seed = seed_event("hostile-injection");
    let p = render(&email("smtp"), &seed);
    let html = &p.mail.html;
    for live in [
        "<script",
        "<img",
        "href=\"https://evil",
        "onerror=alert(2)>",
    ] {
        assert!(!html.contains(live), "{live} survived: {html}");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        html.contains("&amp;amp;"),
        "an entity in the event stays literal"
    );
    assert!(check_html("hostile", html).is_empty());
    // The 5,000-character value is cut with the marker in both parts.
    for part in [&p.mail.text, html] {
        assert!(part.contains('…'));
    }
    let long = p
        .mail
        .text
        .lines()
        .find(|l| l.starts_with("Long value: "))
        .unwrap();
    assert_eq!(
        long.trim_start_matches("Long value: ").chars().count(),
        FACT_VALUE_CHARS
    );
    // 30 fields, the Environment and the time: all shown.
    assert_eq!(html.matches("<tr><th").count(), 32);
    // The summary's second line stays a line, and no header gained one.
    assert!(p.mail.text.contains("\nSecond line with | pipes |"));
    assert!(!p.mail.subject.contains(['\r', '\n']));
    let mime = p.mime_text().unwrap();
    for (name, value) in header_lines(&mime) {
        assert!(HEADERS.contains(&name.as_str()), "{name}: {value}");
    }
    // The action's URL keeps its query, escaped once for the attribute.
    assert!(
        html.contains("href=\"https://example.com/approve?id=1&amp;x=%3Cy%3E\""),
        "{html}"
    );
}
