use super::*;
use herald_testkit::{at, envelope, example_settings, try_destination};
use serde_json::{Value, json};

fn build(yaml_tail: &str) -> Result<Teams, String> {
    try_destination("ops-teams", yaml_tail)
}

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off("ops-teams", "e1", at("2026-11-23T15:00:00Z"))
}

fn event(subject: &str, payload: &Value) -> Envelope {
    envelope(
        subject,
        payload.to_string().as_bytes(),
        at("2026-11-23T14:30:00Z"),
    )
}

fn card(t: &Teams, e: &Envelope) -> Value {
    t.render(e, &ctx()).unwrap().json().unwrap()
}

#[test]
fn defaults_are_adaptive_on_workflows() {
    let t = build("    url: https://prod-1.westeurope.logic.azure.com/workflows/x?sig=s3cr3t\n")
        .unwrap();
    assert_eq!(t.format(), Format::Adaptive);
    assert_eq!(t.webhook_type(), WebhookType::Workflows);
    let c =
        build("    url: https://contoso.webhook.office.com/webhookb2/x\n    format: messagecard\n")
            .unwrap();
    assert_eq!(c.format(), Format::MessageCard);
    assert_eq!(c.webhook_type(), WebhookType::Connector);
    let d = Teams::defaults();
    assert_eq!(d.rate_limit.map(|r| r.per_second), Some(4.0));
}

