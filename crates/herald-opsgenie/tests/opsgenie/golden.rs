//! Golden bodies for every seed event, validated against Opsgenie's
//! `CreateAlertPayload` / `CloseAlertPayload` definitions and its documented
//! field limits. `HERALD_BLESS=1 cargo test -p herald-opsgenie` rewrites them.

use herald_core::Channel;
use herald_core::envelope::Severity;
use herald_core::memory::Memory;
use herald_opsgenie::{Action, limits};
use herald_testkit::{Goldens, seed_events};
use serde_json::{Value, json};

use crate::support::{ctx, destination, envelope};

/// The committed golden files.
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

/// The settings the `create` goldens are rendered with: every event an alert.
const CREATE: &str = "    api_key: test-key\n    responders: [{type: team, name: platform-oncall}]\n    tags: [herald]\n    details: {team: platform-engineering}\n    close_on_success: false\n";

/// The defaults: success events with a correlation close their alert.
const DEFAULTS: &str = "    api_key: test-key\n";

const DEFINITIONS: &str =
    include_str!("../../../../tests/fixtures/opsgenie-alert-definitions.json");

fn validator(definition: &str) -> (jsonschema::Validator, Vec<String>) {
    let doc: Value = serde_json::from_str(DEFINITIONS).unwrap();
    let schema = json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$ref": format!("#/definitions/{definition}"),
        "definitions": doc["definitions"],
    });
    // The swagger does not forbid unknown keys; collect the known ones to do so.
    let mut known: Vec<String> = Vec::new();
    for part in doc["definitions"][definition]["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| match p.get("$ref").and_then(Value::as_str) {
            Some(r) => &doc["definitions"][r.trim_start_matches("#/definitions/")],
            None => p,
        })
    {
        if let Some(props) = part["properties"].as_object() {
            known.extend(props.keys().cloned());
        }
    }
    (jsonschema::validator_for(&schema).unwrap(), known)
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Opsgenie's documented limits, which the swagger does not encode.
fn assert_limits(name: &str, b: &Value) {
    let message = b["message"].as_str().unwrap();
    assert!(
        !message.is_empty() && chars(&b["message"]) <= limits::MESSAGE,
        "{name}: message {message:?}"
    );
    assert!(
        !message.contains(['\n', '\r']),
        "{name}: message on one line"
    );
    assert!(chars(&b["alias"]) <= limits::ALIAS, "{name}: alias");
    assert!(
        chars(&b["description"]) <= limits::DESCRIPTION,
        "{name}: description"
    );
    if let Some(tags) = b.get("tags").and_then(Value::as_array) {
        assert!(tags.len() <= limits::TAGS, "{name}: {} tags", tags.len());
        assert!(
            tags.iter().all(|t| (1..=limits::TAG).contains(&chars(t))),
            "{name}: {tags:?}"
        );
    }
    let details: usize = b["details"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| k.chars().count() + chars(v))
        .sum();
    assert!(
        details <= limits::DETAILS,
        "{name}: details weigh {details}"
    );
    assert!(chars(&b["entity"]) <= limits::ENTITY, "{name}: entity");
    assert!(chars(&b["source"]) <= limits::SOURCE, "{name}: source");
}

