//! Unit tests of the email channel: building, composing, classification.

use super::*;
use herald_core::config::FleetConfig;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::http::HttpReply;
use herald_core::worker::prepare;

fn build(yaml_tail: &str) -> Result<Email, String> {
    let yaml = format!(
        "destinations:\n  - name: mail\n    channel: email\n    events: [\"rotation.>\"]\n{yaml_tail}"
    );
    let config = FleetConfig::from_yaml(&yaml, "f.yaml").map_err(|e| e.to_string())?;
    prepare::<Email>(&config, "f.yaml")
        .map(|mut v| v.remove(0).channel)
        .map_err(|e| e.to_string())
}

const SMTP: &str = "    from: Herald <herald@example.com>\n    to: [ops@example.com]\n    smtp: {host: smtp.example.com}\n";

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off(
        "mail",
        "e1",
        chrono::DateTime::parse_from_rfc3339("2026-11-23T16:00:00Z")
            .unwrap()
            .into(),
    )
}

fn event(subject: &str, payload: &str) -> Envelope {
    ingest(
        &RawEvent {
            subject,
            payload: payload.as_bytes(),
            headers: None,
            published: chrono::Utc::now(),
        },
        IngestLimits::default(),
    )
    .unwrap()
}

fn completed() -> Envelope {
    event(
        "rotation.completed",
        r#"{"id":"e1","source":"dsops","service":"postgres-prod","environment":"production",
            "fields":{"Strategy":"two-key"}}"#,
    )
}

#[test]
fn the_subject_reads_like_dsops() {
    let e = build(SMTP).unwrap();
    let p = e.render(&completed(), &ctx()).unwrap();
    assert_eq!(
        p.mail.subject,
        "[dsops] Rotation Completed: postgres-prod (production)"
    );
    let custom = build(&format!("{SMTP}    subject_prefix: \"[PROD]\"\n")).unwrap();
    assert_eq!(
        custom.render(&completed(), &ctx()).unwrap().mail.subject,
        "[PROD] Rotation Completed: postgres-prod (production)"
    );
    let none = build(&format!("{SMTP}    subject_prefix: \"\"\n")).unwrap();
    assert_eq!(
        none.render(&completed(), &ctx()).unwrap().mail.subject,
        "Rotation Completed: postgres-prod (production)"
    );
}

#[test]
fn the_message_id_is_stable_per_event_and_destination() {
    let e = build(SMTP).unwrap();
    let a = e.render(&completed(), &ctx()).unwrap();
    let mut later = ctx();
    later.attempt = 3;
    later.now += chrono::Duration::minutes(5);
    let b = e.render(&completed(), &later).unwrap();
    assert_eq!(a.mail.message_id, b.mail.message_id);
    assert!(a.mail.message_id.ends_with("@example.com>"));
    let other = DeliveryContext::one_off("other", "e1", ctx().now);
    assert_ne!(
        e.render(&completed(), &other).unwrap().mail.message_id,
        a.mail.message_id
    );
}

#[test]
fn priority_follows_the_outcome() {
    let e = build(&format!(
        "{SMTP}    priority: {{on_failure: high, on_success: low}}\n"
    ))
    .unwrap();
    let failed = event("rotation.failed", r#"{"id":"f","service":"pg"}"#);
    let p = e.render(&failed, &ctx()).unwrap();
    assert_eq!(p.mail.priority, Priority::High);
    let mime = p.mime_text().unwrap();
    assert!(mime.contains("X-Priority: 1 (Highest)\r\n"), "{mime}");
    assert!(mime.contains("Importance: high\r\n"), "{mime}");
    assert_eq!(
        e.render(&completed(), &ctx()).unwrap().mail.priority,
        Priority::Low
    );
    let started = event("rotation.started", r#"{"id":"s","service":"pg"}"#);
    assert_eq!(
        e.render(&started, &ctx()).unwrap().mail.priority,
        Priority::Normal
    );
}

#[test]
fn no_event_text_can_add_a_header() {
    let e = build(SMTP).unwrap();
    let hostile = event(
        "rotation.failed",
        r#"{"id":"x\r\nBcc: victim@evil.example","title":"T\r\nBcc: victim@evil.example\r\n\r\nbody",
            "environment":"prod\nX-Evil: 1","type":"rotation.failed\r\nX-Evil: 2"}"#,
    );
    let p = e.render(&hostile, &ctx()).unwrap();
    let mime = p.mime_text().unwrap();
    let head = mime.split("\r\n\r\n").next().unwrap();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        assert!(!lower.starts_with("bcc:"), "{line}");
        assert!(!lower.starts_with("x-evil"), "{line}");
    }
    assert_eq!(p.mail.event_id, "x Bcc: victim@evil.example");
    let env = match &p.wire {
        Wire::Smtp { envelope, .. } => envelope.to().to_vec(),
        Wire::Graph { .. } => unreachable!(),
    };
    assert_eq!(env.len(), 1, "only the configured recipient");
}

