//! `herald console` in a real browser: Debian's headless Chromium, driven by
//! `tests/console/console.spec.mjs` (playwright-core), against the `herald`
//! binary, a real nats-server, the webhook worker and real receivers.
//!
//! Skipped, loudly, only where Chromium, node or `npm ci`'s playwright-core are
//! missing, and never under CI (`CI` set), where `.ci/run` installs all three. With `HERALD_BLESS=1` the screenshots
//! are copied to `docs/console/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use herald_testkit::{
    NatsServer, Receiver, Reply, WorkerCommand, event, jira as jira_destination,
    publish_with_headers, teams, wait_for_dead_letters, webhook, write_fleet_config,
};
use serde_json::json;

use crate::support::{ConsoleProcess, SOON, wait_ready};

/// Secrets in the configuration; the browser must never receive them.
const SECRETS: &[&str] = &[
    "HOOKTOKEN0123456789",
    "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3",
    "TEAMSSIG0123456789",
    "JIRATOKEN0123456789",
];

/// The trace the published event belongs to.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// How long the whole browser run may take on a loaded machine.
const BROWSER_DEADLINE: Duration = Duration::from_secs(180);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Chromium, node and playwright-core, or why the test cannot run.
fn browser_tools() -> std::result::Result<PathBuf, String> {
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.is_file() {
        return Err(format!(
            "{} not found (apt-get install chromium)",
            chromium.display()
        ));
    }
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node not found: {e}"))?;
    if !node.status.success() {
        return Err("node --version failed".into());
    }
    if !workspace()
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Err(
            "node_modules/playwright-core missing (run `npm ci` in the project directory)".into(),
        );
    }
    Ok(chromium)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_real_browser() -> Result<()> {
    let chromium = match browser_tools() {
        Ok(c) => c,
        // CI installs them (.ci/run): there, missing tools are a failure.
        Err(why) if std::env::var_os("CI").is_some() => {
            bail!("CI must run the browser test: {why}")
        }
        Err(why) => {
            eprintln!("\n*** SKIPPED the_console_works_in_a_real_browser: {why} ***\n");
            return Ok(());
        }
    };
    let started = std::time::Instant::now();
    let nats = NatsServer::start().await?;
    let hooks = Receiver::start_with_default(Reply::ok().body("thanks")).await?;
    // The first event to `flaky` is refused (dead-lettered); after that it accepts.
    let flaky = Receiver::start().await?;
    flaky.push(Reply::status(400).body("no such project"));
    let jira = Receiver::start().await?;
    let mut ops = webhook(
        "ops-webhook",
        &format!("{}?token={}", hooks.url(), SECRETS[0]),
        &["rotation.>"],
    );
    ops["signing"] = json!({"scheme": "standard-webhooks", "secret": SECRETS[1]});
    let config = write_fleet_config(
        &nats.url(),
        &[
            ops,
            webhook("flaky", &flaky.url(), &["rotation.>"]),
            teams(
                "ops-teams",
                &format!("{}/workflows/x/invoke?sig={}", hooks.base_url(), SECRETS[2]),
                &["rotation.>"],
            ),
            jira_destination("sec-jira", &jira.base_url(), SECRETS[3], &["cert.>"]),
        ],
    )?;
    let worker = WorkerCommand::webhook(config.path()).spawn()?;
    let js = nats.jetstream().await?;
    wait_ready(&js, "flaky", "rotation.>")
        .await
        .with_context(|| worker.stderr())?;

    eprintln!("worker ready after {:?}", started.elapsed());
    let console =
        ConsoleProcess::start(config.path(), &["--jaeger-url", "http://127.0.0.1:16686"]).await?;
    let console_url = console.url.clone();

    // One event, with trace context: delivered to ops-webhook, dead-lettered
    // for flaky, each seen on the feed with a link to its trace.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{TRACE_ID}-00f067aa0ba902b7-01").as_str(),
    );
    publish_with_headers(
        &js,
        "rotation.failed",
        Some("console-dl-1"),
        headers,
        event("console-dl-1", &json!({"service": "postgres-prod"})),
    )
    .await?;
    wait_for_dead_letters(&js, 1, SOON)
        .await
        .with_context(|| worker.stderr())?;

    eprintln!(
        "console ready, dead letter stored after {:?}",
        started.elapsed()
    );
    let shots = tempfile::tempdir()?;
    let spec = workspace().join("tests/console/console.spec.mjs");
    let run = tokio::process::Command::new("node")
        .arg(&spec)
        .current_dir(workspace())
        .env("CONSOLE_URL", &console_url)
        .env("SCREENSHOTS", shots.path())
        .env("SECRETS", SECRETS.join("\n"))
        .env("DEAD_EVENT", "console-dl-1")
        .env(
            "TRACE_URL",
            format!("http://127.0.0.1:16686/trace/{TRACE_ID}"),
        )
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(BROWSER_DEADLINE, run)
        .await
        .context("the browser test did not finish in time")??;
    eprintln!("browser done after {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    let console_log = console.log();
    if !out.status.success() {
        bail!(
            "the browser test failed ({}):\n{stdout}\n{}\nconsole log:\n{console_log}\nworker log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            worker.stderr()
        );
    }

    // What the browser did reached the real receivers.
    let tests: Vec<_> = hooks
        .requests()
        .into_iter()
        .filter(|r| r.json().is_ok_and(|v| v["type"] == "herald.test"))
        .collect();
    assert_eq!(tests.len(), 1, "one test notification to ops-webhook");
    assert_eq!(jira.count(), 0, "the declined Jira test sent nothing");
    assert_eq!(
        flaky.by_event().get("console-dl-1").copied(),
        Some(2),
        "refused once, then delivered by the replay"
    );
    // Every action is logged with who did it.
    assert!(
        console_log.contains("Console: test notification sent.")
            && console_log.contains("who=local"),
        "{console_log}"
    );
    assert!(
        console_log.contains("Console: dead letter replayed."),
        "{console_log}"
    );

    let names = ["destinations", "preview", "dead-letters", "deliveries"];
    for name in names {
        let png = std::fs::read(shots.path().join(format!("{name}.png")))
            .with_context(|| format!("no {name}.png"))?;
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{name}.png is not a real screenshot"
        );
    }
    if std::env::var_os("HERALD_BLESS").is_some() {
        let docs = workspace().join("docs/console");
        std::fs::create_dir_all(&docs)?;
        for name in names {
            std::fs::copy(
                shots.path().join(format!("{name}.png")),
                docs.join(format!("{name}.png")),
            )?;
        }
    }
    console.stop().await;
    Ok(())
}
