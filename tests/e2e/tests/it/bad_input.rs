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

/// Events that are too big, nested too deep or not UTF-8 are dead-lettered at
/// once with the reason; control characters in a good event are escaped, and
/// the good events behind them are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_deep_and_non_utf8_events_are_dead_lettered_with_the_reason() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut doc = herald_testkit::fleet(
        &nats.url(),
        &[webhook("hook", &receiver.url(), &["rotation.>"])],
    );
    doc["worker"]["max_event_bytes"] = json!(64 * 1024);
    let config = herald_testkit::ConfigFile::write(&doc)?;
    let worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;

    let hostile = |name: &str| {
        std::fs::read(
            std::path::Path::new(herald_testkit::SEED_DIR)
                .join("hostile")
                .join(name),
        )
    };
    let huge = hostile("huge.json")?;
    let deep = hostile("deep-10000.json")?;
    let not_utf8 = hostile("not-utf8.json")?;
    let control = json!({
        "id": "control",
        "title": "bell\u{7} escape\u{1b}[31m nul\u{0} bidi\u{202e} line\r\nX-Injected: 1",
    });
    publish(&js, "rotation.failed", "huge", huge).await?;
    publish(&js, "rotation.failed", "deep", deep).await?;
    publish(&js, "rotation.failed", "latin1", not_utf8.clone()).await?;
    publish(&js, "rotation.failed", "control", control.to_string()).await?;
    publish(
        &js,
        "rotation.completed",
        "after",
        event("after", &json!({})),
    )
    .await?;

    let letters = wait_for_dead_letters(&js, 3, SOON).await?;
    receiver.wait_for(2, SOON).await?;
    wait_idle(&js, "hook", "rotation.>").await?;
    let by_id = |id: &str| {
        letters
            .iter()
            .find(|d| d.header("Herald-Dlq-Msg-Id") == Some(id))
            .cloned()
    };
    for (id, expected) in [
        ("huge", "too_large: event is 102"),
        ("deep", "recursion limit exceeded"),
        ("latin1", "not_json"),
    ] {
        let d = by_id(id).ok_or_else(|| anyhow::anyhow!("no dead letter for {id}: {letters:?}"))?;
        assert_eq!(d.reason(), Some("bad_input"), "{d:?}");
        assert_eq!(d.attempts(), Some(1), "bad input is never retried");
        let e = d.error().unwrap_or_default();
        assert!(e.contains(expected), "{id}: {e}");
    }
    assert_eq!(
        by_id("latin1").map(|d| d.payload.to_vec()),
        Some(not_utf8),
        "kept as sent"
    );

    let delivered = receiver.requests();
    assert_eq!(delivered.len(), 2);
    let control = delivered
        .iter()
        .find(|r| r.event_id() == Some("control"))
        .ok_or_else(|| anyhow::anyhow!("the control-character event was not delivered"))?;
    assert!(control.header("x-injected").is_none());
    let title = control.json()?["title"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        title.contains("line\r\nX-Injected: 1"),
        "JSON carries the text as text: {title:?}"
    );
    let stats = worker.stats("hook").unwrap_or_default();
    assert_eq!((stats.delivered, stats.dead_lettered), (2, 3));
    Ok(())
}
