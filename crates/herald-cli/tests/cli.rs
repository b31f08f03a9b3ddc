//! The `herald` binary, run as a user would: demo, check, render and publish.
//! The demo and publish tests need `nats-server` (Debian's package, /usr/sbin).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use async_nats::jetstream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const HERALD: &str = env!("CARGO_BIN_EXE_herald");

/// Runs `herald` with `args`, killing it if it takes longer than `limit`.
async fn herald(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(HERALD)
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("HERALD_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the herald binary starts");
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("herald {args:?} did not finish within {limit:?}"))
        .expect("herald's output is read")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_delivers_the_whole_rotation_lifecycle_signed() {
    let out = herald(&["demo"], Duration::from_secs(120)).await;
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for event in [
        "rotation.started",
        "rotation.completed",
        "rotation.failed",
        "rotation.rollback",
    ] {
        assert!(stdout.contains(event), "{event} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("Rotation Failed: postgres-prod"),
        "{stdout}"
    );
    assert!(stdout.contains("#EF4444"), "{stdout}");
    assert!(
        stdout.contains("error=\"Connection verification failed\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("10/10 requests arrived, 10/10 signatures verified"),
        "{stdout}"
    );
    assert!(!stdout.contains('✗'), "{stdout}");
    // The chat and incident workers, against stand-ins that answer as the providers do.
    for line in [
        "7/7 chat, incident and email destinations delivered every event",
        "mail to ops-team@example.com",
        "[dsops] Rotation Failed: postgres-prod (production)",
        "chat.postMessage in thread",
        "chat.update of",
        "trigger → incident opened",
        "resolve → incident resolved",
        "create issue DEMO-1",
        "comment on DEMO-1",
        "transition DEMO-1",
        "create alert P2",
    ] {
        assert!(stdout.contains(line), "`{line}` missing:\n{stdout}");
    }
    let all = format!("{stdout}{stderr}");
    assert!(!all.contains("whsec_"), "a secret was printed:\n{all}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("the test file is written");
    p
}

const BAD: &str = r#"destinations:
  - name: monitoring
    channel: webhook
    events: ["rotation.>"]
    url: ftp://monitoring.example.com/hook
  - name: ops
    channel: slak
    events: ["rotation.>"]
  - name: hook
    channel: webhook
    events: ["rotation.failed"]
    url: {from: {env: HERALD_CLI_IT_SURELY_UNSET}}
"#;

#[tokio::test]
async fn check_lists_every_problem_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "fleet.yaml", BAD);
    let p = path.display().to_string();
    let out = herald(&["check", "--config", &p], Duration::from_secs(30)).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("{p}:5:10: destinations[monitoring].url: ")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{p}:7:14: destinations[ops].channel: unknown channel `slak`"
        )),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with(&format!("{p}:12:10: destinations[hook].url: "))
            && lines[2].contains("HERALD_CLI_IT_SURELY_UNSET"),
        "{stderr}"
    );
}

const GOOD: &str = r#"destinations:
  - name: monitoring
    channel: webhook
    events: ["rotation.>"]
    url: https://monitoring.example.com/api/events?token=url-s3cret
    headers: {Authorization: Bearer header-s3cret, X-Team: sre}
    signing: {scheme: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}
  - name: dsops
    channel: webhook
    events: ["rotation.>"]
    url: http://127.0.0.1:9/hook
    format: template
    template: '{"event_type": "{{.EventType}}", "service": "{{.ServiceName}}", "error": "{{.Error}}"}'
"#;

const EVENT: &str = r#"{"id": "rot-1", "type": "rotation.failed", "service": "postgres-prod",
 "environment": "production", "error": "Connection verification failed"}"#;

#[tokio::test]
async fn check_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "fleet.yaml", GOOD).display().to_string();
    let out = herald(&["check", "--config", &p], Duration::from_secs(30)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "OK: 2 destinations (webhook: monitoring, dsops)"
    );
}

