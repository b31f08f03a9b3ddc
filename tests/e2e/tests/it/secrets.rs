//! Secrets never appear in anything Herald prints or stores: every channel is
//! configured with distinctive secrets (webhook URLs with tokens, bot tokens,
//! routing and API keys, passwords, a Graph client secret, a signing secret,
//! the NATS password), its provider fails in every way (5xx, 4xx, timeouts,
//! refused connections) until each event is dead-lettered, and then
//! everything is captured: every worker's logs at debug level, `herald
//! render`, `check`, `status`, `dlq list` and `dlq show`, each worker's
//! `/metrics`, the dead letters and the status records as stored. None may
//! contain any secret, nor the base64 forms sent in `Authorization` headers.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt as _;
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Reply, SmtpServer, WorkerCommand, WorkerProcess,
    dead_letters, event, fleet, free_port, publish, wait_for_dead_letters,
};
use serde_json::{Value, json};

use crate::support::spawn_ready;

/// Each secret is unique, so a leak names its source.
const WEBHOOK_TOKEN: &str = "sEcReT-webhook-url-token-41a7";
const WEBHOOK_QUERY: &str = "sEcReT-webhook-query-9c2e";
const WEBHOOK_HEADER: &str = "sEcReT-webhook-header-77d1";
const SIGNING: &str = "whsec_c0VjUmVULXNpZ25pbmcta2V5LTVlMGI=";
const REFUSED_URL_TOKEN: &str = "sEcReT-refused-url-token-0b3f";
const SLOW_URL_TOKEN: &str = "sEcReT-slow-url-token-6e1c";
const SLACK_HOOK: &str = "sEcReT-slack-hook-T0B0X-2f8a";
const SLACK_BOT: &str = "xoxb-sEcReT-slack-bot-3d5b";
const TEAMS: &str = "sEcReT-teams-workflow-sig-8a4c";
const DISCORD: &str = "sEcReT-discord-webhook-token-1f9e";
const PAGERDUTY: &str = "sEcReTpagerdutyroutingkey0c7d";
const OPSGENIE: &str = "sEcReT-opsgenie-key-4b2a";
const JIRA_TOKEN: &str = "sEcReT-jira-api-token-5d3e";
const JIRA_EMAIL: &str = "jira-bot@example.com";
const SMTP_PASSWORD: &str = "sEcReT-smtp-password-9a1b";
const GRAPH_SECRET: &str = "sEcReT-graph-client-secret-2c6f";
const NATS_PASSWORD: &str = "sEcReT-nats-password-7e4d";

/// Every secret, and the encodings in which one would travel.
fn secrets() -> Vec<String> {
    let mut all: Vec<String> = [
        WEBHOOK_TOKEN,
        WEBHOOK_QUERY,
        WEBHOOK_HEADER,
        SIGNING,
        SIGNING.trim_start_matches("whsec_"),
        REFUSED_URL_TOKEN,
        SLOW_URL_TOKEN,
        SLACK_HOOK,
        SLACK_BOT,
        TEAMS,
        DISCORD,
        PAGERDUTY,
        OPSGENIE,
        JIRA_TOKEN,
        SMTP_PASSWORD,
        GRAPH_SECRET,
        NATS_PASSWORD,
    ]
    .map(str::to_owned)
    .to_vec();
    all.push(STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}")));
    // SMTP AUTH PLAIN and LOGIN send these.
    all.push(STANDARD.encode(format!("\0herald\0{SMTP_PASSWORD}")));
    all.push(STANDARD.encode(SMTP_PASSWORD));
    all
}

/// Fast failures: two attempts, one second apart.
fn quick(mut d: Value) -> Value {
    d["timeout"] = json!("2s");
    d["retry"] = json!({"max_attempts": 2, "schedule": ["1s"], "jitter": 0});
    d["rate_limit"] = json!({"per_second": 100, "burst": 100});
    d
}

