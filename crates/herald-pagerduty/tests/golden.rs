//! Golden files: the Events API v2 body for every seed event, as a plain
//! trigger destination (`trigger/`) and with `auto_resolve` (`auto-resolve/`).
//! PagerDuty publishes no schema under a licence we can copy (see
//! `tests/fixtures/SOURCES.md`), so each body is checked against the documented
//! contract: required fields, allowed values and the limits.
//!
//! `HERALD_BLESS=1 cargo test -p herald-pagerduty --test golden` rewrites the
//! files in `tests/golden/<format>/<seed>.json`; read the diff before committing it.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic with the value is the clearest failure"
)]

use herald_core::{Channel, DeliveryContext, Envelope};
use herald_pagerduty::{
    EventAction, MAX_BODY_BYTES, MAX_DEDUP_KEY_CHARS, MAX_SUMMARY_CHARS, PagerDuty,
};
use herald_testkit::{Goldens, SeedEvent, at, destination, seed_envelope, seed_event, seed_events};
use serde_json::Value;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const KEY: &str = "R0UT1NGKEY0000000000000000000000";

/// The golden "formats": the same seeds through two destination set-ups.
const FORMATS: [(&str, &str); 2] = [
    ("trigger", ""),
    ("auto-resolve", "    auto_resolve: true\n"),
];

fn pagerduty(extra: &str) -> PagerDuty {
    let keys = format!(
        "    routing_key: {KEY}
    custom_details: {{team: platform-engineering}}
{extra}"
    );
    destination("oncall", &keys)
}

fn envelope(seed: &SeedEvent) -> Envelope {
    seed_envelope(seed, at("2026-11-23T16:00:00Z"))
}

fn render(pd: &PagerDuty, seed: &SeedEvent) -> (EventAction, Vec<u8>) {
    let ctx = DeliveryContext::one_off("oncall", seed.id(), chrono::DateTime::UNIX_EPOCH);
    let req = pd
        .render(&envelope(seed), &ctx)
        .unwrap_or_else(|e| panic!("{}: {e}", seed.name));
    (req.action, req.body.to_vec())
}

#[test]
fn bodies_match_the_golden_files() {
    let mut goldens = Goldens::new(GOLDEN);
    for (format, extra) in FORMATS {
        let pd = pagerduty(extra);
        for seed in seed_events() {
            let body: Value = serde_json::from_slice(&render(&pd, &seed).1).unwrap();
            goldens.check(format, &seed.name, &body);
        }
    }
    goldens.assert_current("cargo test -p herald-pagerduty --test golden");
}

fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// The Events API v2 contract (PagerDuty's developer docs, 02-Trigger-Events
/// and the openapi components): every problem found in `body`.
fn contract_problems(body: &Value, bytes: usize) -> Vec<String> {
    let mut p = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            p.push(what.to_owned());
        }
    };
    check(bytes <= MAX_BODY_BYTES, "body over 512 KB");
    let Some(obj) = body.as_object() else {
        return vec!["not an object".into()];
    };
    for k in obj.keys() {
        check(
            [
                "routing_key",
                "event_action",
                "dedup_key",
                "payload",
                "client",
                "client_url",
                "links",
                "images",
            ]
            .contains(&k.as_str()),
            &format!("unknown key {k}"),
        );
    }
    check(
        body["routing_key"].as_str().is_some_and(|k| !k.is_empty()),
        "routing_key",
    );
    let action = body["event_action"].as_str().unwrap_or_default();
    check(
        ["trigger", "acknowledge", "resolve"].contains(&action),
        "event_action",
    );
    let dedup = body["dedup_key"].as_str();
    check(
        dedup.is_none_or(|d| !d.is_empty() && d.chars().count() <= MAX_DEDUP_KEY_CHARS),
        "dedup_key length",
    );
    if action != "trigger" {
        check(dedup.is_some(), "dedup_key is required unless triggering");
        return p;
    }
    let payload = &body["payload"];
    let Some(pobj) = payload.as_object() else {
        return vec!["a trigger needs a payload".into()];
    };
    for k in pobj.keys() {
        check(
            [
                "summary",
                "source",
                "severity",
                "timestamp",
                "component",
                "group",
                "class",
                "custom_details",
            ]
            .contains(&k.as_str()),
            &format!("unknown payload key {k}"),
        );
    }
    check(
        payload["summary"]
            .as_str()
            .is_some_and(|s| !s.trim().is_empty() && s.chars().count() <= MAX_SUMMARY_CHARS),
        "summary: required, at most 1,024 characters",
    );
    check(
        payload["source"]
            .as_str()
            .is_some_and(|s| !s.trim().is_empty()),
        "source: required",
    );
    check(
        ["critical", "error", "warning", "info"]
            .contains(&payload["severity"].as_str().unwrap_or_default()),
        "severity",
    );
    check(
        payload["timestamp"]
            .as_str()
            .is_none_or(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "timestamp: ISO 8601",
    );
    for k in ["component", "group", "class"] {
        check(payload[k].is_null() || payload[k].is_string(), k);
    }
    check(
        payload["custom_details"].is_null() || payload["custom_details"].is_object(),
        "custom_details: an object",
    );
    for l in body["links"].as_array().into_iter().flatten() {
        check(
            l["href"].as_str().is_some_and(is_web_url),
            "links[].href: a URL",
        );
        check(l["text"].is_null() || l["text"].is_string(), "links[].text");
    }
    check(
        body["client_url"].is_null() || body["client_url"].as_str().is_some_and(is_web_url),
        "client_url",
    );
    p
}