#[test]
fn create_bodies_match_the_goldens_the_schema_and_the_limits() {
    let og = destination(CREATE);
    let (schema, known) = validator("CreateAlertPayload");
    let mut goldens = Goldens::new(GOLDEN);
    let seeds = seed_events();
    assert!(seeds.len() >= 27, "the seed corpus shrank: {}", seeds.len());
    for seed in &seeds {
        let e = envelope(seed);
        let c = ctx(seed.id(), &Memory::local());
        let req = og.render(&e, &c).unwrap();
        assert_eq!(req.action, Action::Create, "{}", seed.name);
        assert!(req.url.as_str().ends_with("/v2/alerts"), "{}", seed.name);
        let body = req.json();
        let errors: Vec<String> = schema.iter_errors(&body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", seed.name);
        for key in body.as_object().unwrap().keys() {
            assert!(
                known.contains(key),
                "{}: `{key}` is not a CreateAlertPayload field",
                seed.name
            );
        }
        assert_limits(&seed.name, &body);
        let expected = match (&e.correlation, &e.resource) {
            (Some(c), _) => c.clone(),
            (None, Some(_)) => herald_opsgenie::alias(&e, &c.idempotency_key).value,
            (None, None) => c.idempotency_key.clone(),
        };
        assert_eq!(body["alias"], json!(expected), "{}: the alias", seed.name);
        goldens.check("create", &seed.name, &body);
    }
    goldens.assert_current("cargo test -p herald-opsgenie");
}

#[test]
fn success_events_render_closes_that_match_the_goldens_and_the_schema() {
    let og = destination(DEFAULTS);
    let (schema, known) = validator("CloseAlertPayload");
    let mut goldens = Goldens::new(GOLDEN);
    let mut closes = 0;
    for seed in seed_events() {
        let e = envelope(&seed);
        let req = og.render(&e, &ctx(seed.id(), &Memory::local())).unwrap();
        let expect_close = e.severity == Severity::Success && e.correlation.is_some();
        assert_eq!(req.action == Action::Close, expect_close, "{}", seed.name);
        if req.action != Action::Close {
            continue;
        }
        closes += 1;
        assert!(
            req.url.as_str().ends_with("/close?identifierType=alias"),
            "{}: {}",
            seed.name,
            req.url
        );
        let body = req.json();
        let errors: Vec<String> = schema.iter_errors(&body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", seed.name);
        for key in body.as_object().unwrap().keys() {
            assert!(
                known.contains(key),
                "{}: `{key}` is not a CloseAlertPayload field",
                seed.name
            );
        }
        assert!(chars(&body["note"]) <= limits::NOTE);
        goldens.check("close", &seed.name, &body);
    }
    assert!(closes >= 5, "only {closes} success seeds closed an alert");
    goldens.assert_current("cargo test -p herald-opsgenie");
}

#[test]
fn the_hostile_event_is_escaped_and_kept_within_limits() {
    let og = destination(CREATE);
    let seed = herald_testkit::seed_event("hostile-injection");
    let e = envelope(&seed);
    let body = og
        .render(&e, &ctx(seed.id(), &Memory::local()))
        .unwrap()
        .json();
    assert_limits(&seed.name, &body);
    // HTML in the message (and, to be safe, the description) is escaped: no tag survives.
    for field in ["message", "description"] {
        let text = body[field].as_str().unwrap();
        assert!(
            !text.contains('<') && !text.contains('>'),
            "{field}: {text}"
        );
    }
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Rotation Failed: &lt;!channel&gt;"),
        "{message}"
    );
    assert!(message.ends_with('…'), "the long title is cut: {message}");
    let description = body["description"].as_str().unwrap();
    assert!(description.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        description.contains("&amp;amp;"),
        "entities in the event stay visible as typed"
    );
    // The 5,000-character value is cut, and the thirty facts are all listed.
    assert!(description.contains("Long value: AAAAAAAAAA"));
    assert!(description.contains("Field 30: value 30"));
    assert!(description.contains('…'));
    // Details stay plain text (used by Opsgenie's filters), bounded.
    assert_eq!(body["details"]["team"], "platform-engineering");
    assert!(chars(&body["details"]["Long value"]) <= 500);
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let (v, known) = validator("CreateAlertPayload");
    assert!(v.is_valid(&json!({"message": "m"})));
    assert!(!v.is_valid(&json!({"alias": "a"})), "message is required");
    assert!(!v.is_valid(&json!({"message": "m", "priority": "P9"})));
    assert!(
        !v.is_valid(&json!({"message": "m", "responders": [{"name": "ops"}]})),
        "responder type"
    );
    assert!(
        !v.is_valid(&json!({"message": "m", "details": {"a": 1}})),
        "details are strings"
    );
    assert!(known.contains(&"source".to_owned()) && known.contains(&"responders".to_owned()));
}
