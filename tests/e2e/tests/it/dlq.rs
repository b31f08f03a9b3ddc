//! Working the dead-letter queue with `herald dlq`: list, show, replay, purge.
//!
//! The point of replay: an event dead-lettered for one destination goes back to
//! that destination only, never to another that already had it; a replay of
//! something the destination has (a receipt exists) sends nothing unless forced.

use std::process::Output;
use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_core::config::ReplayConfig;
use herald_core::jetstream::{replay_consumer_name, replay_subject};
use herald_core::replay::replay_of;
use herald_testkit::{
    NatsServer, Receiver, Reply, WorkerCommand, dead_letters, event, publish, run_herald,
    run_herald_ok, wait_for_consumer_idle, wait_for_dead_letters, webhook, write_fleet_config,
};
use serde_json::json;

use crate::support::{SOON, wait_idle, wait_ready};

/// Runs the `herald` binary with `args`, failing after `SOON`.
pub(crate) async fn herald(args: &[&str]) -> Result<Output> {
    run_herald(args, SOON).await
}

/// Runs `herald` and returns its standard output, failing when it fails.
pub(crate) async fn herald_ok(args: &[&str]) -> Result<String> {
    run_herald_ok(args, SOON).await
}

async fn replay_idle(js: &async_nats::jetstream::Context, destination: &str) -> Result<()> {
    wait_for_consumer_idle(
        js,
        &ReplayConfig::default().stream,
        &replay_consumer_name("webhook", destination),
        SOON,
    )
    .await
}

