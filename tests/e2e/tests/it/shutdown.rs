//! SIGTERM stops a worker gracefully: deliveries in flight complete, the rest
//! is handed back, and a restarted worker delivers it; nothing lost, nothing twice.

use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Reply, WorkerCommand, event, fleet, publish_all, webhook,
};
use serde_json::json;

use crate::support::{SOON, ids, wait_idle, wait_ready};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_deliveries_and_loses_nothing() -> Result<()> {
    const N: usize = 12;
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start_with_default(Reply::ok().after(Duration::from_secs(2))).await?;
    let mut dest = webhook("graceful", &receiver.url(), &["secret.>"]);
    dest["concurrency"] = json!(4);
    // A long ack_wait: anything the stopping worker neither acks nor hands back
    // would not come back within the test's deadlines.
    dest["headers"] = json!({"X-Replica": {"from": {"env": "REPLICA"}}});
    let doc = fleet(&nats.url(), &[dest]);
    let config = ConfigFile::write(&doc)?;
    let cmd = WorkerCommand::webhook(config.path()).env("NATS_URL", &nats.url());
    let js = nats.jetstream().await?;

    let mut first = cmd.clone().env("REPLICA", "first").spawn()?;
    wait_ready(&js, "graceful", "secret.>")
        .await
        .with_context(|| format!("worker stderr:\n{}", first.stderr()))?;
    let ids = ids("term", N);
    publish_all(
        &js,
        ids.iter().map(|id| {
            (
                "secret.expiring".to_string(),
                id.clone(),
                event(id, &json!({})),
            )
        }),
    )
    .await?;

    receiver.wait_for(4, SOON).await?;
    let in_flight: Vec<String> = receiver
        .requests()
        .iter()
        .filter(|r| r.answered.is_none())
        .filter_map(|r| r.event_id().map(str::to_string))
        .collect();
    first.terminate()?;
    let status = first.wait_exit(SOON).await?;
    assert!(
        status.success(),
        "exit: {status}; stderr:\n{}",
        first.stderr()
    );
    assert!(
        !in_flight.is_empty(),
        "deliveries should be in flight at SIGTERM"
    );
    // Every request the stopping worker started was answered before it exited.
    let at_exit = receiver.requests();
    let unanswered: Vec<_> = at_exit
        .iter()
        .filter(|r| r.answered.is_none())
        .map(|r| r.event_id())
        .collect();
    assert!(
        unanswered.is_empty(),
        "cut off by the shutdown: {unanswered:?}"
    );
    assert!(
        at_exit.len() < N,
        "the shutdown should leave work for the restart"
    );
    assert!(
        first.stderr().contains("Worker stopped"),
        "stderr:\n{}",
        first.stderr()
    );

    let second = cmd.env("REPLICA", "second").spawn()?;
    receiver
        .wait_for_events(&ids, SOON)
        .await
        .with_context(|| format!("restarted worker stderr:\n{}", second.stderr()))?;
    wait_idle(&js, "graceful", "secret.>").await?;

    let seen = receiver.by_event();
    assert_eq!(seen.len(), N);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    for id in &in_flight {
        assert_eq!(seen.get(id), Some(&1), "{id} was in flight at SIGTERM");
    }
    Ok(())
}