#[test]
fn bcc_is_in_the_envelope_only() {
    let e = build("    from: herald@example.com\n    to: [a@example.com]\n    cc: [b@example.com]\n    bcc: [hidden@example.com]\n    reply_to: oncall@example.com\n    smtp: {host: smtp.example.com}\n").unwrap();
    let p = e.render(&completed(), &ctx()).unwrap();
    let mime = p.mime_text().unwrap();
    assert!(!mime.contains("hidden@example.com"), "{mime}");
    assert!(mime.contains("Cc: b@example.com\r\n"));
    assert!(mime.contains("Reply-To: oncall@example.com\r\n"));
    let Wire::Smtp { envelope, .. } = &p.wire else {
        unreachable!()
    };
    let to: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
    assert_eq!(to, ["a@example.com", "b@example.com", "hidden@example.com"]);
}

#[test]
fn build_errors_name_the_field_and_line() {
    let e = build(&format!("{SMTP}    batch: daily\n    at: 7am\n")).unwrap_err();
    assert!(e.contains("at") && e.contains("HH:MM"), "{e}");
    assert!(e.starts_with("f.yaml:9:"), "{e}");
    let e = build("    from: not an address\n    to: [a@example.com]\n    smtp: {host: h}\n")
        .unwrap_err();
    assert!(e.contains("destinations[mail].from"), "{e}");
    let e = build("    from: a@example.com\n    to: [a@example.com, nope]\n    smtp: {host: h}\n")
        .unwrap_err();
    assert!(e.contains("to[1]"), "{e}");
    let e = build("    from: a@example.com\n    smtp: {host: h}\n").unwrap_err();
    assert!(e.contains("at least one recipient"), "{e}");
    let e = build("    from: a@example.com\n    to: [b@example.com]\n").unwrap_err();
    assert!(e.contains("`smtp` or `graph`"), "{e}");
    let e = build("    from: a@example.com\n    to: [b@example.com]\n    smtp: {host: h, tls: none, username: u, password: p}\n").unwrap_err();
    assert!(e.contains("smtp.tls") && e.contains("without TLS"), "{e}");
    let e = build(
        "    from: a@example.com\n    to: [b@example.com]\n    smtp: {host: h, username: u}\n",
    )
    .unwrap_err();
    assert!(e.contains("smtp.password"), "{e}");
    let e = build("    from: a@example.com\n    to: [b@example.com]\n    graph: {tenant_id: t, client_id: c}\n").unwrap_err();
    assert!(e.contains("graph.client_secret"), "{e}");
    let e = build("    from: a@example.com\n    to: [b@example.com]\n    graph: {tenant_id: t, client_id: c, auth: certificate, certificate: nope}\n").unwrap_err();
    assert!(e.contains("graph.certificate") && e.contains("PEM"), "{e}");
    let e =
        build("    from: a@example.com\n    to: [b@example.com]\n    smtp: {host: h, prot: 25}\n")
            .unwrap_err();
    assert!(e.contains("prot"), "{e}");
}