fn count(receiver: &Receiver, id: &str) -> usize {
    receiver.by_event().get(id).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_reaches_only_the_destination_that_failed() -> Result<()> {
    let nats = NatsServer::start().await?;
    let alpha =
        Receiver::start_with_default(Reply::status(400).body("bad request: no such project"))
            .await?;
    let beta = Receiver::start().await?;
    let config = write_fleet_config(
        &nats.url(),
        &[
            webhook("alpha", &alpha.url(), &["rotation.>"]),
            webhook("beta", &beta.url(), &["rotation.>"]),
        ],
    )?;
    let cfg = config.name();
    let worker = WorkerCommand::webhook(config.path()).spawn()?;
    let js = nats.jetstream().await?;
    wait_ready(&js, "beta", "rotation.>")
        .await
        .with_context(|| worker.stderr())?;

    for id in ["r-1", "r-2"] {
        publish(
            &js,
            "rotation.failed",
            id,
            event(id, &json!({"service": "postgres-prod"})),
        )
        .await?;
    }
    beta.wait_for_events(&["r-1".into(), "r-2".into()], SOON)
        .await?;
    let letters = wait_for_dead_letters(&js, 2, SOON)
        .await
        .with_context(|| worker.stderr())?;
    wait_idle(&js, "alpha", "rotation.>").await?;
    wait_idle(&js, "beta", "rotation.>").await?;
    assert!(letters.iter().all(|l| l.destination() == Some("alpha")));
    let seq_of = |id: &str| {
        letters
            .iter()
            .find(|l| l.text().contains(id))
            .map(|l| l.sequence)
            .context("dead letter missing")
    };
    let (s1, s2) = (seq_of("r-1")?, seq_of("r-2")?);

    // list and show.
    let list = herald_ok(&["dlq", "--config", &cfg, "list"]).await?;
    for needle in [
        "alpha",
        "permanent",
        "400",
        "rotation.failed",
        "r-1",
        "r-2",
        "2 dead letter(s)",
    ] {
        assert!(list.contains(needle), "`{needle}` missing:\n{list}");
    }
    let none = herald_ok(&["dlq", "--config", &cfg, "list", "--destination", "beta"]).await?;
    assert!(none.contains("No dead letters for beta"), "{none}");
    let show = herald_ok(&["dlq", "--config", &cfg, "show", &s1.to_string()]).await?;
    for needle in [
        "Destination  alpha",
        "Reason       permanent",
        "Status       400",
        "no such project",
        "\"id\": \"r-1\"",
        "postgres-prod",
    ] {
        assert!(show.contains(needle), "`{needle}` missing:\n{show}");
    }

    // Fix alpha, replay one letter by ID: alpha gets it once, beta nothing new.
    alpha.set_default(Reply::ok());
    let out = herald_ok(&["dlq", "--config", &cfg, "replay", &s1.to_string()]).await?;
    assert!(out.contains("Replayed 1 dead letter(s)"), "{out}");
    alpha.wait_for(3, SOON).await?;
    replay_idle(&js, "alpha").await?;
    assert_eq!(count(&alpha, "r-1"), 2, "the failure, then the replay");
    let replayed = alpha.requests().into_iter().last().context("no request")?;
    assert_eq!(
        replayed.json()?["type"],
        "rotation.failed",
        "the original subject is kept"
    );

    // The destination's letters since an hour ago: r-1 again (the same replay
    // within the duplicate window is dropped by JetStream) and r-2.
    let out = herald_ok(&[
        "dlq",
        "--config",
        &cfg,
        "replay",
        "--destination",
        "alpha",
        "--since",
        "1h",
    ])
    .await?;
    assert!(out.contains("already replayed"), "{out}");
    alpha.wait_for(4, SOON).await?;
    replay_idle(&js, "alpha").await?;
    assert_eq!((count(&alpha, "r-1"), count(&alpha, "r-2")), (2, 2));

    // A replay of an event alpha has (published later, with a new message id):
    // the receipt stops it.
    let letter = dead_letters(&js)
        .await?
        .into_iter()
        .find(|l| l.sequence == s1)
        .context("r-1 letter")?;
    let mut stored = async_nats::HeaderMap::new();
    for (k, v) in &letter.headers {
        stored.append(k.as_str(), v.as_str());
    }
    let again = replay_of(&stored, s1, false, 0)?;
    let mut headers = again.headers;
    headers.insert("Nats-Msg-Id", "replay-after-the-window");
    js.publish_with_headers(
        replay_subject(&ReplayConfig::default(), "alpha"),
        headers,
        letter.payload.clone(),
    )
    .await?
    .await?;
    replay_idle(&js, "alpha").await?;
    assert_eq!(
        count(&alpha, "r-1"),
        2,
        "a delivered event is not replayed twice"
    );

    // --force sends it anyway.
    herald_ok(&[
        "dlq",
        "--config",
        &cfg,
        "replay",
        "--force",
        &s1.to_string(),
    ])
    .await?;
    alpha.wait_for(5, SOON).await?;
    replay_idle(&js, "alpha").await?;
    assert_eq!(count(&alpha, "r-1"), 3);

    // Beta never saw a replay.
    assert_eq!(
        beta.count(),
        2,
        "beta got each event once: {:?}",
        beta.by_event()
    );
    assert_eq!(dead_letters(&js).await?.len(), 2, "no new dead letters");

    // Purge asks first, then deletes.
    let refused = herald(&["dlq", "--config", &cfg, "purge", "--destination", "alpha"]).await?;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(
        said.contains("2 dead letter(s) of destination alpha would be deleted"),
        "{said}"
    );
    assert_eq!(dead_letters(&js).await?.len(), 2);
    let out = herald_ok(&[
        "dlq",
        "--config",
        &cfg,
        "purge",
        "--destination",
        "alpha",
        "--yes",
    ])
    .await?;
    assert!(out.contains("Deleted 2 dead letter(s)"), "{out}");
    let list = herald_ok(&["dlq", "--config", &cfg, "list"]).await?;
    assert!(list.contains("No dead letters"), "{list}");
    let _ = s2;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_event_that_fails_again_is_dead_lettered_with_its_first_subject() -> Result<()> {
    let nats = NatsServer::start().await?;
    let alpha = Receiver::start_with_default(Reply::status(422)).await?;
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("alpha", &alpha.url(), &["update.>"])],
    )?;
    let cfg = config.name();
    let worker = WorkerCommand::webhook(config.path()).spawn()?;
    let js = nats.jetstream().await?;
    wait_ready(&js, "alpha", "update.>")
        .await
        .with_context(|| worker.stderr())?;
    publish(&js, "update.completed", "u-1", event("u-1", &json!({}))).await?;
    let first = wait_for_dead_letters(&js, 1, SOON).await?;
    herald_ok(&[
        "dlq",
        "--config",
        &cfg,
        "replay",
        &first[0].sequence.to_string(),
    ])
    .await?;
    let both = wait_for_dead_letters(&js, 2, Duration::from_secs(30)).await?;
    let second = &both[1];
    assert_eq!(second.subject, "herald.dlq.webhook.alpha");
    assert_eq!(
        second.header("Herald-Dlq-Subject"),
        Some("update.completed")
    );
    assert_eq!(second.status(), Some(422));
    assert_eq!(alpha.count(), 2);
    Ok(())
}
