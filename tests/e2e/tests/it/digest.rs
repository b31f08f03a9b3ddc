//! Email digests and the expiry report end to end: a real nats-server, the
//! `herald-email` binary and a real SMTP server. Each test sets a weekly window
//! that closes seconds after it starts (the weekday and `at`, to
//! the second, in Europe/Prague), so no test waits for a real week, day or
//! hour; the margin lets a loaded machine hold every event first, and each test
//! checks that it did.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use chrono::{Datelike as _, TimeDelta, Utc};
use herald_core::jetstream::consumer_name;
use herald_core::receipts::idempotency_key;
use herald_core::routing::SubjectPattern;
use herald_testkit::{
    ConfigFile, EVENT_STREAM, NatsServer, SmtpMessage, SmtpScript, SmtpServer, WorkerCommand,
    WorkerProcess, dead_letters, fleet, publish, wait_for_consumer, wait_for_consumer_idle,
    wait_for_dead_letters, wait_until,
};
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::support::SOON;

const EVENTS: [&str; 3] = ["rotation.>", "cert.>", "secret.>"];

/// A weekly window closing `after` from now, in Prague time. The worker binary
/// is built first, so its build does not eat into the window.
fn closing_in(after: Duration) -> (chrono::DateTime<Utc>, Value) {
    if let Err(e) = herald_testkit::binary("herald-email") {
        panic!("cannot build herald-email: {e:#}");
    }
    let end = Utc::now() + TimeDelta::from_std(after).unwrap_or_default();
    // Whole seconds: `at` has no fractions.
    let end = chrono::DateTime::from_timestamp(end.timestamp() + 1, 0).unwrap_or(end);
    let local = end.with_timezone(&chrono_tz::Europe::Prague);
    let weekday = format!("{:?}", local.weekday()).to_ascii_lowercase();
    (
        end,
        json!({
            "batch": "weekly",
            "weekday": weekday,
            "at": local.format("%H:%M:%S").to_string(),
            "timezone": "Europe/Prague",
        }),
    )
}

fn destination(name: &str, server: &SmtpServer, window: &Value) -> Value {
    let mut d = json!({
        "name": name,
        "channel": "email",
        "events": EVENTS,
        "from": "Herald <herald@example.com>",
        "to": ["ops@example.com"],
        "timeout": "10s",
        "retry": {"schedule": ["1s"], "jitter": 0, "max_attempts": 2},
        "rate_limit": {"per_second": 100, "burst": 100},
        "smtp": {
            "host": "localhost",
            "port": server.port(),
            "username": server.username(),
            "password": server.password(),
            "ca_file": server.ca_file().display().to_string(),
        },
    });
    for (k, v) in window.as_object().into_iter().flatten() {
        d[k] = v.clone();
    }
    d
}

fn config(nats: &NatsServer, destinations: &[Value]) -> Result<ConfigFile> {
    let mut c = fleet(&nats.url(), destinations);
    c["digest"] = json!({"grace": "500ms", "check_interval": "200ms", "lease": "3s"});
    ConfigFile::write(&c)
}

fn consumers(destination: &str) -> Result<Vec<String>> {
    EVENTS
        .iter()
        .map(|p| {
            let p = SubjectPattern::parse(p).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(consumer_name("email", destination, &p))
        })
        .collect()
}

async fn start(nats: &NatsServer, config: &ConfigFile, destination: &str) -> Result<WorkerProcess> {
    let worker = WorkerCommand::new("herald-email", config.path()).spawn()?;
    let js = nats.jetstream().await?;
    for c in consumers(destination)? {
        wait_for_consumer(&js, EVENT_STREAM, &c, SOON)
            .await
            .with_context(|| format!("herald-email stderr:\n{}", worker.stderr()))?;
    }
    Ok(worker)
}

