//! `send` over SMTP against a real server (aiosmtpd with STARTTLS and AUTH
//! required), the mail read back as MIME: success and pooling, reply classes,
//! refused recipients, bad credentials, an untrusted certificate, and the
//! server down then up.

use chrono::Utc;
use herald_core::config::FleetConfig;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::worker::prepare;
use herald_core::{Channel, DeliveryContext, Envelope, Outcome};
use herald_email::Email;
use herald_testkit::{SmtpScript, SmtpServer, seed_event};
use mail_parser::MessageParser;
use std::time::Duration;

const SOON: Duration = Duration::from_secs(30);

fn email(server: &SmtpServer, extra: &str, password: &str) -> Email {
    let yaml = format!(
        "destinations:\n  - name: ops-mail\n    channel: email\n    events: [\"rotation.>\"]\n    from: Herald <herald@example.com>\n    to: [ops@example.com, security@example.com]\n    bcc: [audit@example.com]\n    timeout: 10s\n    smtp:\n      host: localhost\n      port: {}\n      username: {}\n      password: {password}\n{extra}",
        server.port(),
        server.username(),
    );
    let config = FleetConfig::from_yaml(&yaml, "t.yaml").expect("the test configuration");
    prepare::<Email>(&config, "t.yaml")
        .expect("the destination builds")
        .remove(0)
        .channel
}

fn trusted(server: &SmtpServer) -> Email {
    email(
        server,
        &format!("      ca_file: {}\n", server.ca_file().display()),
        server.password(),
    )
}

fn event(seed: &str, id: &str) -> Envelope {
    let s = seed_event(seed);
    let mut json = s.json.clone();
    json["id"] = id.into();
    ingest(
        &RawEvent {
            subject: &s.subject,
            payload: json.to_string().as_bytes(),
            headers: None,
            published: Utc::now(),
        },
        IngestLimits::default(),
    )
    .expect("the seed ingests")
}

async fn send(channel: &Email, e: &Envelope) -> Outcome {
    let ctx = DeliveryContext::one_off("ops-mail", &e.id, Utc::now());
    let payload = channel.render(e, &ctx).expect("renders");
    channel.send(&payload, &ctx).await
}

#[tokio::test]
async fn a_mail_arrives_over_starttls_with_auth_and_both_parts() {
    let server = SmtpServer::start().await.unwrap();
    let channel = trusted(&server);
    let e = event("dsops-rotation.failed", "smtp-ok-1");
    let outcome = send(&channel, &e).await;
    let Outcome::Delivered { handle, status, .. } = outcome else {
        panic!("{outcome:?}\n{}", server.server_log());
    };
    assert_eq!(status, Some(250));
    let m = server.wait_for_messages(1, SOON).await.unwrap().remove(0);
    assert!(m.tls, "the session was upgraded with STARTTLS");
    assert_eq!(m.auth_user.as_deref(), Some("herald"));
    assert_eq!(m.mail_from, "herald@example.com");
    assert_eq!(
        m.rcpt_tos,
        [
            "ops@example.com",
            "security@example.com",
            "audit@example.com"
        ]
    );
    let parsed = MessageParser::default().parse(&m.data).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("[dsops] Rotation Failed: postgres-prod (production)")
    );
    let id = parsed.message_id().unwrap();
    assert_eq!(handle.as_deref(), Some(format!("<{id}>").as_str()));
    assert!(id.ends_with("@example.com"));
    assert_eq!(
        parsed.header_raw("X-Priority").map(str::trim),
        Some("1 (Highest)")
    );
    assert_eq!(parsed.header_raw("Importance").map(str::trim), Some("high"));
    assert!(parsed.header_raw("Bcc").is_none());
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .starts_with("❌ Rotation Failed: postgres-prod")
    );
    assert!(parsed.body_html(0).unwrap().contains("<table"));

    // The same event again is the same mail (same Message-ID), on the pooled connection.
    let again = send(&channel, &e).await;
    assert!(matches!(again, Outcome::Delivered { .. }), "{again:?}");
    let both = server.wait_for_messages(2, SOON).await.unwrap();
    let second = MessageParser::default().parse(&both[1].data).unwrap();
    assert_eq!(second.message_id(), Some(id));
    assert_eq!(both[0].peer, both[1].peer, "the connection was reused");
}