#[test]
fn every_body_keeps_the_documented_contract() {
    // The check is not vacuous.
    let bad = serde_json::json!({"routing_key": "k", "event_action": "trigger",
        "payload": {"summary": "", "source": "s", "severity": "success"}});
    assert_eq!(contract_problems(&bad, 10).len(), 2);
    for (format, extra) in FORMATS {
        let pd = pagerduty(extra);
        for seed in seed_events() {
            let (_, bytes) = render(&pd, &seed);
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            let problems = contract_problems(&body, bytes.len());
            assert!(problems.is_empty(), "{format}/{}: {problems:?}", seed.name);
        }
    }
}

#[test]
fn dsops_incidents_read_as_dsops_shows_them() {
    let pd = pagerduty("");
    let (action, bytes) = render(&pd, &seed_event("dsops-rotation.failed"));
    assert_eq!(action, EventAction::Trigger);
    let b: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        b["payload"]["summary"],
        "dsops rotation failed: postgres-prod (production)"
    );
    assert_eq!(b["payload"]["source"], "dsops-rotation");
    let details = b["payload"]["custom_details"].as_object().unwrap();
    for key in [
        "service",
        "environment",
        "strategy",
        "error",
        "timestamp",
        "team",
        "runbook",
    ] {
        assert!(details.contains_key(key), "{key} in {details:?}");
    }
    assert_eq!(details["error"], "Connection verification failed");
    assert_eq!(b["dedup_key"], "herald-rot-2026-11-23-abc123");
}

#[test]
fn auto_resolve_resolves_the_lifecycle_with_the_same_key() {
    let pd = pagerduty("    auto_resolve: true\n");
    let key = |name: &str| {
        let (action, bytes) = render(&pd, &seed_event(name));
        let b: Value = serde_json::from_slice(&bytes).unwrap();
        (action, b["dedup_key"].as_str().unwrap().to_owned())
    };
    let (a1, k1) = key("dsops-rotation.failed");
    let (a2, k2) = key("dsops-rotation.completed");
    let (a3, k3) = key("dsops-rotation.rollback");
    assert_eq!(
        (a1, a2, a3),
        (
            EventAction::Trigger,
            EventAction::Resolve,
            EventAction::Trigger
        )
    );
    assert!(k1 == k2 && k2 == k3);
    let (t, kt) = key("headwind-update.rollback_triggered");
    let (c, kc) = key("headwind-update.rollback_completed");
    assert_eq!((t, c), (EventAction::Trigger, EventAction::Resolve));
    assert_eq!(kt, kc);
}

#[test]
fn the_hostile_event_keeps_the_limits() {
    let seed = seed_event("hostile-injection");
    let pd = pagerduty("");
    let (_, bytes) = render(&pd, &seed);
    let b: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(contract_problems(&b, bytes.len()).is_empty());
    let details = b["payload"]["custom_details"].as_object().unwrap();
    // PagerDuty renders plain text: the text is carried as data, whole.
    assert_eq!(
        details["long_value"].as_str().unwrap().chars().count(),
        5000
    );
    assert!(details.len() >= 30, "{}", details.len());
    // Only web links, normalised (no raw `<` or spaces).
    for l in b["links"].as_array().unwrap() {
        let href = l["href"].as_str().unwrap();
        assert!(
            is_web_url(href) && !href.contains(['<', '>', ' ']),
            "{href}"
        );
    }
    // The publisher's raw data is not copied into the incident.
    assert!(!String::from_utf8_lossy(&bytes).contains("\"note\""));
}
