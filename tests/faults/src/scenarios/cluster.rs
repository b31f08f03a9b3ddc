//! Three clustered nats-servers; Herald's streams, consumers and buckets kept
//! on all three (replicas 3); the worker given every node's URL. Under load the
//! event stream's leader is killed (SIGKILL) and later started again on its
//! store, then every node is restarted in turn (SIGTERM). The worker reconnects
//! by itself, nothing is lost, and an event sent twice carries the same
//! `webhook-id`.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use async_nats::jetstream;
use herald_testkit::{
    ConfigFile, EVENT_STREAM, NatsCluster, Receiver, WorkerCommand, WorkerProcess, fleet,
    wait_for_consumer, wait_for_consumer_idle, wait_for_some,
};
use serde_json::json;
use tokio::time::Instant;

use crate::figures::Figures;
use crate::rig::{consumer, ids, publish_ids_until_stored, signed_webhook, wait_accepted};
use crate::scale::Scale;
use crate::tally::{KEPT_HEADERS, Tally};

const DEST: &str = "clustered";
const NODES: usize = 3;
const CONCURRENCY: usize = 16;
/// Every stream and bucket Herald creates, each with a `replicas` key.
const REPLICATED: [&str; 6] = ["stream", "dlq", "receipts", "status", "replay", "digest"];
/// The variable giving the worker's log filter; when set, its log is kept.
const WORKER_LOG: &str = "HERALD_FAULTS_WORKER_LOG";
/// How long the cluster may take to elect leaders and catch a node up.
const SETTLE: Duration = Duration::from_secs(60);

/// Runs the scenario.
///
/// # Errors
/// When an invariant does not hold, or the fleet does not run.
pub async fn run(scale: Scale) -> Result<Figures> {
    let mut log = None;
    let result = scenario(scale, &mut log).await;
    match (result, log) {
        (Err(e), Some(path)) => Err(e.context(format!("worker log kept at {}", path.display()))),
        (result, path) => {
            // Kept when asked for (a log filter was given), else removed.
            if let Some(path) = path {
                if std::env::var_os(WORKER_LOG).is_some() {
                    eprintln!("herald-faults: worker log kept at {}", path.display());
                } else {
                    let _ = std::fs::remove_file(path);
                }
            }
            result
        }
    }
}

async fn scenario(scale: Scale, kept: &mut Option<std::path::PathBuf>) -> Result<Figures> {
    let events: usize = scale.pick(1_200, 20_000);
    let deadline = scale.pick(Duration::from_secs(120), Duration::from_secs(600));
    let receiver = Receiver::start().await?;
    receiver.keep_only(KEPT_HEADERS);
    let mut cluster = NatsCluster::start(NODES).await?;
    let js = cluster.jetstream().await?;
    let mut dest = signed_webhook(DEST, &receiver);
    dest["concurrency"] = json!(CONCURRENCY);
    dest["timeout"] = json!("2s");
    let mut doc = fleet(&cluster.urls(), &[dest]);
    for section in REPLICATED {
        doc[section]["replicas"] = json!(NODES);
    }
    doc["worker"]["ack_wait"] = json!("5s");
    let config = ConfigFile::write(&doc)?;
    let mut worker = spawn(&config, &cluster.urls())?;
    let _keep = KeepLog::new(&worker, kept);
    wait_for_consumer(&js, EVENT_STREAM, &consumer(DEST)?, SETTLE)
        .await
        .with_context(|| format!("worker log:\n{}", worker.stderr()))?;
    let mut stream = js.get_stream(EVENT_STREAM).await?;
    let replicas = stream.info().await?.config.num_replicas;
    ensure!(
        replicas == NODES,
        "the event stream has {replicas} replicas, not {NODES}"
    );

    let ids = ids("cluster", events);
    // One chunk before the leader is killed, one while it is down, one per
    // node of the rolling restart.
    let phases = 2 + NODES;
    let chunks: Vec<&[String]> = ids.chunks(events.div_ceil(phases)).collect();
    let mut faults = Vec::new();
    let mut published = 0;
    let start = Instant::now();

    // 1. SIGKILL the event stream's leader while the first chunk flows.
    published += publish(&js, chunks[0], deadline).await?;
    wait_for(
        &receiver,
        &mut worker,
        published - chunks[0].len() / 2,
        deadline,
    )
    .await?;
    let leader = leader_of(&cluster, &js).await?;
    let down = Instant::now();
    cluster.kill(leader)?;
    let successor = wait_for_some(SETTLE, "a new stream leader", || async {
        leader_of(&cluster, &js).await.ok().filter(|l| *l != leader)
    })
    .await?;
    faults.push(format!(
        "SIGKILL of stream leader {} ({} took over in {:.1} s)",
        cluster.name(leader),
        cluster.name(successor),
        down.elapsed().as_secs_f64()
    ));

    // 2. Events flow through the two survivors; then the killed node comes
    //    back on its store and catches up.
    published += publish(&js, chunks[1], deadline).await?;
    wait_for(
        &receiver,
        &mut worker,
        published - chunks[1].len() / 2,
        deadline,
    )
    .await?;
    cluster.restart(leader).await?;
    cluster
        .wait_stream_current(&js, EVENT_STREAM, SETTLE)
        .await?;
    faults.push(format!(
        "{} restarted on its store, all replicas current {:.1} s after the kill",
        cluster.name(leader),
        down.elapsed().as_secs_f64()
    ));

    // 3. A rolling restart: each node in turn stopped (SIGTERM) and started
    //    again while events flow, waiting for its replicas to catch up.
    for (node, chunk) in chunks[2..].iter().enumerate() {
        published += publish(&js, chunk, deadline).await?;
        wait_for(
            &receiver,
            &mut worker,
            published - chunk.len() / 2,
            deadline,
        )
        .await?;
        let began = Instant::now();
        cluster.terminate(node, SETTLE).await?;
        cluster.restart(node).await?;
        cluster
            .wait_stream_current(&js, EVENT_STREAM, SETTLE)
            .await?;
        faults.push(format!(
            "rolling restart of {} ({:.1} s until current)",
            cluster.name(node),
            began.elapsed().as_secs_f64()
        ));
    }

    let drain = wait_accepted(&receiver, events, start, deadline).await?;
    wait_for_consumer_idle(&js, EVENT_STREAM, &consumer(DEST)?, deadline).await?;
    ensure!(
        worker.is_running(),
        "the worker did not survive the failovers:\n{}",
        worker.stderr()
    );
    let log = worker.stderr();
    worker.kill()?;

    let tally = Tally::of(receiver.requests());
    let mut f = tally.figures(
        "cluster: stream leader killed, rolling restart",
        &format!(
            "{events} events in {} chunks to herald-webhook (signed, concurrency {CONCURRENCY}, ack_wait 5 s) on {NODES} clustered nats-servers, every stream and bucket with {NODES} replicas, the worker given all {NODES} URLs; the event stream's leader SIGKILLed and restarted on its store, then each node restarted in turn (SIGTERM); one worker process throughout",
            chunks.len()
        ),
        &ids,
        0,
        drain,
    );
    f.note("faults", faults.join("; "));
    f.note("worker warnings", warnings(&log));
    let bound = faults.len() * CONCURRENCY;
    f.note(
        "duplicates allowed (faults x concurrency)",
        format!("at most {bound}"),
    );
    ensure!(published == events, "{published} of {events} published");
    tally.ensure_none_lost(&ids)?;
    tally.ensure_same_key()?;
    ensure!(
        f.duplicated_events <= bound,
        "{} events sent twice: more than can be in flight at {} faults",
        f.duplicated_events,
        faults.len()
    );
    Ok(f)
}