#[test]
fn graph_wins_when_both_are_configured() {
    let e = build("    from: Herald <noreply@example.com>\n    to: [ops@example.com]\n    smtp: {host: smtp.example.com}\n    graph: {tenant_id: contoso.onmicrosoft.com, client_id: 0000-1111, client_secret: s3cr3t}\n").unwrap();
    let p = e.render(&completed(), &ctx()).unwrap();
    let body = p.graph_json().unwrap();
    assert_eq!(body["message"]["importance"], "normal");
    assert_eq!(body["saveToSentItems"], false);
    assert!(
        body["message"].get("from").is_none(),
        "the sender is the from"
    );
    let preview = e.preview(&p);
    assert_eq!(preview.method, "POST");
    assert_eq!(
        preview.target,
        "https://graph.microsoft.com/v1.0/users/noreply%40example%2Ecom/sendMail"
    );
    assert!(!format!("{preview:?}").contains("s3cr3t"));
}

#[test]
fn the_smtp_preview_shows_headers_and_both_parts() {
    let e = build(
        "    from: herald@example.com\n    to: [ops@example.com]\n    smtp: {host: smtp.example.com, username: u, password: hunter2}\n",
    )
    .unwrap();
    let p = e.render(&completed(), &ctx()).unwrap();
    let preview = e.preview(&p);
    assert_eq!(preview.method, "SMTP");
    assert_eq!(preview.target, "smtp://smtp.example.com:587");
    let names: Vec<&str> = preview.headers.iter().map(|(n, _)| n.as_str()).collect();
    for n in [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "X-Priority",
        "Importance",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(
        preview
            .body
            .contains("----- text/plain -----\n✅ Rotation Completed")
    );
    assert!(
        preview
            .body
            .contains("----- text/html -----\n<!DOCTYPE html>")
    );
    assert!(!format!("{preview:?}").contains("hunter2"));
}

fn reply(status: u16, body: &str) -> HttpReply {
    HttpReply {
        status,
        headers: reqwest::header::HeaderMap::new(),
        body: body.as_bytes().to_vec(),
        retry_after: None,
    }
}

#[test]
fn graph_answers_are_classified() {
    let ok = graph::classify(&reply(202, ""), "<m@x>");
    assert!(
        matches!(ok, Outcome::Delivered { handle: Some(ref h), status: Some(202), .. } if h == "<m@x>")
    );
    let throttled = graph::classify(
        &reply(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"Please retry again later."}}"#,
        ),
        "<m@x>",
    );
    assert!(
        matches!(throttled, Outcome::Retry(ref f) if f.throttled && f.reason.contains("TooManyRequests"))
    );
    assert!(matches!(
        graph::classify(&reply(503, ""), "m"),
        Outcome::Retry(_)
    ));
    for (status, code, broken) in [
        (400, "ErrorMimeContentInvalidBase64String", false),
        (401, "InvalidAuthenticationToken", true),
        (403, "ErrorAccessDenied", true),
        (404, "ErrorInvalidUser", true),
    ] {
        let body = format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        match graph::classify(&reply(status, &body), "m") {
            Outcome::Permanent(f) => {
                assert!(f.reason.contains(code), "{f:?}");
                assert_eq!(f.broken, broken, "{status}");
                assert_eq!(f.status, Some(status));
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[test]
fn env_only_configuration() {
    let vars = [
        ("EMAIL_TO", "ops@example.com, sec@example.com"),
        ("SMTP_HOST", "smtp.example.com"),
        ("SMTP_PORT", "2525"),
        ("SMTP_USERNAME", "u"),
        ("SMTP_FROM", "noreply@example.com"),
    ];
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    };
    let d = Email::env_destination(&get).unwrap();
    assert_eq!(
        d["to"],
        serde_json::json!(["ops@example.com", "sec@example.com"])
    );
    assert_eq!(d["smtp"]["port"], 2525);
    assert_eq!(d["smtp"]["password"]["from"]["env"], "SMTP_PASSWORD");
    let graph = [
        ("ADMIN_EMAIL", "admin@example.com"),
        ("O365_EMAIL_ENABLED", "true"),
        ("O365_TENANT_ID", "t"),
        ("O365_CLIENT_ID", "c"),
        ("O365_SENDER_EMAIL", "noreply@example.com"),
        ("SMTP_HOST", "smtp.example.com"),
    ];
    let get = |k: &str| {
        graph
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    };
    let d = Email::env_destination(&get).unwrap();
    assert!(d.get("smtp").is_none(), "Graph wins");
    assert_eq!(
        d["graph"]["client_secret"]["from"]["env"],
        "O365_CLIENT_SECRET"
    );
    assert_eq!(d["from"], "noreply@example.com");
    assert!(Email::env_destination(&|_| None).is_none());
}

fn window(e: &Email, events: Vec<Envelope>) -> Digest {
    let schedule = e.schedule().cloned().unwrap();
    let end = schedule.window_end(ctx().now);
    Digest::new("mail", &schedule, schedule.window_start(end), end, events)
}

#[test]
fn schedule_settings_are_checked_and_named() {
    let weekly = build(&format!(
        "{SMTP}    batch: weekly\n    weekday: monday\n    at: \"07:00\"\n    timezone: Europe/Prague\n"
    ))
    .unwrap();
    assert_eq!(
        weekly.schedule().unwrap().to_string(),
        "weekly on Mon at 07:00 Europe/Prague"
    );
    assert!(build(SMTP).unwrap().schedule().is_none());
    let e = build(&format!(
        "{SMTP}    batch: daily\n    timezone: Mars/Base\n"
    ))
    .unwrap_err();
    assert!(e.contains("timezone") && e.contains("IANA"), "{e}");
    let e = build(&format!("{SMTP}    batch: monthly\n")).unwrap_err();
    assert!(e.contains("`weekly`"), "{e}");
    let e = build(&format!("{SMTP}    report: expiry\n")).unwrap_err();
    assert!(e.contains("report") && e.contains("batch"), "{e}");
}

#[test]
fn a_digest_subject_and_parts_stay_safe() {
    let e = build(&format!("{SMTP}    batch: daily\n    at: \"07:00\"\n")).unwrap();
    let hostile = event(
        "rotation.failed",
        r#"{"id":"h1","source":"dsops\r\nBcc: victim@example.com","title":"<script>x</script>\r\nX-Evil: 1","summary":"a\r\nb"}"#,
    );
    let p = e
        .render_digest(&window(&e, vec![hostile, completed()]), &ctx())
        .unwrap()
        .unwrap();
    assert!(!p.mail.subject.contains(['\r', '\n']));
    assert!(
        p.mail
            .subject
            .starts_with("[Herald] Daily digest: 2 events, 1 failure (")
    );
    assert!(p.mail.html.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(!p.mail.html.contains("<script>"));
    assert_eq!(p.mail.priority, Priority::High);
    let Wire::Smtp { mime, .. } = &p.wire else {
        panic!("not SMTP")
    };
    let head = String::from_utf8_lossy(mime);
    let head = head.split("\r\n\r\n").next().unwrap();
    assert!(
        !head
            .lines()
            .any(|l| l.starts_with("Bcc:") || l.starts_with("X-Evil:"))
    );
}

#[test]
fn an_expiry_report_with_nothing_due_sends_nothing() {
    let e = build(&format!(
        "{SMTP}    batch: weekly\n    report: expiry\n    horizon: 30d\n"
    ))
    .unwrap();
    let far = event(
        "cert.expiring",
        r#"{"id":"c1","data":{"certificate":{"common_name":"a.example.com","not_after":"2027-06-01T00:00:00Z"}}}"#,
    );
    assert!(
        e.render_digest(&window(&e, vec![far]), &ctx())
            .unwrap()
            .is_none()
    );
    let near = event(
        "cert.expiring",
        r#"{"id":"c2","data":{"certificate":{"common_name":"b.example.com","not_after":"2026-12-01T00:00:00Z"}}}"#,
    );
    let p = e
        .render_digest(&window(&e, vec![near]), &ctx())
        .unwrap()
        .unwrap();
    assert!(
        p.mail
            .subject
            .ends_with("1 certificate and 0 secrets expire within 30 days")
    );
    assert!(
        p.mail
            .text
            .contains("2026-12-01     8  certificate  b.example.com"),
        "{}",
        p.mail.text
    );
}
