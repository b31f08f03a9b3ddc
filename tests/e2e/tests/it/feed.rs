//! The live feed is published only while a watcher is there: nothing for an
//! unwatched fleet, every decision once a watcher announces itself, and a
//! `herald console` opened before the worker sees the worker's decisions.

use anyhow::{Context as _, Result, bail};
use futures::StreamExt as _;
use herald_core::feed::{FeedEntry, feed_filter, watch_subject};
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, event, fleet, publish, wait_for_some, webhook,
    write_fleet_config,
};
use serde_json::{Value, json};

use crate::support::{ConsoleProcess, SOON, start_worker, wait_idle};

const PREFIX: &str = "herald.feed";

/// The next feed entry on `sub`, within [`SOON`].
async fn next_entry(sub: &mut async_nats::Subscriber) -> Result<FeedEntry> {
    let msg = tokio::time::timeout(SOON, sub.next())
        .await
        .context("no feed entry in time")?
        .context("the feed subscription ended")?;
    serde_json::from_slice(&msg.payload).context("not a feed entry")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_published_only_while_a_watcher_announces_itself() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("watched", &receiver.url(), &["rotation.>"])],
    )?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;
    let client = async_nats::connect(nats.url()).await?;
    // A plain subscriber, which does not announce itself.
    let mut entries = client.subscribe(feed_filter(PREFIX)).await?;
    client.flush().await?;

    publish(
        &js,
        "rotation.failed",
        "unwatched",
        event("unwatched", &json!({})),
    )
    .await?;
    receiver.wait_for(1, SOON).await?;
    // Acked: the worker has decided about its entry (it does before the ack).
    wait_idle(&js, "watched", "rotation.>").await?;

    client.publish(watch_subject(PREFIX), "".into()).await?;
    client.flush().await?;
    publish(
        &js,
        "rotation.failed",
        "watched",
        event("watched", &json!({})),
    )
    .await?;
    receiver.wait_for(2, SOON).await?;

    // One publisher sends every entry in decision order, so an entry for the
    // first event would arrive before the second one's.
    let first = next_entry(&mut entries).await?;
    assert_eq!(
        first.event_id, "watched",
        "the first entry seen is the watched event's"
    );
    assert_eq!(first.destination, "watched");
    assert_eq!(first.channel, "webhook");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_always_publishes_without_a_watcher() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut doc = fleet(
        &nats.url(),
        &[webhook("always", &receiver.url(), &["rotation.>"])],
    );
    doc["status"]["feed_always"] = json!(true);
    let config = ConfigFile::write(&doc)?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;
    let client = async_nats::connect(nats.url()).await?;
    let mut entries = client.subscribe(feed_filter(PREFIX)).await?;
    client.flush().await?;

    publish(&js, "rotation.failed", "a-1", event("a-1", &json!({}))).await?;
    let first = next_entry(&mut entries).await?;
    assert_eq!(first.event_id, "a-1");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_opened_before_the_worker_shows_its_deliveries() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("early", &receiver.url(), &["rotation.>"])],
    )?;
    let console = ConsoleProcess::start(config.path(), &[]).await?;
    let http = reqwest::Client::new();

    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;
    publish(
        &js,
        "rotation.failed",
        "early-1",
        event("early-1", &json!({})),
    )
    .await?;
    receiver.wait_for(1, SOON).await?;

    let shown = wait_for_some(SOON, "the delivery on the console", || async {
        let recent: Value = http
            .get(format!("{}/api/deliveries", console.url))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        recent["entries"]
            .as_array()?
            .iter()
            .find(|e| e["event_id"] == "early-1")
            .cloned()
    })
    .await
    .with_context(|| console.log())?;
    if shown["outcome"] != "delivered" {
        bail!("the console shows {shown}");
    }
    Ok(())
}
