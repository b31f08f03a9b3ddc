use super::*;
use herald_core::config::FleetConfig;
use herald_testkit::{at, envelope, example_settings, try_destination};
use serde_json::{Value, json};

const KEY: &str = "R0UT1NGKEY0000000000000000000000";

fn build(yaml_tail: &str) -> Result<PagerDuty, String> {
    try_destination("oncall", &format!("    routing_key: {KEY}\n{yaml_tail}"))
}

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off("oncall", "e1", at("2026-11-23T15:00:00Z"))
}

fn event(subject: &str, payload: &Value) -> Envelope {
    envelope(
        subject,
        payload.to_string().as_bytes(),
        at("2026-11-23T14:30:00Z"),
    )
}

fn failed() -> Envelope {
    event(
        "rotation.failed",
        &json!({"id": "f1", "source": "dsops", "service": "postgres-prod", "environment": "production",
            "time": "2026-11-23T14:30:41Z", "correlation": "rot-1",
            "fields": [{"title": "Environment", "value": "production"}, {"title": "Strategy", "value": "two-key"},
                       {"title": "Error", "value": "Connection verification failed"}],
            "links": [{"title": "Runbook", "url": "https://wiki.example.com/runbooks/rotation-failure"},
                      {"title": "Shell", "url": "file:///bin/sh"}]}),
    )
}

fn completed() -> Envelope {
    event(
        "rotation.completed",
        &json!({"id": "c1", "source": "dsops", "service": "postgres-prod", "environment": "production",
            "time": "2026-11-23T14:32:15Z", "correlation": "rot-1"}),
    )
}

#[test]
fn a_trigger_reads_like_dsops() {
    let pd =
        build("    custom_details: {team: platform-engineering, environment: staging}\n").unwrap();
    let req = pd.render(&failed(), &ctx()).unwrap();
    assert_eq!(req.action, EventAction::Trigger);
    assert_eq!(req.dedup_key, "herald-rot-1");
    let b = req.json().unwrap();
    assert_eq!(b["routing_key"], KEY);
    assert_eq!(b["event_action"], "trigger");
    assert_eq!(b["dedup_key"], "herald-rot-1");
    let p = &b["payload"];
    assert_eq!(
        p["summary"],
        "dsops rotation failed: postgres-prod (production)"
    );
    assert_eq!(p["source"], "dsops-rotation");
    assert_eq!(p["severity"], "error");
    assert_eq!(p["timestamp"], "2026-11-23T14:30:41Z");
    assert_eq!(p["component"], "postgres-prod");
    assert_eq!(p["group"], "production");
    assert_eq!(p["class"], "rotation.failed");
    assert_eq!(
        p["custom_details"],
        json!({
            "service": "postgres-prod",
            "environment": "production",
            "strategy": "two-key",
            "error": "Connection verification failed",
            "timestamp": "2026-11-23T14:30:41Z",
            "runbook": "https://wiki.example.com/runbooks/rotation-failure",
            "team": "platform-engineering",
        })
    );
    let order: Vec<&String> = p["custom_details"].as_object().unwrap().keys().collect();
    assert_eq!(
        order,
        [
            "service",
            "environment",
            "strategy",
            "error",
            "timestamp",
            "runbook",
            "team"
        ]
    );
    assert_eq!(
        b["links"],
        json!([{"href": "https://wiki.example.com/runbooks/rotation-failure", "text": "Runbook"}])
    );
    assert!(b.get("client").is_none());
}

#[test]
fn settings_override_the_event() {
    let pd = build(
        "    severity: critical\n    source: dsops-rotation-prod\n    component: db\n    group: core\n    class: secret-rotation\n    client: dsops\n    client_url: https://dsops.example.com/runs\n",
    )
    .unwrap();
    let b = pd.render(&failed(), &ctx()).unwrap().json().unwrap();
    let p = &b["payload"];
    assert_eq!(
        (
            &p["severity"],
            &p["source"],
            &p["component"],
            &p["group"],
            &p["class"]
        ),
        (
            &json!("critical"),
            &json!("dsops-rotation-prod"),
            &json!("db"),
            &json!("core"),
            &json!("secret-rotation")
        )
    );
    assert_eq!(b["client"], "dsops");
    assert_eq!(b["client_url"], "https://dsops.example.com/runs");
}

#[test]
fn successes_resolve_only_with_auto_resolve() {
    let plain = build("").unwrap();
    let req = plain.render(&completed(), &ctx()).unwrap();
    assert_eq!(req.action, EventAction::Trigger);
    assert_eq!(req.json().unwrap()["payload"]["severity"], "info");

    let auto = build("    auto_resolve: true\n").unwrap();
    let req = auto.render(&completed(), &ctx()).unwrap();
    assert_eq!(req.action, EventAction::Resolve);
    assert_eq!(
        req.json().unwrap(),
        json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "herald-rot-1"})
    );
    // The failure still triggers, with the same key.
    let trig = auto.render(&failed(), &ctx()).unwrap();
    assert_eq!(
        (trig.action, trig.dedup_key),
        (EventAction::Trigger, req.dedup_key)
    );
    // resolve_on: a warning that ends the incident.
    let rb = event(
        "update.rollback_completed",
        &json!({"id": "r1", "correlation": "nginx-update"}),
    );
    assert_eq!(rb.severity, herald_core::envelope::Severity::Warning);
    assert_eq!(
        auto.render(&rb, &ctx()).unwrap().action,
        EventAction::Resolve
    );
    let custom = build("    auto_resolve: true\n    resolve_on: [rotation.rollback]\n").unwrap();
    assert_eq!(
        custom.render(&rb, &ctx()).unwrap().action,
        EventAction::Trigger
    );
    let manual = event("rotation.rollback", &json!({"id": "m1"}));
    assert_eq!(
        custom.render(&manual, &ctx()).unwrap().action,
        EventAction::Resolve
    );
}