/// Waits until every event published so far was taken and acked.
async fn settled(nats: &NatsServer, destination: &str) -> Result<()> {
    let js = nats.jetstream().await?;
    for c in consumers(destination)? {
        wait_for_consumer_idle(&js, EVENT_STREAM, &c, SOON).await?;
    }
    Ok(())
}

/// Events held in the digest stream.
async fn held(nats: &NatsServer) -> Result<u64> {
    let js = nats.jetstream().await?;
    let mut stream = js.get_stream("HERALD_DIGEST").await?;
    Ok(stream.info().await?.state.messages)
}

/// Publishes a `rotation.*` event with a title naming `id`.
async fn rotation(nats: &NatsServer, id: &str, outcome: &str) -> Result<()> {
    let js = nats.jetstream().await?;
    let severity = if outcome == "failed" {
        "error"
    } else {
        "success"
    };
    let event = json!({
        "id": id, "type": format!("rotation.{outcome}"), "source": "dsops",
        "severity": severity, "title": format!("Rotation of {id}"),
        "summary": "Secret <b>rotated</b> & checked", "resource": id,
        "environment": "production", "time": Utc::now().to_rfc3339(),
    });
    publish(
        &js,
        &format!("rotation.{outcome}"),
        id,
        event.to_string().into_bytes(),
    )
    .await?;
    Ok(())
}

struct Parts {
    subject: String,
    text: String,
    html: String,
    message_id: String,
}

fn parts(m: &SmtpMessage) -> Result<Parts> {
    let msg = MessageParser::default()
        .parse(&m.data)
        .context("the mail does not parse as MIME")?;
    Ok(Parts {
        subject: msg.subject().unwrap_or_default().to_owned(),
        text: msg.body_text(0).context("no text part")?.into_owned(),
        html: msg.body_html(0).context("no HTML part")?.into_owned(),
        message_id: msg.message_id().unwrap_or_default().to_owned(),
    })
}