/// A provider stand-in: a 500 first (retried), then `then` (dead-lettered).
async fn failing(then: u16) -> Result<Receiver> {
    let r = Receiver::start_with_default(Reply::status(then).body("{\"error\":\"no\"}")).await?;
    r.push(Reply::status(500).body("{\"error\":\"down\"}"));
    Ok(r)
}

struct Providers {
    hook: Receiver,
    slow: Receiver,
    slack_hook: Receiver,
    slack_api: Receiver,
    teams: Receiver,
    discord: Receiver,
    pagerduty: Receiver,
    opsgenie: Receiver,
    jira: Receiver,
    graph: Receiver,
    smtp: SmtpServer,
    refused_port: u16,
}

impl Providers {
    async fn start() -> Result<Self> {
        Ok(Self {
            hook: failing(401).await?,
            slow: Receiver::start_with_default(Reply::ok().after(Duration::from_secs(5))).await?,
            slack_hook: failing(404).await?,
            slack_api: Receiver::start_with_default(
                Reply::ok().body("{\"ok\":false,\"error\":\"invalid_auth\"}"),
            )
            .await?,
            teams: failing(404).await?,
            discord: failing(401).await?,
            pagerduty: failing(400).await?,
            opsgenie: failing(401).await?,
            jira: failing(401).await?,
            graph: failing(401).await?,
            smtp: SmtpServer::start().await?,
            refused_port: free_port()?,
        })
    }

    fn destinations(&self) -> Vec<(&'static str, Value)> {
        let base = |r: &Receiver| r.base_url();
        vec![
            (
                "webhook",
                quick(json!({
                    "name": "hook", "channel": "webhook", "events": ["rotation.>"],
                    "url": format!("{}/hook/{WEBHOOK_TOKEN}?token={WEBHOOK_QUERY}", base(&self.hook)),
                    "headers": {"Authorization": format!("Bearer {WEBHOOK_HEADER}")},
                    "signing": {"scheme": "standard-webhooks", "secret": SIGNING},
                })),
            ),
            (
                "webhook",
                quick(json!({
                    "name": "refused", "channel": "webhook", "events": ["rotation.>"],
                    "url": format!("http://127.0.0.1:{}/hook/{REFUSED_URL_TOKEN}", self.refused_port),
                })),
            ),
            ("webhook", {
                let mut d = quick(json!({
                    "name": "slow", "channel": "webhook", "events": ["rotation.>"],
                    "url": format!("{}/hook/{SLOW_URL_TOKEN}", base(&self.slow)),
                }));
                d["timeout"] = json!("1s");
                d
            }),
            (
                "slack",
                quick(json!({
                    "name": "slack-hook", "channel": "slack", "events": ["rotation.>"],
                    "webhook_url": format!("{}/services/{SLACK_HOOK}", base(&self.slack_hook)),
                })),
            ),
            (
                "slack",
                quick(json!({
                    "name": "slack-bot", "channel": "slack", "events": ["rotation.>"],
                    "token": {"from": {"env": "SECRETS_TEST_SLACK_BOT"}},
                    "slack_channel": "C0123456", "api_url": format!("{}/api", base(&self.slack_api)),
                })),
            ),
            (
                "teams",
                quick(json!({
                    "name": "teams", "channel": "teams", "events": ["rotation.>"],
                    "url": format!("{}/workflows/run?sig={TEAMS}", base(&self.teams)),
                })),
            ),
            (
                "discord",
                quick(json!({
                    "name": "discord", "channel": "discord", "events": ["rotation.>"],
                    "webhook_url": format!("{}/api/webhooks/123/{DISCORD}", base(&self.discord)),
                })),
            ),
            (
                "pagerduty",
                quick(json!({
                    "name": "pagerduty", "channel": "pagerduty", "events": ["rotation.>"],
                    "routing_key": PAGERDUTY, "events_url": format!("{}/v2/enqueue", base(&self.pagerduty)),
                })),
            ),
            (
                "opsgenie",
                quick(json!({
                    "name": "opsgenie", "channel": "opsgenie", "events": ["rotation.>"],
                    "api_key": OPSGENIE, "api_url": base(&self.opsgenie),
                })),
            ),
            (
                "jira",
                quick(json!({
                    "name": "jira", "channel": "jira", "events": ["rotation.>"],
                    "base_url": base(&self.jira), "email": JIRA_EMAIL,
                    "api_token": {"from": {"env": "SECRETS_TEST_JIRA_TOKEN"}}, "project_key": "SEC",
                })),
            ),
            (
                "email",
                quick(json!({
                    "name": "smtp", "channel": "email", "events": ["rotation.>"],
                    "from": "herald@example.com", "to": ["ops@example.com"],
                    "smtp": {"host": "localhost", "port": self.smtp.port(), "username": "herald",
                             "password": SMTP_PASSWORD, "ca_file": self.smtp.ca_file()},
                })),
            ),
            (
                "email",
                quick(json!({
                    "name": "graph", "channel": "email", "events": ["rotation.>"],
                    "from": "herald@example.com", "to": ["ops@example.com"],
                    "graph": {"tenant_id": "t", "client_id": "c", "client_secret": GRAPH_SECRET,
                              "authority_url": base(&self.graph), "graph_url": base(&self.graph)},
                })),
            ),
        ]
    }
}

