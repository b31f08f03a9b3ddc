//! Messages that are not usable events are dead-lettered at once, and do not
//! hold up the good events behind them.

use anyhow::Result;
use herald_testkit::{
    NatsServer, Receiver, event, publish, wait_for_dead_letters, webhook, write_fleet_config,
};
use serde_json::json;

use crate::support::{SOON, start_worker, wait_idle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_and_missing_id_are_dead_lettered() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("hook", &receiver.url(), &["rotation.>"])],
    )?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    publish(
        &js,
        "rotation.failed",
        "bad-json",
        &b"{\"id\": \"x\", oops"[..],
    )
    .await?;
    publish(
        &js,
        "rotation.failed",
        "no-id",
        json!({"title": "no id here"}).to_string(),
    )
    .await?;
    publish(
        &js,
        "rotation.completed",
        "good-1",
        event("good-1", &json!({})),
    )
    .await?;

    let delivered = receiver.wait_for(1, SOON).await?;
    let mut letters = wait_for_dead_letters(&js, 2, SOON).await?;
    wait_idle(&js, "hook", "rotation.>").await?;

    assert_eq!(delivered[0].event_id(), Some("good-1"));
    assert_eq!(receiver.count(), 1, "only the good event is sent");

    assert_eq!(letters.len(), 2);
    letters.sort_by_key(|d| d.header("Herald-Dlq-Msg-Id").map(str::to_string));
    let (bad_json, no_id) = (&letters[0], &letters[1]);
    assert_eq!(bad_json.header("Herald-Dlq-Msg-Id"), Some("bad-json"));
    assert_eq!(no_id.header("Herald-Dlq-Msg-Id"), Some("no-id"));
    for d in &letters {
        assert_eq!(d.reason(), Some("bad_input"), "{d:?}");
        assert_eq!(d.subject, "herald.dlq.webhook.hook");
        assert_eq!(d.status(), None, "no provider was called");
        assert_eq!(d.attempts(), Some(1), "bad input is never retried");
    }
    let e = bad_json.error().unwrap_or_default();
    assert!(
        e.contains("not_json") && e.contains("not valid JSON"),
        "{e}"
    );
    let e = no_id.error().unwrap_or_default();
    assert!(e.contains("missing_id") && e.contains("`id`"), "{e}");
    assert_eq!(
        bad_json.text(),
        "{\"id\": \"x\", oops",
        "the payload is kept as sent"
    );

    let stats = worker.stats("hook").unwrap_or_default();
    assert_eq!((stats.delivered, stats.dead_lettered), (1, 2));
    Ok(())
}