#[tokio::test]
async fn render_prints_the_request_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "fleet.yaml", GOOD).display().to_string();
    let event = write(dir.path(), "event.json", EVENT).display().to_string();
    let args = |d: &'static str| {
        vec![
            "render".to_string(),
            "--config".into(),
            config.clone(),
            "--destination".into(),
            d.into(),
            "--event".into(),
            event.clone(),
        ]
    };
    let run = |a: Vec<String>| async move {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        herald(&refs, Duration::from_secs(30)).await
    };

    let out = run(args("monitoring")).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with("POST https://monitoring.example.com/…\n"),
        "{stdout}"
    );
    assert!(stdout.contains("authorization: <redacted>"), "{stdout}");
    assert!(stdout.contains("x-team: sre"), "{stdout}");
    assert!(stdout.contains("webhook-signature: v1,"), "{stdout}");
    assert!(
        stdout.contains("  \"title\": \"Rotation Failed: postgres-prod\","),
        "{stdout}"
    );
    assert!(
        !stdout.contains("s3cret") && !stdout.contains("whsec_"),
        "{stdout}"
    );

    let out = run(args("dsops")).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("  \"event_type\": \"failed\","), "{stdout}");
    assert!(
        stdout.contains("  \"error\": \"Connection verification failed\""),
        "{stdout}"
    );

    let out = run(args("nope")).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("monitoring, dsops"), "{stderr}");
}

#[tokio::test]
async fn render_shows_the_digest_a_batched_destination_would_send() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = "destinations:\n  - name: daily\n    channel: email\n    events: [\"rotation.>\"]\n    from: Herald <herald@example.com>\n    to: [ops@example.com]\n    batch: daily\n    at: \"07:00\"\n    timezone: Europe/Prague\n    smtp: {host: smtp.example.com}\n  - name: expiry\n    channel: email\n    events: [\"rotation.>\"]\n    from: Herald <herald@example.com>\n    to: [ops@example.com]\n    batch: weekly\n    report: expiry\n    smtp: {host: smtp.example.com}\n";
    let config = write(dir.path(), "fleet.yaml", fleet).display().to_string();
    let event = write(dir.path(), "event.json", EVENT).display().to_string();
    let out = herald(
        &[
            "render",
            "--config",
            &config,
            "--destination",
            "daily",
            "--event",
            &event,
        ],
        Duration::from_secs(30),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("Daily digest: 1 event, 1 failure ("),
        "{stdout}"
    );
    assert!(stdout.contains("X-Herald-Event-Type: digest"), "{stdout}");
    assert!(stdout.contains("----- text/html -----"), "{stdout}");
    // A rotation event says nothing about expiry: the report would be empty.
    let out = herald(
        &[
            "render",
            "--config",
            &config,
            "--destination",
            "expiry",
            "--event",
            &event,
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("sends nothing"),
        "{}",
        text(&out.stderr)
    );
}

/// A nats-server with JetStream on a free port, killed on drop.
struct Nats {
    _child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

fn nats_server_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .expect("nats-server is required (sudo apt-get install nats-server)")
}

async fn start_nats() -> (Nats, async_nats::Client) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(nats_server_binary())
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nats-server starts");
    let url = format!("nats://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(client) = async_nats::connect(url.as_str()).await {
            let info = client.request("$JS.API.INFO", bytes::Bytes::new()).await;
            if info.is_ok() {
                let nats = Nats {
                    _child: child,
                    url,
                    _dir: dir,
                };
                return (nats, client);
            }
        }
        assert!(Instant::now() < deadline, "nats-server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_stores_the_event_once_with_trace_context() {
    let (nats, client) = start_nats().await;
    let js = jetstream::new(client);
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "HERALD_EVENTS".into(),
            subjects: vec!["rotation.>".into()],
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .unwrap();
    let limit = Duration::from_secs(30);
    let publish = |extra: &'static [&'static str]| {
        let url = nats.url.clone();
        async move {
            let mut args = vec!["publish", "rotation.failed", "--nats-url", &url];
            args.extend_from_slice(extra);
            herald(&args, limit).await
        }
    };

    let out = publish(&[
        "--data",
        r#"{"service": "postgres-prod"}"#,
        "--set",
        "id=rot-42",
        "--set",
        "fields.Environment=production",
        "--set",
        "duration_seconds=45",
    ])
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "published event rot-42 on rotation.failed to stream HERALD_EVENTS, sequence 1"
        ),
        "{stdout}"
    );

    let stored = stream.get_raw_message(1).await.unwrap();
    assert_eq!(
        stored.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
        Some("rot-42")
    );
    let tp = stored
        .headers
        .get("traceparent")
        .map(|v| v.as_str().to_string())
        .unwrap();
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [2, 32, 16, 2],
        "{tp}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&stored.payload).unwrap();
    assert_eq!(doc["service"], "postgres-prod");
    assert_eq!(doc["fields"]["Environment"], "production");
    assert_eq!(doc["duration_seconds"], 45);
    assert!(
        chrono::DateTime::parse_from_rfc3339(doc["time"].as_str().unwrap()).is_ok(),
        "{doc}"
    );

    let out = publish(&["--set", "id=rot-42"]).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.starts_with("duplicate: event rot-42"), "{stdout}");

    let out = publish(&[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sequence 2"));

    let url = nats.url.clone();
    let out = herald(&["publish", "update.completed", "--nats-url", &url], limit).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no JetStream stream captures the subject `update.completed`"),
        "{stderr}"
    );
}