const CHANNELS: &[&str] = &[
    "webhook",
    "slack",
    "teams",
    "discord",
    "pagerduty",
    "opsgenie",
    "jira",
    "email",
];

/// Everything the stored status records say.
async fn status_records(js: &async_nats::jetstream::Context) -> Result<String> {
    let kv = js.get_key_value("herald_status").await?;
    let mut keys = kv.keys().await?;
    let mut out = String::new();
    while let Some(key) = keys.next().await {
        let key = key?;
        if let Some(v) = kv.get(&key).await? {
            out.push_str(&String::from_utf8_lossy(&v));
            out.push('\n');
        }
    }
    Ok(out)
}

async fn scrape(worker: &mut WorkerProcess) -> Result<String> {
    let addr = worker.metrics_addr(Duration::from_secs(30)).await?;
    Ok(reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?)
}

fn output(o: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_ever_printed_stored_or_exported() -> Result<()> {
    let server_config = format!(
        "authorization {{\n  users = [ {{ user: \"herald\", password: \"{NATS_PASSWORD}\" }} ]\n}}\n"
    );
    let nats = NatsServer::start_with_config(&server_config, || {
        async_nats::ConnectOptions::with_user_and_password("herald".into(), NATS_PASSWORD.into())
    })
    .await?;
    let providers = Providers::start().await?;
    let destinations = providers.destinations();
    let docs: Vec<Value> = destinations.iter().map(|(_, d)| d.clone()).collect();
    let mut doc = fleet(&nats.url(), &docs);
    doc["nats"]["user"] = json!("herald");
    doc["nats"]["password"] = json!({"from": {"env": "SECRETS_TEST_NATS_PASSWORD"}});
    let cfg = ConfigFile::write(&doc)?;
    let env = [
        ("HERALD_LOG", "debug"),
        ("SECRETS_TEST_NATS_PASSWORD", NATS_PASSWORD),
        ("SECRETS_TEST_SLACK_BOT", SLACK_BOT),
        ("SECRETS_TEST_JIRA_TOKEN", JIRA_TOKEN),
    ];
    let js = nats.jetstream().await?;
    let mut workers = Vec::new();
    for channel in CHANNELS {
        let mut command = WorkerCommand::new(&format!("herald-{channel}"), cfg.path());
        for (k, v) in env {
            command = command.env(k, v);
        }
        let consumers: Vec<(&str, &str)> = destinations
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, d)| (d["name"].as_str().unwrap_or_default(), "rotation.>"))
            .collect();
        workers.push(spawn_ready(&command, &js, channel, &consumers).await?);
    }

    publish(
        &js,
        "rotation.failed",
        "secret-1",
        event("secret-1", &json!({"resource": "db"})),
    )
    .await?;
    let letters = wait_for_dead_letters(&js, destinations.len(), Duration::from_secs(120))
        .await
        .with_context(|| {
            workers
                .iter()
                .map(WorkerProcess::stderr)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
    ensure!(letters.len() == destinations.len(), "{letters:?}");

    let mut captured: Vec<(String, String)> = Vec::new();
    for d in dead_letters(&js).await? {
        captured.push((
            format!("dead letter {}", d.subject),
            format!("{:?}\n{}", d.headers, d.text()),
        ));
    }
    captured.push(("status records".into(), status_records(&js).await?));

    let cfg_path = cfg.name();
    let with_env = |args: &[&str]| {
        let mut all = vec!["--config", &cfg_path];
        all.extend_from_slice(args);
        all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let event_file = cfg.dir().join("event.json");
    std::fs::write(&event_file, event("render-1", &json!({})))?;
    let event_path = event_file.display().to_string();
    let mut commands: Vec<Vec<String>> = vec![
        [vec!["status".to_owned()], with_env(&[])].concat(),
        [vec!["dlq".to_owned()], with_env(&["list"])].concat(),
        vec!["check".to_owned(), "--config".to_owned(), cfg_path.clone()],
    ];
    for d in dead_letters(&js).await? {
        commands.push(
            [
                vec!["dlq".to_owned()],
                with_env(&["show", &d.sequence.to_string()]),
            ]
            .concat(),
        );
    }
    for (_, d) in &destinations {
        let name = d["name"].as_str().unwrap_or_default();
        commands.push(vec![
            "render".into(),
            "--config".into(),
            cfg_path.clone(),
            "--destination".into(),
            name.into(),
            "--event".into(),
            event_path.clone(),
            "--subject".into(),
            "rotation.failed".into(),
        ]);
    }
    for args in &commands {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = herald_with_env(&refs, &env).await?;
        captured.push((format!("herald {}", args.join(" ")), output(&out)));
    }
    for (channel, worker) in CHANNELS.iter().zip(workers.iter_mut()) {
        captured.push((format!("herald-{channel} /metrics"), scrape(worker).await?));
    }
    for (channel, worker) in CHANNELS.iter().zip(workers.iter_mut()) {
        worker.terminate()?;
        worker.wait_exit(Duration::from_secs(60)).await?;
        captured.push((
            format!("herald-{channel} logs"),
            format!("{}\n{}", worker.stdout(), worker.stderr()),
        ));
    }

    if let Some(path) = std::env::var_os("HERALD_SECRETS_CAPTURE") {
        let dump: String = captured
            .iter()
            .map(|(source, text)| format!("===== {source}\n{text}\n"))
            .collect();
        std::fs::write(path, dump)?;
    }
    // The capture is not empty: the failures, renders and tables are there.
    let all: String = captured.iter().map(|(_, t)| t.as_str()).collect();
    for expected in [
        "Delivery failed",
        "HTTP 401",
        "rotation.failed",
        "herald_notifications_failed_total",
        "<redacted>",
    ] {
        ensure!(
            all.contains(expected),
            "`{expected}` missing from the capture"
        );
    }
    let mut leaks = Vec::new();
    for secret in secrets() {
        for (source, text) in &captured {
            if let Some(at) = text.find(&secret) {
                let start = at.saturating_sub(120);
                let context = &text[start..(at + secret.len() + 40).min(text.len())];
                leaks.push(format!("{secret} in {source}: …{context}…"));
            }
        }
    }
    ensure!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n\n"));
    Ok(())
}

/// Runs `herald` with extra environment variables.
async fn herald_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<std::process::Output> {
    let mut cmd = tokio::process::Command::new(herald_testkit::binary("herald")?);
    cmd.args(args)
        .env_remove("NATS_URL")
        .env_remove("HERALD_CONFIG")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .with_context(|| format!("herald {args:?} did not finish"))??;
    Ok(out)
}