/// Starts `herald-webhook` on `urls`, logging warnings only unless
/// [`WORKER_LOG`] gives another filter (`herald_core=debug,warn`).
fn spawn(config: &ConfigFile, urls: &str) -> Result<WorkerProcess> {
    let filter = std::env::var(WORKER_LOG).unwrap_or_else(|_| "warn".into());
    WorkerCommand::webhook(config.path())
        .env("NATS_URL", urls)
        .env("HERALD_LOG", &filter)
        .env("REPLICA", "0")
        .spawn()
}

/// Publishes `chunk` until JetStream stores it all (across leader elections).
async fn publish(js: &jetstream::Context, chunk: &[String], deadline: Duration) -> Result<usize> {
    publish_ids_until_stored(js, chunk, deadline).await?;
    Ok(chunk.len())
}

/// Waits until `n` events were accepted, failing at once (with its log) if
/// the worker exits meanwhile.
async fn wait_for(
    receiver: &Receiver,
    worker: &mut WorkerProcess,
    n: usize,
    deadline: Duration,
) -> Result<()> {
    let end = Instant::now() + deadline;
    while receiver.accepted_events() < n {
        ensure!(
            worker.is_running(),
            "the worker exited before {n} events were accepted ({} were):\n{}",
            receiver.accepted_events(),
            last_lines(&worker.stderr(), 20)
        );
        ensure!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {n} events accepted ({} were)",
            receiver.accepted_events()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn last_lines(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The node leading the event stream.
async fn leader_of(cluster: &NatsCluster, js: &jetstream::Context) -> Result<usize> {
    cluster.stream_leader(js, EVENT_STREAM).await
}

/// How often the worker logged each warning that bears on a repeat or a delay.
fn warnings(log: &str) -> String {
    let counted = [
        "Delivered, but the receipt was not written.",
        "Cannot read receipts; retrying later.",
        "Pull failed.",
        "Could not flush acknowledgements.",
        "JetStream is not ready; retrying.",
    ];
    counted
        .iter()
        .map(|w| format!("{} x \"{w}\"", log.matches(w).count()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Copies the worker's log out of its temp dir when the scenario ends (the
/// guard is dropped before the worker and its temp dir), so the log of a
/// failed run can be read after; [`run`] removes it after a success.
struct KeepLog<'a> {
    from: std::path::PathBuf,
    to: &'a mut Option<std::path::PathBuf>,
}

impl<'a> KeepLog<'a> {
    fn new(worker: &WorkerProcess, to: &'a mut Option<std::path::PathBuf>) -> Self {
        Self {
            from: worker.stderr_path(),
            to,
        }
    }
}

impl Drop for KeepLog<'_> {
    fn drop(&mut self) {
        let to = std::env::temp_dir().join(format!(
            "herald-faults-cluster-worker-{}.log",
            std::process::id()
        ));
        if std::fs::copy(&self.from, &to).is_ok() {
            *self.to = Some(to);
        }
    }
}
