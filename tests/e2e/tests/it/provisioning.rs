//! Provisioning at start: a worker started while JetStream cannot answer yet
//! (a cluster without a meta leader) waits for it and then delivers; a
//! definite refusal still stops the worker at once with the reason.

use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use async_nats::jetstream::stream;
use herald_testkit::{
    ConfigFile, NatsCluster, NatsServer, Receiver, WorkerCommand, WorkerProcess, event, fleet,
    publish, webhook,
};
use serde_json::json;
use tokio::time::Instant;

use crate::support::{SOON, wait_ready};

/// What the worker logs each time it retries a provisioning step.
const RETRYING: &str = "JetStream is not ready; retrying.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_before_the_cluster_has_a_leader_waits_for_it() -> Result<()> {
    // One node of three: no majority, so no JetStream meta leader, and every
    // JetStream API call goes unanswered or is refused as unavailable.
    let mut cluster = NatsCluster::start_some(3, 1).await?;
    let receiver = Receiver::start().await?;
    let dest = webhook("patient", &receiver.url(), &["rotation.>"]);
    let mut doc = fleet(&cluster.url(0), &[dest]);
    for section in ["stream", "dlq", "receipts", "status", "replay"] {
        doc[section]["replicas"] = json!(3);
    }
    doc["worker"]["provision_timeout"] = json!("3m");
    let config = ConfigFile::write(&doc)?;
    let mut worker = WorkerCommand::webhook(config.path())
        .env("HERALD_LOG", "warn")
        .spawn()?;

    // The worker must still be there, retrying, after JetStream failed it.
    wait_logged(&mut worker, RETRYING, SOON).await?;

    // A majority forms; the worker finishes provisioning by itself.
    cluster.restart(1).await?;
    cluster.restart(2).await?;
    let js = cluster.jetstream().await?;
    wait_ready(&js, "patient", "rotation.>")
        .await
        .with_context(|| format!("worker log:\n{}", worker.stderr()))?;
    ensure!(
        worker.is_running(),
        "the worker exited:\n{}",
        worker.stderr()
    );

    publish(
        &js,
        "rotation.completed",
        "late-1",
        event("late-1", &json!({})),
    )
    .await?;
    receiver
        .wait_for_events(&["late-1".to_string()], SOON)
        .await
        .with_context(|| format!("worker log:\n{}", worker.stderr()))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_stream_stops_the_worker_at_once() -> Result<()> {
    let nats = NatsServer::start().await?;
    let js = nats.jetstream().await?;
    // Another stream already owns the subjects Herald's event stream needs.
    js.create_stream(stream::Config {
        name: "SOMEONE_ELSE".into(),
        subjects: vec!["rotation.>".into()],
        ..Default::default()
    })
    .await?;
    let receiver = Receiver::start().await?;
    let dest = webhook("refused", &receiver.url(), &["rotation.>"]);
    let mut doc = fleet(&nats.url(), &[dest]);
    doc["worker"]["provision_timeout"] = json!("5m");
    let config = ConfigFile::write(&doc)?;

    // Well under the 5 minutes it would retry a transient failure.
    let began = Instant::now();
    let finished = WorkerCommand::webhook(config.path())
        .env("HERALD_LOG", "warn")
        .run(SOON)
        .await?;
    ensure!(
        !finished.status.success(),
        "the worker started:\n{}",
        finished.stderr
    );
    ensure!(
        finished
            .stderr
            .contains("cannot set up stream HERALD_EVENTS")
            && finished.stderr.contains("overlap"),
        "no reason given:\n{}",
        finished.stderr
    );
    ensure!(
        !finished.stderr.contains(RETRYING),
        "a refusal was retried:\n{}",
        finished.stderr
    );
    eprintln!(
        "refused in {:.1} s: {}",
        began.elapsed().as_secs_f64(),
        finished.stderr.trim()
    );
    Ok(())
}

/// Waits until `worker` logs `line`, failing at once if it exits first.
async fn wait_logged(worker: &mut WorkerProcess, line: &str, deadline: Duration) -> Result<()> {
    let end = Instant::now() + deadline;
    loop {
        // Read before checking the process: a line written just before an
        // exit still counts.
        let log = worker.stderr();
        if log.contains(line) {
            return Ok(());
        }
        if !worker.is_running() {
            bail!("the worker exited before logging {line:?}:\n{log}");
        }
        if Instant::now() >= end {
            bail!("the worker did not log {line:?} within {deadline:?}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
