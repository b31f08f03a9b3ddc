use super::*;
use herald_testkit::{at, envelope, try_destination};

const BASE: &str = "    base_url: https://acme.atlassian.net\n    email: ops@example.com\n    api_token: t0k3n\n    project_key: SEC\n";

fn build(yaml_tail: &str) -> Result<Jira, String> {
    try_destination("jira", yaml_tail)
}

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off("jira", "e1", at("2026-11-23T15:00:00Z"))
}

fn event(subject: &str, body: &str) -> Envelope {
    envelope(subject, body.as_bytes(), at("2026-11-23T14:30:00Z"))
}

#[test]
fn the_create_body_carries_project_type_labels_and_priority() {
    let j = build(&format!(
        "{BASE}    labels: [herald, secrets]\n    priority: {{error: High}}\n    fields: {{customfield_10010: {{value: Security}}}}\n    message_prefix: \"[PROD]\"\n"
    ))
    .unwrap();
    let e = event(
        "rotation.failed",
        r#"{"id":"e1","service":"pg","environment":"production","correlation":"rot-1"}"#,
    );
    let plan = j.render(&e, &ctx()).unwrap();
    assert_eq!(plan.kind, Kind::Raise);
    let f = &plan.create["fields"];
    assert_eq!(f["project"]["key"], "SEC");
    assert_eq!(f["issuetype"]["name"], "Task");
    assert_eq!(f["summary"], "[PROD] Rotation Failed: pg");
    assert_eq!(f["priority"]["name"], "High");
    assert_eq!(f["customfield_10010"]["value"], "Security");
    assert_eq!(
        f["labels"],
        serde_json::json!(["herald", "secrets", label(&e, "x").value])
    );
    assert!(
        plan.label.starts_with("herald-") && plan.label.len() == 23,
        "{}",
        plan.label
    );
    assert_eq!(plan.marker, ctx().idempotency_key);
    assert!(adf::plain_text(&f["description"]).contains(&plan.marker));
    assert_eq!(plan.comment["body"], f["description"]);
    // Info events get no priority: the project's default applies.
    let started = event("rotation.started", r#"{"id":"e2","correlation":"rot-1"}"#);
    assert!(
        j.render(&started, &ctx()).unwrap().create["fields"]
            .get("priority")
            .is_none()
    );
}

#[test]
fn labels_follow_the_correlation() {
    let a = event("rotation.failed", r#"{"id":"a","correlation":"rot-1"}"#);
    let b = event("rotation.completed", r#"{"id":"b","correlation":"rot-1"}"#);
    let c = event("rotation.failed", r#"{"id":"c","correlation":"rot-2"}"#);
    assert_eq!(label(&a, "k1"), label(&b, "k2"));
    assert_ne!(label(&a, "k1"), label(&c, "k1"));
    let r1 = event("rotation.failed", r#"{"id":"a","service":"pg"}"#);
    let r2 = event("rotation.completed", r#"{"id":"b","service":"pg"}"#);
    assert_eq!(label(&r1, "k1"), label(&r2, "k2"));
    let lone = event("rotation.failed", r#"{"id":"a"}"#);
    assert!(!label(&lone, "k1").shared);
    assert_ne!(label(&lone, "k1"), label(&lone, "k2"));
}

#[test]
fn success_resolves_only_with_a_transition() {
    let done = event("rotation.completed", r#"{"id":"b","correlation":"rot-1"}"#);
    let plain = build(BASE).unwrap();
    assert_eq!(plain.render(&done, &ctx()).unwrap().kind, Kind::Raise);
    let resolving = build(&format!("{BASE}    resolve_transition: Done\n")).unwrap();
    let plan = resolving.render(&done, &ctx()).unwrap();
    assert_eq!(plan.kind, Kind::Resolve);
    let p = resolving.preview(&plan);
    assert!(
        p.target.contains("/comment") && p.target.contains("Done"),
        "{}",
        p.target
    );
}

#[test]
fn summaries_are_one_line_and_bounded() {
    let j = build(BASE).unwrap();
    let e = event(
        "rotation.failed",
        &format!(
            r#"{{"id":"a","title":"line one\nline two {}"}}"#,
            "x".repeat(400)
        ),
    );
    let s = j.render(&e, &ctx()).unwrap().summary;
    assert!(!s.contains('\n'));
    assert!(s.starts_with("line one line two"));
    assert_eq!(s.chars().count(), 255);
    assert!(s.ends_with('…'));
}

#[test]
fn build_errors_name_the_field() {
    let e = build(&BASE.replace("SEC", "sec")).unwrap_err();
    assert!(e.contains("project_key"), "{e}");
    let e = build(&format!("{BASE}    labels: [\"two words\"]\n")).unwrap_err();
    assert!(e.contains("labels[0]"), "{e}");
    let e = build(&format!("{BASE}    fields: {{summary: x}}\n")).unwrap_err();
    assert!(e.contains("fields.summary"), "{e}");
    let e = build(&BASE.replace("https://acme.atlassian.net", "ftp://x")).unwrap_err();
    assert!(e.contains("base_url"), "{e}");
    let e = build(&BASE.replace("t0k3n", "{from: {env: HERALD_TEST_SURELY_UNSET}}")).unwrap_err();
    assert!(
        e.contains("api_token") && e.contains("HERALD_TEST_SURELY_UNSET"),
        "{e}"
    );
    let e = build(&format!("{BASE}    transition: Done\n")).unwrap_err();
    assert!(e.contains("unknown field `transition`"), "{e}");
}

#[test]
fn the_preview_hides_the_credentials() {
    let j = build(BASE).unwrap();
    let plan = j
        .render(&event("rotation.failed", r#"{"id":"a"}"#), &ctx())
        .unwrap();
    let p = j.preview(&plan);
    assert!(
        p.target
            .starts_with("https://acme.atlassian.net/rest/api/3/issue")
    );
    let all = format!("{p:?} {j:?} {plan:?}");
    assert!(
        !all.contains("t0k3n") && !all.contains("b3BzQGV4YW1wbGUuY29tOnQwazNu"),
        "{all}"
    );
    assert!(
        p.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Basic <redacted>")
    );
}

#[test]
fn env_only_configuration() {
    let vars = [
        ("JIRA_BASE_URL", "https://acme.atlassian.net"),
        ("JIRA_PROJECT_KEY", "SEC"),
        ("JIRA_EMAIL", "ops@example.com"),
        ("JIRA_API_TOKEN", "t"),
    ];
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_string())
    };
    let d = Jira::env_destination(&get).unwrap();
    assert_eq!(d["api_token"]["from"]["env"], "JIRA_API_TOKEN");
    assert_eq!(d["email"]["from"]["env"], "JIRA_EMAIL");
    assert_eq!(d["project_key"], "SEC");
    assert!(Jira::env_destination(&|_| None).is_none());
}

#[test]
fn the_test_notice_says_an_issue_is_created() {
    assert!(Jira::TEST_NOTICE.contains("creates a real issue"));
}
