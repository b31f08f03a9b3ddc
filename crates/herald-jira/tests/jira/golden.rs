//! Golden bodies for every seed event: the create body and the comment body,
//! each description validated against Atlassian's ADF schema
//! (`tests/fixtures/adf-schema-full.json`) and Jira's limits.
//! `HERALD_BLESS=1 cargo test -p herald-jira` rewrites them.

use herald_core::Channel;
use herald_core::memory::Memory;
use herald_jira::{DOCUMENT_CHARS, SUMMARY_CHARS};
use herald_testkit::{Goldens, seed_event, seed_events};
use serde_json::Value;
use std::collections::BTreeSet;

use crate::support::{ctx, destination, envelope};

/// The committed golden files.
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

/// The settings the goldens are rendered with.
const SETTINGS: &str = "    base_url: https://acme.atlassian.net\n    email: ops@example.com\n    api_token: test-token\n    project_key: SEC\n    labels: [herald]\n    priority: {critical: Highest, error: High, warning: Medium}\n    resolve_transition: Done\n";

const ADF_SCHEMA: &str = include_str!("../../../../tests/fixtures/adf-schema-full.json");

fn adf_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(ADF_SCHEMA).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// Every node of an ADF tree, depth first.
fn nodes(v: &Value) -> Vec<&Value> {
    let mut out = vec![v];
    if let Some(children) = v.get("content").and_then(Value::as_array) {
        for c in children {
            out.extend(nodes(c));
        }
    }
    out
}

/// Every link mark's `href`.
fn hrefs(doc: &Value) -> Vec<String> {
    nodes(doc)
        .into_iter()
        .filter_map(|n| n.get("marks").and_then(Value::as_array))
        .flatten()
        .filter(|m| m["type"] == "link")
        .filter_map(|m| m["attrs"]["href"].as_str().map(str::to_owned))
        .collect()
}

fn assert_document(name: &str, validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{name}: ADF errors: {errors:?}");
    let weight = serde_json::to_string(doc).unwrap().chars().count();
    assert!(
        weight <= DOCUMENT_CHARS,
        "{name}: the document weighs {weight}"
    );
    for n in nodes(doc) {
        assert!(n["type"] != "mention", "{name}: no mention nodes");
        if n["type"] == "text" {
            assert!(
                !n["text"].as_str().unwrap_or_default().is_empty(),
                "{name}: empty text"
            );
        }
    }
    for href in hrefs(doc) {
        assert!(
            href.starts_with("https://") || href.starts_with("http://"),
            "{name}: {href}"
        );
    }
}

#[test]
fn create_and_comment_bodies_match_the_goldens_and_validate() {
    let jira = destination(SETTINGS);
    let validator = adf_validator();
    let mut goldens = Goldens::new(GOLDEN);
    let seeds = seed_events();
    assert!(seeds.len() >= 27, "the seed corpus shrank: {}", seeds.len());
    for seed in &seeds {
        let e = envelope(seed);
        let c = ctx(seed.id(), 1, &Memory::local());
        let plan = jira.render(&e, &c).unwrap();
        let fields = &plan.create["fields"];
        let summary = fields["summary"].as_str().unwrap();
        assert!(
            !summary.is_empty() && summary.chars().count() <= SUMMARY_CHARS,
            "{}: {summary}",
            seed.name
        );
        assert!(!summary.contains(['\n', '\r']), "{}: one line", seed.name);
        let labels: Vec<&str> = fields["labels"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(labels, ["herald", plan.label.as_str()], "{}", seed.name);
        assert!(labels.iter().all(|l| !l.contains(char::is_whitespace)));
        assert_document(&seed.name, &validator, &fields["description"]);
        assert_document(&seed.name, &validator, &plan.comment["body"]);
        // The links of the event, and only they, are links.
        let expected: BTreeSet<String> = e
            .links
            .iter()
            .chain(&e.actions)
            .filter_map(|l| reqwest::Url::parse(&l.url).ok().map(|u| u.to_string()))
            .collect();
        let found: BTreeSet<String> = hrefs(&fields["description"]).into_iter().collect();
        assert_eq!(found, expected, "{}", seed.name);
        goldens.check("create", &seed.name, &plan.create);
        goldens.check("comment", &seed.name, &plan.comment);
    }
    goldens.assert_current("cargo test -p herald-jira");
}

#[test]
fn the_hostile_event_stays_inert_text_within_limits() {
    let jira = destination(SETTINGS);
    let seed = seed_event("hostile-injection");
    let e = envelope(&seed);
    let plan = jira
        .render(&e, &ctx(seed.id(), 1, &Memory::local()))
        .unwrap();
    let doc = &plan.create["fields"]["description"];
    assert_document(&seed.name, &adf_validator(), doc);
    let texts: Vec<&str> = nodes(doc)
        .into_iter()
        .filter_map(|n| n.get("text").and_then(Value::as_str))
        .collect();
    let all = texts.join("\n");
    // The markup is shown as typed (ADF text is never interpreted) ...
    assert!(all.contains("<script>alert(1)</script>"));
    assert!(all.contains("[x](https://evil.example)"));
    assert!(all.contains("@everyone"));
    // ... and none of it became a link: only the event's own two links are.
    let hrefs = hrefs(doc);
    assert_eq!(
        hrefs,
        [
            "https://example.com/runbook?a=1&b=2",
            "https://example.com/approve?id=1&x=%3Cy%3E"
        ]
    );
    assert!(!hrefs.iter().any(|h| h.contains("evil")));
    // The 5,000-character value is cut, and all thirty facts are there.
    let long = texts.iter().find(|t| t.starts_with("AAAAAAAAAA")).unwrap();
    assert!(
        long.chars().count() <= 1_000 && long.ends_with('…'),
        "{}",
        long.len()
    );
    assert!(texts.contains(&"Field 30"));
    let summary = plan.create["fields"]["summary"].as_str().unwrap();
    assert!(summary.chars().count() <= SUMMARY_CHARS);
    assert!(
        summary.starts_with("Rotation Failed: <!channel>"),
        "{summary}"
    );
}

#[test]
fn a_document_too_large_for_jira_is_cut_to_fit() {
    let jira = destination(SETTINGS);
    let fields: serde_json::Map<String, Value> = (0..120)
        .map(|i| (format!("Fact {i:03}"), Value::String("x".repeat(3_000))))
        .collect();
    let e = crate::support::event(
        "rotation.failed",
        &serde_json::json!({"id": "big", "fields": fields, "summary": "s".repeat(9_000)}),
    );
    let plan = jira.render(&e, &ctx("big", 1, &Memory::local())).unwrap();
    let doc = &plan.create["fields"]["description"];
    assert_document("big", &adf_validator(), doc);
    let text = serde_json::to_string(doc).unwrap();
    assert!(text.contains("more facts"), "the cut is said");
    assert!(text.contains(&plan.marker), "the marker survives every cut");
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let v = adf_validator();
    let doc = |content: Value| serde_json::json!({"version": 1, "type": "doc", "content": content});
    assert!(v.is_valid(&doc(
        serde_json::json!([{"type": "paragraph", "content": [{"type": "text", "text": "ok"}]}])
    )));
    assert!(!v.is_valid(&doc(
        serde_json::json!([{"type": "paragraph", "content": [{"type": "text", "text": ""}]}])
    )));
    assert!(!v.is_valid(&doc(serde_json::json!([{"type": "table", "content": []}]))));
    assert!(
        !v.is_valid(&serde_json::json!({"type": "doc", "content": []})),
        "version is required"
    );
}
