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