#[tokio::test]
async fn a_4yz_is_retried_and_a_5yz_is_permanent() {
    let server = SmtpServer::start().await.unwrap();
    server
        .script(&SmtpScript::default().data(&[
            "451 4.3.0 Mail server temporarily rejected message",
            "554 5.6.0 Message content rejected",
        ]))
        .unwrap();
    let channel = trusted(&server);
    let e = event("dsops-rotation.completed", "smtp-4yz");
    match send(&channel, &e).await {
        Outcome::Retry(f) => {
            assert_eq!(f.status, Some(451), "{f:?}");
            assert!(f.reason.contains("temporarily rejected"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    match send(&channel, &e).await {
        Outcome::Permanent(f) => {
            assert_eq!(f.status, Some(554), "{f:?}");
            assert!(f.excerpt.unwrap().contains("content rejected"));
            assert!(!f.broken);
        }
        other => panic!("{other:?}"),
    }
    let ok = send(&channel, &e).await;
    assert!(
        matches!(
            ok,
            Outcome::Delivered {
                status: Some(250),
                ..
            }
        ),
        "{ok:?}"
    );
    assert_eq!(server.wait_for_messages(1, SOON).await.unwrap().len(), 1);
    assert_eq!(server.data_replies().len(), 3);
}

#[tokio::test]
async fn refused_recipients_are_skipped_and_recorded() {
    let server = SmtpServer::start().await.unwrap();
    server
        .script(&SmtpScript::default().refuse(
            "security@example.com",
            "550 5.1.1 <security@example.com>: Recipient address rejected: User unknown",
        ))
        .unwrap();
    let channel = trusted(&server);
    let outcome = send(&channel, &event("dsops-rotation.failed", "smtp-partial")).await;
    let Outcome::Delivered { handle, .. } = outcome else {
        panic!("{outcome:?}");
    };
    let handle = handle.unwrap();
    assert!(handle.contains("refused: security@example.com"), "{handle}");
    assert!(handle.contains("550"), "{handle}");
    let m = server.wait_for_messages(1, SOON).await.unwrap().remove(0);
    assert_eq!(m.rcpt_tos, ["ops@example.com", "audit@example.com"]);

    // Every recipient refused: permanent, or retried when one refusal is temporary.
    let script = SmtpScript::default()
        .refuse("ops@example.com", "550 5.1.1 no such user")
        .refuse("security@example.com", "550 5.1.1 no such user")
        .refuse("audit@example.com", "550 5.7.1 relay denied");
    server.script(&script).unwrap();
    match send(&channel, &event("dsops-rotation.failed", "smtp-none")).await {
        Outcome::Permanent(f) => {
            assert_eq!(f.status, Some(550));
            assert!(f.reason.contains("every recipient was refused"), "{f:?}");
            assert!(f.reason.contains("audit@example.com"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    server
        .script(&script.refuse("audit@example.com", "450 4.2.1 mailbox busy"))
        .unwrap();
    let outcome = send(&channel, &event("dsops-rotation.failed", "smtp-busy")).await;
    assert!(matches!(outcome, Outcome::Retry(_)), "{outcome:?}");
    assert_eq!(server.messages().unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_credentials_and_an_untrusted_certificate_break_the_destination() {
    let server = SmtpServer::start().await.unwrap();
    let wrong = email(
        &server,
        &format!("      ca_file: {}\n", server.ca_file().display()),
        "not-the-password",
    );
    match send(&wrong, &event("dsops-rotation.completed", "smtp-535")).await {
        Outcome::Permanent(f) => {
            assert!(f.broken, "{f:?}");
            assert_eq!(f.status, Some(535), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    // Without the test CA, the server's certificate is not trusted.
    let untrusted = email(&server, "", server.password());
    match send(&untrusted, &event("dsops-rotation.completed", "smtp-tls")).await {
        Outcome::Permanent(f) => assert!(
            f.broken && f.reason.contains("STARTTLS") && f.reason.contains("certificate"),
            "{f:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(server.messages().unwrap().is_empty());
}

#[tokio::test]
async fn insecure_skip_verify_accepts_the_untrusted_certificate() {
    let server = SmtpServer::start().await.unwrap();
    let insecure = email(
        &server,
        "      insecure_skip_verify: true\n",
        server.password(),
    );
    let outcome = send(
        &insecure,
        &event("dsops-rotation.completed", "smtp-insecure"),
    )
    .await;
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
    assert_eq!(server.wait_for_messages(1, SOON).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_host_outside_the_outbound_allow_list_is_refused_before_connecting() {
    let server = SmtpServer::start().await.unwrap();
    let with_allow = |allow: &str| {
        let yaml = format!(
            "worker: {{outbound: {{allow: [{allow}]}}}}\ndestinations:\n  - name: ops-mail\n    channel: email\n    events: [\"rotation.>\"]\n    from: herald@example.com\n    to: [ops@example.com]\n    timeout: 10s\n    smtp:\n      host: localhost\n      port: {}\n      username: {}\n      password: {}\n      ca_file: {}\n",
            server.port(),
            server.username(),
            server.password(),
            server.ca_file().display(),
        );
        let config = FleetConfig::from_yaml(&yaml, "t.yaml").expect("the test configuration");
        prepare::<Email>(&config, "t.yaml")
            .expect("the destination builds")
            .remove(0)
            .channel
    };
    // `localhost` is not an allowed name, and its addresses are outside 10.0.0.0/8.
    let refused = with_allow("\"10.0.0.0/8\"");
    match send(&refused, &event("dsops-rotation.completed", "smtp-refused")).await {
        Outcome::Permanent(f) => assert!(
            f.broken && f.reason.contains("outside the outbound allow-list"),
            "{f:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(server.messages().unwrap().is_empty());
    let allowed = with_allow("\"127.0.0.0/8\", \"::1\"");
    let outcome = send(&allowed, &event("dsops-rotation.completed", "smtp-allowed")).await;
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
}

#[tokio::test]
async fn the_server_down_then_up() {
    let mut server = SmtpServer::start().await.unwrap();
    let channel = trusted(&server);
    let first = send(&channel, &event("dsops-rotation.started", "smtp-up-1")).await;
    assert!(matches!(first, Outcome::Delivered { .. }), "{first:?}");
    server.stop().unwrap();
    match send(&channel, &event("dsops-rotation.completed", "smtp-down")).await {
        Outcome::Retry(f) => assert!(!f.broken, "{f:?}"),
        other => panic!("{other:?}"),
    }
    server.restart().await.unwrap();
    // The pooled connection died with the server; a new one is made.
    let outcome = send(&channel, &event("dsops-rotation.completed", "smtp-down")).await;
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
    assert_eq!(server.wait_for_messages(2, SOON).await.unwrap().len(), 2);
}