/// Waits until the window's events are purged from the digest stream.
async fn purged(nats: &NatsServer) -> Result<()> {
    wait_until(SOON, "the digest window to be purged", || async {
        held(nats).await.is_ok_and(|n| n == 0)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weekly_digest_survives_a_kill_and_lists_every_event_once() -> Result<()> {
    let nats = NatsServer::start().await?;
    let server = SmtpServer::start().await?;
    let (end, window) = closing_in(Duration::from_secs(20));
    let config = config(&nats, &[destination("weekly", &server, &window)])?;
    let mut first = start(&nats, &config, "weekly").await?;

    for (id, outcome) in [
        ("db-1", "failed"),
        ("db-2", "completed"),
        ("db-3", "completed"),
    ] {
        rotation(&nats, id, outcome).await?;
    }
    settled(&nats, "weekly").await?;
    assert_eq!(held(&nats).await?, 3, "{}", first.stderr());
    first.kill()?;

    // Published while no worker runs; one repeats an event id.
    for (id, outcome) in [
        ("db-4", "failed"),
        ("db-5", "completed"),
        ("db-1", "failed"),
    ] {
        let js = nats.jetstream().await?;
        let event = json!({"id": id, "type": format!("rotation.{outcome}"), "source": "dsops",
            "title": format!("Rotation of {id}"), "time": Utc::now().to_rfc3339()});
        publish(
            &js,
            &format!("rotation.{outcome}"),
            &format!("{id}-again-{outcome}"),
            event.to_string().into_bytes(),
        )
        .await?;
    }
    let second = start(&nats, &config, "weekly").await?;
    settled(&nats, "weekly").await?;
    assert!(
        Utc::now() < end,
        "the window closed before every event was held: the machine is too slow for this test"
    );
    assert_eq!(held(&nats).await?, 5, "{}", second.stderr());

    let mails = server
        .wait_for_messages(1, SOON + Duration::from_secs(30))
        .await
        .with_context(|| second.stderr())?;
    purged(&nats).await.with_context(|| second.stderr())?;
    assert_eq!(server.messages()?.len(), 1, "one digest per window");
    let m = parts(&mails[0])?;
    assert!(Utc::now() >= end, "sent before the window closed");
    assert!(
        m.subject
            .starts_with("[dsops] Weekly digest: 5 events, 2 failures ("),
        "{}",
        m.subject
    );
    for id in ["db-1", "db-2", "db-3", "db-4", "db-5"] {
        let title = format!("Rotation of {id}");
        assert_eq!(m.text.matches(&title).count(), 1, "{title} in:\n{}", m.text);
        assert_eq!(
            m.html.matches(&title).count(),
            1,
            "{title} in the HTML part"
        );
    }
    // Grouped by type and severity, the failures first.
    let failed = m
        .text
        .find("rotation.failed · error (2)")
        .context("no failed group")?;
    let completed = m
        .text
        .find("rotation.completed · success (3)")
        .context("no completed group")?;
    assert!(failed < completed);
    // Event text is escaped in HTML.
    assert!(
        m.html
            .contains("Secret &lt;b&gt;rotated&lt;/b&gt; &amp; checked")
    );
    assert!(!m.html.contains("<b>rotated</b>"));
    let key = idempotency_key("weekly", &format!("digest:{}", end.timestamp_millis()));
    assert_eq!(m.message_id, format!("{key}@example.com"));
    assert!(second.stderr().contains("Digest sent."));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_send_one_digest() -> Result<()> {
    let nats = NatsServer::start().await?;
    let server = SmtpServer::start().await?;
    let (end, window) = closing_in(Duration::from_secs(15));
    let config = config(&nats, &[destination("ops-digest", &server, &window)])?;
    let a = start(&nats, &config, "ops-digest").await?;
    let b = start(&nats, &config, "ops-digest").await?;
    for i in 0..12 {
        rotation(
            &nats,
            &format!("svc-{i:02}"),
            if i % 4 == 0 { "failed" } else { "completed" },
        )
        .await?;
    }
    settled(&nats, "ops-digest").await?;
    assert!(
        Utc::now() < end,
        "the window closed before every event was held"
    );
    assert_eq!(held(&nats).await?, 12);
    server
        .wait_for_messages(1, SOON + Duration::from_secs(20))
        .await
        .with_context(|| format!("{}\n{}", a.stderr(), b.stderr()))?;
    purged(&nats).await?;
    let mails = server.messages()?;
    assert_eq!(mails.len(), 1, "exactly one replica sends the window");
    let m = parts(&mails[0])?;
    assert!(m.subject.contains("12 events, 3 failures"), "{}", m.subject);
    let senders = [&a, &b]
        .iter()
        .filter(|w| w.stderr().contains("Digest sent."))
        .count();
    assert_eq!(senders, 1);
    // The claim says the window was sent.
    let js = nats.jetstream().await?;
    let kv = js.get_key_value("herald_digest").await?;
    let claim = kv
        .get(format!("ops-digest.{}", end.timestamp_millis()))
        .await?
        .context("no claim for the window")?;
    let claim: Value = serde_json::from_slice(&claim)?;
    assert_eq!(claim["state"], "sent");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_report_lists_what_expires_within_the_horizon_by_date() -> Result<()> {
    let nats = NatsServer::start().await?;
    let server = SmtpServer::start().await?;
    let (end, mut window) = closing_in(Duration::from_secs(15));
    window["report"] = json!("expiry");
    window["horizon"] = json!("60d");
    let mut dest = destination("expiry", &server, &window);
    dest["to"] = json!(["secops@example.com"]);
    let config = config(&nats, &[dest])?;
    let worker = start(&nats, &config, "expiry").await?;
    let js = nats.jetstream().await?;
    let day = |d: i64| {
        (Utc::now() + TimeDelta::days(d))
            .format("%Y-%m-%d")
            .to_string()
    };
    let secrets = json!({
        "id": "cc-scan-1", "type": "secret.expiring", "source": "certifyclouds",
        "severity": "warning", "title": "Secrets Expiring Soon: kv-production",
        "resource": "kv-production", "environment": "production",
        "data": {"vault": "kv-production", "secrets": [
            {"name": "api-key", "expires": day(40)},
            {"name": "<img src=x>", "expires": day(5)},
            {"name": "far-away", "expires": day(90)},
        ]},
    });
    let cert = json!({
        "id": "mv-cert-1", "type": "cert.expiring", "source": "mazevault",
        "severity": "warning", "title": "Certificate Expiring: CN=api.example.com",
        "data": {"certificate": {"common_name": "api.example.com",
            "not_after": format!("{}T00:00:00Z", day(20))}},
    });
    publish(
        &js,
        "secret.expiring",
        "cc-scan-1",
        secrets.to_string().into_bytes(),
    )
    .await?;
    publish(
        &js,
        "cert.expiring",
        "mv-cert-1",
        cert.to_string().into_bytes(),
    )
    .await?;
    // Not an expiry: held, but no row.
    rotation(&nats, "db-9", "completed").await?;
    settled(&nats, "expiry").await?;
    assert!(
        Utc::now() < end,
        "the window closed before every event was held"
    );
    assert_eq!(held(&nats).await?, 3);

    let m = server
        .wait_for_messages(1, SOON + Duration::from_secs(20))
        .await
        .with_context(|| worker.stderr())?
        .remove(0);
    assert_eq!(m.rcpt_tos, ["secops@example.com"]);
    let p = parts(&m)?;
    assert!(
        p.subject
            .ends_with("Weekly expiry report: 1 certificate and 2 secrets expire within 60 days"),
        "{}",
        p.subject
    );
    let order: Vec<usize> = ["&lt;img src=x&gt;", "api.example.com", "api-key"]
        .iter()
        .map(|n| {
            p.html
                .find(n)
                .with_context(|| format!("{n} missing from the report"))
        })
        .collect::<Result<_>>()?;
    if !order.windows(2).all(|w| w[0] < w[1]) {
        bail!("rows not sorted by expiry date:\n{}", p.text);
    }
    assert!(!p.html.contains("<img src=x>"));
    assert!(!p.text.contains("far-away") && !p.text.contains("Rotation of db-9"));
    assert!(
        p.text.contains(&format!("{}     5  secret", day(5))),
        "{}",
        p.text
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_digest_dead_letters_its_events_for_replay() -> Result<()> {
    let nats = NatsServer::start().await?;
    let server = SmtpServer::start().await?;
    server.script(&SmtpScript::default().data(&["554 5.7.1 Message rejected as spam"]))?;
    let (end, window) = closing_in(Duration::from_secs(15));
    let config = config(&nats, &[destination("refused", &server, &window)])?;
    let worker = start(&nats, &config, "refused").await?;
    for id in ["r-1", "r-2", "r-3"] {
        rotation(&nats, id, "failed").await?;
    }
    settled(&nats, "refused").await?;
    assert!(
        Utc::now() < end,
        "the window closed before every event was held"
    );
    assert_eq!(held(&nats).await?, 3);
    let js = nats.jetstream().await?;
    wait_for_dead_letters(&js, 3, SOON + Duration::from_secs(20))
        .await
        .with_context(|| worker.stderr())?;
    purged(&nats).await?;
    let letters = dead_letters(&js).await?;
    assert_eq!(letters.len(), 3);
    for l in &letters {
        assert_eq!(l.header("Herald-Dlq-Reason"), Some("permanent"));
        assert_eq!(l.header("Herald-Dlq-Status"), Some("554"));
        assert_eq!(l.header("Herald-Dlq-Subject"), Some("rotation.failed"));
    }
    assert!(server.messages()?.is_empty());
    Ok(())
}
