use super::*;

const GOOD: &str = r#"
nats: {url: nats://127.0.0.1:4222}
destinations:
  - name: monitoring
    channel: webhook
    events: ["rotation.>", update.completed]
    when: {environment: production, severity_at_least: warning}
    url: https://monitoring.example.com/api/events
    signing: {scheme: standard-webhooks, secret: {from: {env: WEBHOOK_SECRET}}}
  - name: ops-slack
    channel: slack
    events: ["rotation.>"]
    retry: {max_attempts: 3, schedule: [1s, 5s]}
"#;

#[test]
fn a_good_file_parses_with_defaults() {
    let c = FleetConfig::from_yaml(GOOD, "fleet.yaml").unwrap();
    assert_eq!(c.stream.name, "HERALD_EVENTS");
    assert_eq!(c.destinations.len(), 2);
    let d = &c.destinations[0].value;
    assert_eq!(d.name(), "monitoring");
    assert_eq!(d.events.value.len(), 2);
    assert_eq!(d.retry.max_attempts, 10);
    assert_eq!(d.settings.len(), 2);
    assert_eq!(d.location_of("url").line(), 8);
    assert_eq!(c.destinations_for("slack").count(), 1);
    assert_eq!(c.destinations[1].value.retry.max_attempts, 3);
}

fn first_error(yaml: &str) -> ConfigError {
    FleetConfig::from_yaml(yaml, "fleet.yaml")
        .unwrap_err()
        .0
        .remove(0)
}

#[test]
fn unknown_top_level_keys_name_line_and_field() {
    let e = first_error("nats:\n  url: x\n  colour: blue\n");
    assert_eq!((e.file.as_str(), e.line), ("fleet.yaml", 3), "{e}");
    assert!(e.message.contains("colour"), "{e}");
}

#[test]
fn bad_common_fields_name_line_and_field() {
    let e = first_error(
        "destinations:\n  - name: a\n    channel: webhook\n    events: [\"rotation.>\"]\n    retry: {max_attempts: many}\n",
    );
    assert_eq!(e.line, 5, "{e}");
    assert_eq!(e.field, "destinations[0].retry.max_attempts", "{e}");
    let e =
        first_error("destinations:\n  - name: a\n    channel: webhook\n    events: [\"rot*\"]\n");
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("whole tokens"), "{e}");
    let e =
        first_error("destinations:\n  - name: Bad Name\n    channel: webhook\n    events: [a.b]\n");
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn semantic_errors_are_all_reported() {
    let errs = FleetConfig::from_yaml(
        "destinations:\n  - name: a\n    channel: webhook\n    events: [other.x]\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n",
        "f.yaml",
    )
    .unwrap_err();
    assert_eq!(errs.0.len(), 2, "{errs}");
    assert_eq!(errs.0[0].line, 4);
    assert!(errs.0[0].message.contains("stream"));
    assert_eq!(errs.0[1].line, 5);
    assert!(errs.0[1].to_string().starts_with("f.yaml:5:"), "{errs}");
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Hook {
    url: url::Url,
    #[serde(default)]
    signing: Option<serde_json::Value>,
}

#[test]
fn channel_settings_errors_point_at_their_key() {
    let yaml = "destinations:\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n    url: not a url\n";
    let c = FleetConfig::from_yaml(yaml, "f.yaml").unwrap();
    let e = c.destinations[0]
        .value
        .settings::<Hook>("f.yaml")
        .unwrap_err()
        .remove(0);
    assert_eq!(e.line, 5, "{e}");
    assert_eq!(e.field, "destinations[a].url");

    let yaml = "destinations:\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n    url: https://x\n    colour: red\n";
    let c = FleetConfig::from_yaml(yaml, "f.yaml").unwrap();
    let e = c.destinations[0]
        .value
        .settings::<Hook>("f.yaml")
        .unwrap_err()
        .remove(0);
    assert_eq!(e.line, 6, "{e}");
    assert!(e.message.contains("unknown field `colour`"), "{e}");
    assert!(e.message.contains("url"), "{e}");

    let yaml = "destinations:\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n    url: nope\n    colour: red\n";
    let c = FleetConfig::from_yaml(yaml, "f.yaml").unwrap();
    let errs = c.destinations[0]
        .value
        .settings::<Hook>("f.yaml")
        .unwrap_err();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!((errs[0].line, errs[1].line), (6, 5), "{errs:?}");
}

#[test]
fn nats_url_comes_from_the_environment() {
    let mut c = FleetConfig::from_yaml("{}", "f.yaml").unwrap();
    c.apply_env(|k| (k == "NATS_URL").then(|| "nats://10.0.0.1:4222".to_string()));
    assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
}

#[test]
fn the_metrics_server_is_on_by_default_and_can_be_moved_or_turned_off() {
    let c = FleetConfig::from_yaml("{}", "f.yaml").unwrap();
    assert_eq!(
        c.worker.metrics_listen,
        Some(std::net::SocketAddr::from(([0, 0, 0, 0], 9464)))
    );
    assert_eq!(c.status.bucket, "herald_status");
    assert_eq!(c.replay.subject_prefix, "herald.replay");
    let c = FleetConfig::from_yaml("worker: {metrics_listen: null}", "f.yaml").unwrap();
    assert_eq!(c.worker.metrics_listen, None);
    let mut c =
        FleetConfig::from_yaml("worker: {metrics_listen: \"127.0.0.1:0\"}", "f.yaml").unwrap();
    assert_eq!(c.worker.metrics_listen.map(|a| a.port()), Some(0));
    c.apply_env(|k| (k == "HERALD_METRICS_LISTEN").then(|| "off".to_string()));
    assert_eq!(c.worker.metrics_listen, None);
    let env =
        |v: &'static str| move |k: &str| (k == "HERALD_METRICS_LISTEN").then(|| v.to_string());
    assert!(FleetConfig::env_problems(env("127.0.0.1:9000")).is_empty());
    assert_eq!(FleetConfig::env_problems(env("nine")).len(), 1);
    let e = first_error("worker: {metrics_listen: localhost}");
    assert!(e.field.contains("metrics_listen"), "{e}");
}

#[test]
fn when_filters_events() {
    let c = FleetConfig::from_yaml(GOOD, "fleet.yaml").unwrap();
    let when = &c.destinations[0].value.when;
    let mut e = crate::envelope::ingest(
        &crate::envelope::RawEvent {
            subject: "rotation.failed",
            payload: br#"{"id":"1","environment":"production"}"#,
            headers: None,
            published: chrono::Utc::now(),
        },
        crate::envelope::IngestLimits::default(),
    )
    .unwrap();
    assert!(when.matches(&e));
    e.environment = Some("staging".into());
    assert!(!when.matches(&e));
    e.environment = Some("production".into());
    e.severity = crate::envelope::Severity::Info;
    assert!(!when.matches(&e));
}

#[test]
fn debug_output_hides_channel_values() {
    let yaml = "destinations:\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n    url: https://hooks.example/T0KEN\n";
    let c = FleetConfig::from_yaml(yaml, "f.yaml").unwrap();
    let debug = format!("{:?}", c.destinations[0].value);
    assert!(debug.contains("url"), "{debug}");
    assert!(!debug.contains("T0KEN"), "{debug}");
}