#[test]
fn the_endpoint_follows_region_and_events_url() {
    assert_eq!(build("").unwrap().events_url().as_str(), US_EVENTS_URL);
    assert_eq!(
        build("    region: eu\n").unwrap().events_url().as_str(),
        EU_EVENTS_URL
    );
    assert_eq!(
        build("    events_url: http://127.0.0.1:9/v2/enqueue\n")
            .unwrap()
            .events_url()
            .as_str(),
        "http://127.0.0.1:9/v2/enqueue"
    );
    let e = build("    region: eu\n    events_url: https://x/v2/enqueue\n").unwrap_err();
    assert!(e.contains("not both") && e.contains("f.yaml:6:"), "{e}");
    let e = build("    region: mars\n").unwrap_err();
    assert!(e.contains("region"), "{e}");
    let e = build("    events_url: ftp://x\n").unwrap_err();
    assert!(e.contains("events_url"), "{e}");
    let e = build("    client_url: nope\n").unwrap_err();
    assert!(e.contains("client_url"), "{e}");
    let e = build("    severity: success\n").unwrap_err();
    assert!(e.contains("severity"), "{e}");
    let e = build("    integration_key: x\n").unwrap_err();
    assert!(e.contains("unknown field `integration_key`"), "{e}");
}

#[test]
fn a_missing_key_names_its_variable() {
    let keys = "    routing_key: {from: {env: HERALD_TEST_SURELY_UNSET}}\n";
    let e = try_destination::<PagerDuty>("oncall", keys).unwrap_err();
    assert!(
        e.contains("routing_key") && e.contains("HERALD_TEST_SURELY_UNSET"),
        "{e}"
    );
}

#[test]
fn the_preview_hides_the_routing_key() {
    let pd = build("").unwrap();
    let req = pd.render(&failed(), &ctx()).unwrap();
    let p = pd.preview(&req);
    assert_eq!(p.target, US_EVENTS_URL);
    let shown = format!("{p:?} {pd:?} {req:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(
        p.body.contains("\"routing_key\":\"<redacted>\""),
        "{}",
        p.body
    );
}

#[test]
fn oversized_events_keep_the_limits() {
    let pd = build("").unwrap();
    let huge = "x".repeat(60_000);
    let fields: serde_json::Map<String, Value> = (0..14)
        .map(|i| (format!("Field {i}"), Value::from(huge.clone())))
        .collect();
    let e = event(
        "rotation.failed",
        &json!({"id": "big", "service": huge, "correlation": huge, "fields": fields}),
    );
    let req = pd.render(&e, &ctx()).unwrap();
    assert!(req.body.len() <= MAX_BODY_BYTES, "{} bytes", req.body.len());
    let b = req.json().unwrap();
    let summary = b["payload"]["summary"].as_str().unwrap();
    assert!(summary.chars().count() <= MAX_SUMMARY_CHARS && summary.ends_with('…'));
    assert!(b["dedup_key"].as_str().unwrap().chars().count() <= MAX_DEDUP_KEY_CHARS);
    assert!(b["payload"]["component"].as_str().unwrap().chars().count() <= 255);
    let details = b["payload"]["custom_details"].as_object().unwrap();
    assert!(details["field_0"].as_str().unwrap().ends_with('…'));
}

#[test]
fn env_only_configuration() {
    let vars = [
        ("PAGERDUTY_ROUTING_KEY", "abc"),
        ("PAGERDUTY_AUTO_RESOLVE", "true"),
        ("PAGERDUTY_REGION", "EU"),
    ];
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_string())
    };
    let d = PagerDuty::env_destination(&get).unwrap();
    assert_eq!(d["routing_key"]["from"]["env"], "PAGERDUTY_ROUTING_KEY");
    assert_eq!(d["auto_resolve"], true);
    assert_eq!(d["region"], "eu");
    assert_eq!(
        d["when"],
        json!({"severity": ["success", "warning", "error", "critical"]})
    );
    let only_key = |k: &str| (k == "PAGERDUTY_ROUTING_KEY").then(|| "abc".to_owned());
    let d = PagerDuty::env_destination(&only_key).unwrap();
    assert_eq!(d["when"], json!({"severity_at_least": "warning"}));
    assert!(d.get("auto_resolve").is_none());
    assert!(PagerDuty::env_destination(&|_| None).is_none());
    // The whole document is a valid configuration.
    let doc = json!({"destinations": [PagerDuty::env_destination(&get).unwrap()]}).to_string();
    let config = FleetConfig::from_yaml(&doc, "<environment>").unwrap();
    assert_eq!(config.destinations_for("pagerduty").count(), 1);
}

/// The example configuration's PagerDuty destinations, if it has any, are valid.
#[test]
fn the_example_configuration_parses() {
    example_settings::<PagerDutySettings>("pagerduty");
}