/// A fleet file with one webhook destination pointing at `url`.
fn webhook_fleet(dir: &Path, url: &str) -> PathBuf {
    write(
        dir,
        "fleet.yaml",
        &format!(
            "destinations:\n  - name: ops-hook\n    channel: webhook\n    events: [\"rotation.>\"]\n    url: \"{url}\"\n    signing:\n      scheme: hmac-sha256\n      secret: \"test-secret-value\"\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn test_sends_one_notification_and_reports_the_answer() {
    let receiver = herald_testkit::Receiver::start().await.expect("receiver");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = webhook_fleet(dir.path(), &receiver.url());
    let config = config.to_str().expect("utf-8 path");

    let out = herald(
        &["test", "--config", config, "ops-hook"],
        Duration::from_secs(60),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("Delivered (status 200)"), "{stdout}");
    let got = receiver.requests();
    assert_eq!(got.len(), 1, "exactly one request");
    let body = got[0].json().expect("JSON body");
    assert_eq!(body["type"], "herald.test", "{body}");
    assert!(got[0].header("x-herald-signature").is_some());
    assert!(!format!("{stdout}{}", text(&out.stderr)).contains("test-secret-value"));

    receiver.push(herald_testkit::Reply::status(410).body("gone for good"));
    let out = herald(
        &["test", "--config", config, "ops-hook"],
        Duration::from_secs(60),
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("gone for good"), "{stderr}");
    assert!(stderr.contains("410"), "{stderr}");

    let out = herald(
        &["test", "--config", config, "nope"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("its destinations are: ops-hook"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_configuration_is_valid_but_for_its_secret_files() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/config/fleet.example.yaml"
    );
    let mut cmd = Command::new(HERALD);
    cmd.args(["check", "--config", example])
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for var in [
        "MONITORING_WEBHOOK_SECRET",
        "LEGACY_API_KEY",
        "DEPLOY_AUDIT_SECRET",
        "SLACK_BOT_TOKEN",
        "TEAMS_WORKFLOW_URL",
        "DISCORD_WEBHOOK_URL",
        "PAGERDUTY_ROUTING_KEY",
        "OPSGENIE_API_KEY",
        "JIRA_EMAIL",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "O365_CLIENT_SECRET",
    ] {
        let value = match var {
            "TEAMS_WORKFLOW_URL" => "https://example.logic.azure.com/workflows/1?sig=x",
            "DISCORD_WEBHOOK_URL" => "https://discord.com/api/webhooks/1/token",
            "MONITORING_WEBHOOK_SECRET" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            _ => "example-value",
        };
        cmd.env(var, value);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("check finishes")
        .expect("check runs");
    let stderr = text(&out.stderr);
    let problems: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!problems.is_empty(), "the file secrets cannot exist here");
    for p in &problems {
        assert!(
            p.contains("cannot read secret file `/run/secrets/"),
            "an unexpected problem in the example configuration: {p}\n{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn test_warns_before_creating_a_real_jira_issue() {
    let jira = herald_testkit::Receiver::start().await.expect("receiver");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write(
        dir.path(),
        "fleet.yaml",
        &format!(
            "destinations:\n  - name: tickets\n    channel: jira\n    events: [\"rotation.>\"]\n    base_url: \"{}\"\n    email: ops@example.com\n    api_token: \"jira-token-value\"\n    project_key: SEC\n",
            jira.base_url()
        ),
    );
    let config = config.to_str().expect("utf-8 path");
    let out = herald(
        &["test", "--config", config, "--destination", "tickets"],
        Duration::from_secs(60),
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("creates a real issue"), "{stderr}");
    assert!(stderr.contains("Nothing was sent"), "{stderr}");
    assert_eq!(jira.count(), 0, "no request may reach Jira without --yes");
}