#[test]
fn the_adaptive_card_carries_headline_facts_and_buttons() {
    let t =
        build("    url: https://x.logic.azure.com/w\n    message_prefix: \"[PROD]\"\n").unwrap();
    let e = event(
        "rotation.failed",
        &json!({"id": "e1", "source": "dsops", "service": "postgres-prod", "environment": "production",
            "fields": {"Strategy": "two-key", "Error": "Connection verification failed"},
            "links": [{"title": "Runbook", "url": "https://wiki.example.com/rb"},
                      {"title": "Local", "url": "file:///etc/passwd"}],
            "actions": [{"title": "Approve", "url": "https://h.example.com/approve"}]}),
    );
    let body = card(&t, &e);
    assert_eq!(body["type"], "message");
    let att = &body["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(att["contentUrl"].is_null());
    let c = &att["content"];
    assert_eq!(c["type"], "AdaptiveCard");
    assert_eq!(c["version"], "1.5");
    assert_eq!(
        c["body"][0]["text"],
        "❌ \\[PROD\\] Rotation Failed: postgres-prod"
    );
    assert_eq!(c["body"][0]["color"], "attention");
    let facts = c["body"][2]["facts"].as_array().unwrap();
    assert_eq!(
        facts[0],
        json!({"title": "Environment", "value": "production"})
    );
    assert_eq!(facts[1], json!({"title": "Strategy", "value": "two-key"}));
    let actions = c["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "the file: link is dropped: {actions:?}");
    assert_eq!(
        actions[0],
        json!({"type": "Action.OpenUrl", "title": "Approve", "url": "https://h.example.com/approve", "style": "positive"})
    );
    assert_eq!(actions[1]["title"], "Runbook");
    let footer = c["body"][3]["text"].as_str().unwrap();
    assert_eq!(footer, "dsops · rotation.failed · 2026-11-23 14:30 UTC");
}

#[test]
fn severities_pick_named_colours() {
    let t = build("    url: https://x.logic.azure.com/w\n").unwrap();
    for (subject, colour, theme) in [
        ("rotation.completed", "good", "22C55E"),
        ("rotation.started", "accent", "3B82F6"),
        ("cert.expiring", "warning", "F97316"),
        ("rotation.failed", "attention", "EF4444"),
        ("incident.detected", "attention", "EF4444"),
    ] {
        let e = event(subject, &json!({"id": "e1"}));
        assert_eq!(
            card(&t, &e)["attachments"][0]["content"]["body"][0]["color"],
            colour
        );
        let m = build("    url: https://x.logic.azure.com/w\n    format: messagecard\n").unwrap();
        assert_eq!(card(&m, &e)["themeColor"], theme);
    }
}

#[test]
fn the_messagecard_follows_certifyclouds() {
    let t =
        build("    url: https://contoso.webhook.office.com/x\n    format: messagecard\n").unwrap();
    let e = event(
        "rotation.failed",
        &json!({"id": "e1", "title": "Rotation Failed", "summary": "Failed to rotate secret for MyApp/client-secret",
            "fields": [{"title": "Application", "value": "MyApp"}, {"title": "Error", "value": "Insufficient permissions"}]}),
    );
    let c = card(&t, &e);
    assert_eq!(c["@type"], "MessageCard");
    assert_eq!(c["@context"], "https://schema.org/extensions");
    assert_eq!(c["summary"], "Rotation Failed");
    assert_eq!(c["themeColor"], "EF4444");
    assert_eq!(c["title"], "❌ Rotation Failed");
    assert_eq!(c["text"], "Failed to rotate secret for MyApp/client-secret");
    assert_eq!(
        c["sections"][0]["facts"],
        json!([{"name": "Application", "value": "MyApp"}, {"name": "Error", "value": "Insufficient permissions"}])
    );
    assert!(c.get("potentialAction").is_none());
}

#[test]
fn oversized_events_are_cut_to_the_limit() {
    let t = build("    url: https://x.logic.azure.com/w\n").unwrap();
    let m = build("    url: https://x.logic.azure.com/w\n    format: messagecard\n").unwrap();
    // Worst cases for the byte count: characters that are escaped and then
    // JSON-escaped, control characters, four-byte emoji, very long URLs.
    let nasty = "*\\<\u{1}😀".repeat(3_000);
    let link = |title: &str, url: String| herald_core::envelope::Link {
        title: title.to_owned(),
        url,
    };
    let mut links: Vec<_> = (0..20)
        .map(|i| {
            link(
                &nasty,
                format!("https://example.com/{i}/{}", "b".repeat(1500)),
            )
        })
        .collect();
    links.push(link(
        "too long",
        format!("https://example.com/{}", "a".repeat(5000)),
    ));
    let e = Envelope {
        id: "e1".into(),
        event_type: nasty.clone(),
        source: Some(nasty.clone()),
        time: chrono::DateTime::UNIX_EPOCH,
        severity: herald_core::envelope::Severity::Error,
        title: nasty.clone(),
        summary: nasty.clone(),
        resource: Some(nasty.clone()),
        environment: Some(nasty.clone()),
        fields: (0..60)
            .map(|i| herald_core::envelope::EventField {
                title: format!("{nasty}{i}"),
                value: nasty.clone(),
            })
            .collect(),
        actions: links.clone(),
        links,
        correlation: None,
        data: Value::Null,
    };
    for ch in [&t, &m] {
        let req = ch.render(&e, &ctx()).unwrap();
        assert!(req.body.len() <= MAX_BODY_BYTES, "{} bytes", req.body.len());
        let text = String::from_utf8_lossy(&req.body);
        assert!(text.contains('…'), "the cut is marked");
        assert!(text.contains("more not shown"), "hidden facts are counted");
        assert!(
            !text.contains(&"a".repeat(5000)),
            "over-long URLs are dropped"
        );
    }
}

#[test]
fn build_errors_name_the_field_and_line() {
    let e = build("    url: ftp://x\n").unwrap_err();
    assert!(
        e.starts_with("f.yaml:5:") && e.contains("destinations[ops-teams].url"),
        "{e}"
    );
    let e = build("    url: https://x\n    format: html\n").unwrap_err();
    assert!(e.contains("f.yaml:6:") && e.contains("format"), "{e}");
    let e = build("    url: https://x\n    colour: red\n").unwrap_err();
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e = build("    url: {from: {env: HERALD_TEST_SURELY_UNSET}}\n").unwrap_err();
    assert!(e.contains("HERALD_TEST_SURELY_UNSET"), "{e}");
}

#[test]
fn the_preview_hides_the_signature() {
    let t = build(
        "    url: https://prod-1.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t\n",
    )
    .unwrap();
    let req = t
        .render(&event("rotation.failed", &json!({"id": "e1"})), &ctx())
        .unwrap();
    let p = t.preview(&req);
    assert_eq!(p.target, "https://prod-1.westeurope.logic.azure.com/…");
    assert!(!format!("{p:?} {t:?} {req:?}").contains("s3cr3t"));
    assert_eq!(p.body.as_bytes(), &req.body[..]);
}

#[test]
fn env_only_configuration() {
    let vars = [
        ("TEAMS_WEBHOOK_URL", "https://x/y"),
        ("TEAMS_FORMAT", "messagecard"),
        ("HERALD_EVENTS", "update.>, cert.>"),
    ];
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_string())
    };
    let d = Teams::env_destination(&get).unwrap();
    assert_eq!(d["url"]["from"]["env"], "TEAMS_WEBHOOK_URL");
    assert_eq!(d["format"], "messagecard");
    assert_eq!(d["events"], json!(["update.>", "cert.>"]));
    assert!(Teams::env_destination(&|_| None).is_none());
}

/// The example configuration's Teams destinations, if it has any, are valid.
#[test]
fn the_example_configuration_parses() {
    example_settings::<TeamsSettings>("teams");
}
