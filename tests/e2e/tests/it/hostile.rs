//! A hostile event reaches every channel's provider without injecting
//! anything: CR/LF header injections, SMTP commands, control characters,
//! Slack mention syntax, HTML and Markdown links in every field
//! (`tests/fixtures/events/hostile/crlf-injection.json`). Each worker sends it
//! to a stand-in provider, and what arrived is checked there.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Recorded, Reply, SmtpServer, WorkerCommand, fleet, publish,
    wait_until,
};
use serde_json::{Value, json};

use crate::support::{SOON, spawn_ready};

fn base(d: Value) -> Value {
    let mut d = d;
    d["timeout"] = json!("5s");
    d["retry"] = json!({"max_attempts": 1});
    d["rate_limit"] = json!({"per_second": 100, "burst": 100});
    d
}

/// Headers no request may carry: each is the name of an injection attempt.
const INJECTED: &[&str] = &["x-injected", "bcc", "mail from"];

fn clean_headers(channel: &str, r: &Recorded) -> Result<()> {
    for (name, value) in &r.headers {
        ensure!(
            !INJECTED.contains(&name.to_ascii_lowercase().as_str()),
            "{channel}: injected header {name}: {value}"
        );
        ensure!(
            !value.contains(['\r', '\n']),
            "{channel}: {name} carries a line break"
        );
    }
    Ok(())
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Every string in a JSON body.
fn texts(r: &Recorded) -> Result<Vec<String>> {
    let mut out = Vec::new();
    strings(&r.json()?, &mut out);
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_channel_lets_a_hostile_event_inject_headers_or_markup() -> Result<()> {
    let payload =
        std::fs::read(Path::new(herald_testkit::SEED_DIR).join("hostile/crlf-injection.json"))?;
    let nats = NatsServer::start().await?;
    let hook = Receiver::start().await?;
    let slack = Receiver::start_with_default(Reply::ok().body("ok")).await?;
    let teams = Receiver::start_with_default(Reply::status(202)).await?;
    let discord = Receiver::start_with_default(Reply::ok().body("{\"id\":\"1\"}")).await?;
    let pagerduty = Receiver::start_with_default(
        Reply::status(202).body("{\"status\":\"success\",\"dedup_key\":\"k\"}"),
    )
    .await?;
    let opsgenie = Receiver::start_with_default(
        Reply::status(202).body("{\"result\":\"Request will be processed\",\"requestId\":\"r\"}"),
    )
    .await?;
    let jira = Receiver::start().await?;
    jira.respond_with(|r| {
        Some(if r.path.ends_with("/search/jql") {
            Reply::ok().body("{\"issues\":[]}")
        } else {
            Reply::status(201).body("{\"id\":\"10001\",\"key\":\"SEC-1\"}")
        })
    });
    let smtp = SmtpServer::start().await?;
    let destinations = vec![
        (
            "webhook",
            base(
                json!({"name": "hook", "channel": "webhook", "events": ["rotation.>"], "url": hook.url()}),
            ),
        ),
        (
            "slack",
            base(
                json!({"name": "slack", "channel": "slack", "events": ["rotation.>"], "webhook_url": slack.url()}),
            ),
        ),
        (
            "teams",
            base(
                json!({"name": "teams", "channel": "teams", "events": ["rotation.>"], "url": teams.url()}),
            ),
        ),
        (
            "discord",
            base(
                json!({"name": "discord", "channel": "discord", "events": ["rotation.>"],
            "webhook_url": format!("{}/api/webhooks/1/t", discord.base_url())}),
            ),
        ),
        (
            "pagerduty",
            base(
                json!({"name": "pagerduty", "channel": "pagerduty", "events": ["rotation.>"],
            "routing_key": "k", "events_url": pagerduty.url()}),
            ),
        ),
        (
            "opsgenie",
            base(
                json!({"name": "opsgenie", "channel": "opsgenie", "events": ["rotation.>"],
            "api_key": "k", "api_url": opsgenie.base_url()}),
            ),
        ),
        (
            "jira",
            base(
                json!({"name": "jira", "channel": "jira", "events": ["rotation.>"],
            "base_url": jira.base_url(), "email": "a@example.com", "api_token": "t", "project_key": "SEC"}),
            ),
        ),
        (
            "email",
            base(
                json!({"name": "mail", "channel": "email", "events": ["rotation.>"],
            "from": "herald@example.com", "to": ["ops@example.com"],
            "smtp": {"host": "localhost", "port": smtp.port(), "username": smtp.username(),
                     "password": smtp.password(), "ca_file": smtp.ca_file()}}),
            ),
        ),
    ];
    let docs: Vec<Value> = destinations.iter().map(|(_, d)| d.clone()).collect();
    let cfg = ConfigFile::write(&fleet(&nats.url(), &docs))?;
    let js = nats.jetstream().await?;
    let mut workers = Vec::new();
    for (channel, d) in &destinations {
        let name = d["name"].as_str().unwrap_or_default();
        let command = WorkerCommand::new(&format!("herald-{channel}"), cfg.path());
        workers.push(spawn_ready(&command, &js, channel, &[(name, "rotation.>")]).await?);
    }
    publish(&js, "rotation.failed", "crlf-injection", payload).await?;

    let receivers = [
        ("webhook", &hook),
        ("slack", &slack),
        ("teams", &teams),
        ("discord", &discord),
        ("pagerduty", &pagerduty),
        ("opsgenie", &opsgenie),
        ("jira", &jira),
    ];
    let logs = || {
        workers
            .iter()
            .map(|w| w.stderr())
            .collect::<Vec<_>>()
            .join("\n")
    };
    wait_until(SOON, "every provider to be called", || async {
        receivers.iter().all(|(_, r)| r.count() > 0) && smtp.messages().is_ok_and(|m| !m.is_empty())
    })
    .await
    .with_context(logs)?;
    // Jira searches first, then creates.
    wait_until(SOON, "the Jira issue", || async {
        jira.requests().iter().any(|r| r.path.ends_with("/issue"))
    })
    .await
    .with_context(logs)?;

    for (channel, r) in &receivers {
        for req in r.requests() {
            clean_headers(channel, &req)?;
        }
    }
    // The webhook carries the id as text, percent-encoded in its header.
    let h = &hook.requests()[0];
    ensure!(
        h.header("x-herald-event-id") == Some("crlf-injection-0001%0D%0AX-Injected: id"),
        "{:?}",
        h.header("x-herald-event-id")
    );
    // Slack: no mention, broadcast or link syntax survives unescaped.
    let body = slack.requests()[0].text();
    for raw in [
        "<!channel>",
        "<!here>",
        "<@U123>",
        "<https://evil.example|click>",
    ] {
        ensure!(
            !body.contains(raw),
            "slack: `{raw}` arrived unescaped:\n{body}"
        );
    }
    // Discord: pings are switched off, whatever the text says.
    let d = discord.requests()[0].json()?;
    ensure!(d["allowed_mentions"]["parse"] == json!([]), "discord: {d}");
    // Teams: Markdown links in event text are escaped.
    for t in texts(&teams.requests()[0])? {
        ensure!(!t.contains("[x](https://evil.example)"), "teams: {t}");
    }
    // PagerDuty, Opsgenie and Jira: one-line fields stay on one line.
    let pd = pagerduty.requests()[0].json()?;
    let summary = pd["payload"]["summary"].as_str().unwrap_or_default();
    ensure!(
        !summary.contains(['\r', '\n']),
        "pagerduty summary: {summary:?}"
    );
    let og = opsgenie.requests()[0].json()?;
    for key in ["message", "alias", "entity", "source"] {
        let v = og[key].as_str().unwrap_or_default();
        ensure!(!v.contains(['\r', '\n']), "opsgenie {key}: {v:?}");
    }
    let issue = jira
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/issue"))
        .context("no Jira create")?
        .json()?;
    let summary = issue["fields"]["summary"].as_str().unwrap_or_default();
    ensure!(!summary.contains(['\r', '\n']), "jira summary: {summary:?}");
    for label in issue["fields"]["labels"].as_array().into_iter().flatten() {
        ensure!(
            !label
                .as_str()
                .unwrap_or_default()
                .contains(char::is_whitespace),
            "jira label: {label}"
        );
    }
    // Email: no injected header or recipient; the HTML part escapes markup.
    let m = smtp
        .wait_for_messages(1, Duration::from_secs(5))
        .await?
        .remove(0);
    ensure!(m.rcpt_tos == ["ops@example.com"], "{:?}", m.rcpt_tos);
    let text = String::from_utf8_lossy(&m.data).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        ensure!(
            !lower.starts_with("bcc:") && !lower.starts_with("x-injected:"),
            "email header injected: {line}"
        );
    }
    let parsed = mail_parser::MessageParser::default()
        .parse(&m.data)
        .context("the mail parses")?;
    let subject = parsed.subject().unwrap_or_default();
    ensure!(
        !subject.contains(['\r', '\n']),
        "email subject: {subject:?}"
    );
    let html = parsed.body_html(0).context("an HTML part")?;
    ensure!(
        !html.contains("<script>") && html.contains("&lt;script&gt;"),
        "email: markup in the HTML part is not escaped:\n{html}"
    );
    // A line holding only `.` in the event text is dot-stuffed on the wire:
    // the server received one message from Herald, not a second transaction.
    let all = smtp.messages()?;
    ensure!(
        all.len() == 1 && all[0].mail_from == "herald@example.com",
        "email: {:?}",
        all.iter()
            .map(|m| (&m.mail_from, &m.rcpt_tos))
            .collect::<Vec<_>>()
    );
    Ok(())
}
