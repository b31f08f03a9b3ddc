//! A bad configuration stops the worker with errors naming file, line and field.

use std::time::Duration;

use anyhow::Result;
use herald_testkit::{ConfigFile, WorkerCommand};

/// Runs `herald-webhook --config <text as bad.yaml> [extra]` and returns its stderr.
async fn run(text: &str, extra: &[&str]) -> Result<String> {
    let file = ConfigFile::write_text("bad.yaml", text)?;
    let mut cmd = WorkerCommand::webhook(file.path());
    for a in extra {
        cmd = cmd.arg(*a);
    }
    let done = cmd.run(Duration::from_secs(30)).await?;
    assert!(
        !done.status.success(),
        "a bad config must fail; stdout:\n{}",
        done.stdout
    );
    Ok(done.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_file_line_and_field() -> Result<()> {
    let typo = "\
nats:
  url: nats://127.0.0.1:4222
worker:
  concurency: 4
destinations:
  - name: hook
    channel: webhook
    events: [\"rotation.>\"]
    url: http://127.0.0.1:9/hook
";
    for extra in [&[][..], &["--check"][..]] {
        let err = run(typo, extra).await?;
        assert!(err.contains("bad.yaml:4:"), "{extra:?}: {err}");
        assert!(err.contains("worker.concurency"), "{err}");
        assert!(err.contains("unknown field `concurency`"), "{err}");
        assert!(err.contains("concurrency"), "suggests the right key: {err}");
    }

    let bad_duration = "\
destinations:
  - name: hook
    channel: webhook
    events: [\"rotation.>\"]
    url: http://127.0.0.1:9/hook
    timeout: 5 parsecs
";
    let err = run(bad_duration, &[]).await?;
    assert!(err.contains("bad.yaml:6:"), "{err}");
    assert!(err.contains("destinations[0].timeout"), "{err}");
    assert!(err.contains("parsecs"), "{err}");

    // Channel keys are checked by the channel, still with file, line and field.
    let channel_key = "\
destinations:
  - name: hook
    channel: webhook
    events: [\"rotation.>\"]
    url: http://127.0.0.1:9/hook
  - name: other
    channel: webhook
    events: [\"update.>\"]
    url: http://127.0.0.1:9/other
    sigining: {scheme: hmac-sha256}
";
    let err = run(channel_key, &["--check"]).await?;
    assert!(err.contains("bad.yaml:10:"), "{err}");
    assert!(err.contains("destinations[other].sigining"), "{err}");
    assert!(err.contains("unknown field `sigining`"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_config_passes_the_check() -> Result<()> {
    let file = ConfigFile::write_text(
        "good.yaml",
        "destinations:\n  - name: hook\n    channel: webhook\n    events: [\"rotation.>\"]\n    url: http://127.0.0.1:9/hook\n",
    )?;
    let done = WorkerCommand::webhook(file.path())
        .arg("--check")
        .run(Duration::from_secs(30))
        .await?;
    assert!(done.status.success(), "stderr:\n{}", done.stderr);
    assert!(done.stdout.contains("good.yaml: OK"), "{}", done.stdout);
    Ok(())
}

/// The start of every destination in the table below.
const HOOK: &str =
    "destinations:\n  - name: hook\n    channel: webhook\n    events: [\"rotation.>\"]\n";

/// One broken configuration: its text, then the line, the field and the
/// words saying what would be valid that `herald check` must print.
struct Broken {
    what: &'static str,
    yaml: String,
    line: u32,
    field: &'static str,
    valid: &'static str,
}

fn broken(
    what: &'static str,
    yaml: impl Into<String>,
    line: u32,
    field: &'static str,
    valid: &'static str,
) -> Broken {
    Broken {
        what,
        yaml: yaml.into(),
        line,
        field,
        valid,
    }
}

fn with_hook(extra: &str) -> String {
    format!("{HOOK}{extra}")
}

fn table() -> Vec<Broken> {
    vec![
        broken(
            "unknown key",
            "nats:\n  url: nats://x:4222\n  colour: blue\n",
            3,
            "nats.colour",
            "expected one of url, credentials_file, user",
        ),
        broken(
            "misspelt section",
            "destinaitons: []\n",
            1,
            "destinaitons",
            "expected one of nats, stream",
        ),
        broken(
            "wrong type",
            "worker:\n  concurrency: many\n",
            2,
            "worker.concurrency",
            "expected a whole number",
        ),
        broken(
            "not a boolean",
            "stream:\n  create: perhaps\n",
            2,
            "stream.create",
            "expected true or false",
        ),
        broken(
            "not a list",
            "destinations:\n  - name: hook\n    channel: webhook\n    events: rotation.x\n",
            4,
            "destinations[0].events",
            "expected a list",
        ),
        broken(
            "receipts not a boolean",
            with_hook("    url: http://x/y\n    receipts: sometimes\n"),
            6,
            "destinations[0].receipts",
            "expected true or false",
        ),
        broken(
            "bad duration",
            with_hook("    url: http://x/y\n    timeout: 5 parsecs\n"),
            6,
            "destinations[0].timeout",
            "such as `10s`",
        ),
        broken(
            "bad URL",
            with_hook("    url: not a url\n"),
            5,
            "destinations[hook].url",
            "expected an absolute http or https URL",
        ),
        broken(
            "not http",
            with_hook("    url: ftp://x/y\n"),
            5,
            "destinations[hook].url",
            "must be http or https, not ftp",
        ),
        broken(
            "missing secret variable",
            with_hook("    url: {from: {env: HERALD_TEST_SURELY_UNSET}}\n"),
            5,
            "destinations[hook].url",
            "set it, or write the secret inline",
        ),
        broken(
            "missing secret file",
            with_hook("    url: {from: {file: /nonexistent/secret}}\n"),
            5,
            "destinations[hook].url",
            "expected a readable file",
        ),
        broken(
            "bad subject pattern",
            "destinations:\n  - name: hook\n    channel: webhook\n    events: [\"rot*\"]\n",
            4,
            "destinations[0].events[0]",
            "write `rotation.*`",
        ),
        broken(
            "subject outside the stream",
            "destinations:\n  - name: hook\n    channel: webhook\n    events: [other.x]\n    url: http://x/y\n",
            4,
            "destinations[hook].events",
            "add it to `stream.subjects`",
        ),
        broken(
            "duplicate name",
            with_hook(
                "    url: http://x/y\n  - name: hook\n    channel: webhook\n    events: [\"update.>\"]\n    url: http://x/z\n",
            ),
            6,
            "destinations[hook].name",
            "is used twice",
        ),
        broken(
            "bad name",
            "destinations:\n  - name: Ops Hook\n    channel: webhook\n    events: [\"rotation.>\"]\n",
            2,
            "destinations[0].name",
            "lowercase letters, digits",
        ),
        broken(
            "missing channel",
            "destinations:\n  - name: hook\n    events: [\"rotation.>\"]\n",
            2,
            "destinations[0]",
            "needs `name`, `channel` and `events`",
        ),
        broken(
            "unknown channel",
            "destinations:\n  - name: hook\n    channel: pigeon\n    events: [\"rotation.>\"]\n",
            3,
            "destinations[hook].channel",
            "this herald knows: webhook, slack",
        ),
        broken(
            "unknown channel key",
            with_hook("    url: http://x/y\n    sigining: {}\n"),
            6,
            "destinations[hook].sigining",
            "expected one of: name, channel",
        ),
        broken(
            "bad rate limit",
            with_hook("    url: http://x/y\n    rate_limit: {per_second: 0}\n"),
            6,
            "destinations[0].rate_limit",
            "must be above 0",
        ),
        broken(
            "rate limit key",
            with_hook("    url: http://x/y\n    rate_limit: {per_sec: 3}\n"),
            6,
            "destinations[0].rate_limit.per_sec",
            "expected one of per_second, burst",
        ),
        broken(
            "bad jitter",
            with_hook("    url: http://x/y\n    retry: {jitter: 2}\n"),
            6,
            "destinations[0].retry",
            "between 0 and 1",
        ),
        broken(
            "no attempts",
            with_hook("    url: http://x/y\n    retry: {max_attempts: 0}\n"),
            6,
            "destinations[0].retry",
            "at least 1",
        ),
        broken(
            "bad severity",
            with_hook("    url: http://x/y\n    when: {severity_at_least: loud}\n"),
            6,
            "destinations[0].when",
            "expected success, info, warning, error or critical",
        ),
        broken(
            "bad filter key",
            with_hook("    url: http://x/y\n    when: {colour: red}\n"),
            6,
            "destinations[0].when",
            "expected severity_at_least, type",
        ),
        broken(
            "timeout over ack_wait",
            with_hook("    url: http://x/y\n    timeout: 2m\n"),
            6,
            "destinations[hook].timeout",
            "must be shorter than `worker.ack_wait`",
        ),
        broken(
            "bad signing scheme",
            with_hook("    url: http://x/y\n    signing: {scheme: hmac, secret: k}\n"),
            6,
            "destinations[hook].signing.scheme",
            "expected `standard-webhooks` or `hmac-sha256`",
        ),
        broken(
            "bad listen address",
            "worker:\n  metrics_listen: localhost\n",
            2,
            "worker.metrics_listen",
            "such as 0.0.0.0:9464",
        ),
        broken(
            "bad allow-list entry",
            "worker:\n  outbound:\n    allow: [\"10.0.0.0/99\"]\n",
            3,
            "worker.outbound.allow[0]",
            "write one as 10.0.0.0/8",
        ),
        broken(
            "two NATS auth modes",
            "nats:\n  token: abc\n  credentials_file: /x.creds\n",
            2,
            "nats",
            "use one of user and password, token, nkey_seed or credentials_file",
        ),
        broken(
            "tls key",
            with_hook("    url: http://x/y\n    tls: {ca: /x}\n"),
            6,
            "destinations[0].tls.ca",
            "expected one of ca_file, insecure_skip_verify",
        ),
        broken(
            "missing CA file",
            with_hook("    url: http://x/y\n    tls: {ca_file: /nonexistent/ca.pem}\n"),
            6,
            "destinations[hook].tls.ca_file",
            "cannot read /nonexistent/ca.pem",
        ),
        broken(
            "bad email address",
            "destinations:\n  - name: m\n    channel: email\n    events: [\"rotation.>\"]\n    from: not-an-address\n    to: [a@example.com]\n    smtp: {host: localhost}\n",
            5,
            "destinations[m].from",
            "expected ops@example.com",
        ),
        broken(
            "unknown region",
            "destinations:\n  - name: p\n    channel: pagerduty\n    events: [\"rotation.>\"]\n    routing_key: abc\n    region: mars\n",
            6,
            "destinations[p].region",
            "expected `us` or `eu`",
        ),
        broken(
            "slack without a target",
            "destinations:\n  - name: s\n    channel: slack\n    events: [\"rotation.>\"]\n",
            2,
            "destinations[s].webhook_url",
            "set `webhook_url`",
        ),
        broken(
            "YAML that is not YAML",
            "destinations:\n  - name: hook\n    channel: [webhook\n",
            3,
            "destinations[0].channel",
            "",
        ),
    ]
}

/// Every kind of mistake is reported by `herald check` as
/// `file:line:column: field: message`, with what would be valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mistake_names_file_line_and_field_and_what_is_valid() -> Result<()> {
    let mut failures = Vec::new();
    for case in table() {
        let file = ConfigFile::write_text("bad.yaml", &case.yaml)?;
        let path = file.name();
        let out = crate::dlq::herald(&["check", "--config", &path]).await?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let prefix = format!("{path}:{}:", case.line);
        let line = stderr.lines().find(|l| l.starts_with(&prefix));
        let ok = !out.status.success()
            && line.is_some_and(|l| {
                l.contains(&format!(": {}: ", case.field)) && l.contains(case.valid)
            });
        if !ok {
            failures.push(format!(
                "{}: expected `{prefix}… {}: …{}…`, got:\n{stderr}",
                case.what, case.field, case.valid
            ));
        }
    }
    anyhow::ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
