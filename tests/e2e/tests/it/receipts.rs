//! `receipts: false` on a destination: its deliveries neither read nor write
//! idempotency receipts, while a destination with the default keeps them.

use anyhow::{Context as _, Result};
use herald_core::receipts::receipt_key;
use herald_testkit::{NatsServer, Receiver, event, publish, webhook, write_fleet_config};
use serde_json::json;

use crate::support::{SOON, start_worker, wait_idle};

/// A receipt as a worker writes it, for an event delivered earlier.
const EARLIER: &str = r#"{"delivered_at":"2026-11-24T00:00:00.000000Z","attempt":1}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_without_receipts_neither_reads_nor_writes_them() -> Result<()> {
    let nats = NatsServer::start().await?;
    let kept_rx = Receiver::start().await?;
    let off_rx = Receiver::start().await?;
    let mut off = webhook("off", &off_rx.url(), &["rotation.>"]);
    off["receipts"] = json!(false);
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("kept", &kept_rx.url(), &["rotation.>"]), off],
    )?;
    let _worker = start_worker(&config).await?;
    let js = nats.jetstream().await?;
    let bucket = js.get_key_value("herald_receipts").await?;

    // Written: only for the destination that keeps receipts.
    publish(&js, "rotation.failed", "r-1", event("r-1", &json!({}))).await?;
    kept_rx.wait_for(1, SOON).await?;
    off_rx.wait_for(1, SOON).await?;
    wait_idle(&js, "kept", "rotation.>").await?;
    wait_idle(&js, "off", "rotation.>").await?;
    assert!(
        bucket.get(receipt_key("kept", "r-1")).await?.is_some(),
        "the default destination recorded its delivery"
    );
    assert!(
        bucket.get(receipt_key("off", "r-1")).await?.is_none(),
        "the destination without receipts wrote none"
    );

    // Read: an event both already have receipts for is sent only where
    // receipts are off.
    for dest in ["kept", "off"] {
        bucket
            .put(receipt_key(dest, "r-2"), EARLIER.into())
            .await
            .with_context(|| format!("writing a receipt for {dest}"))?;
    }
    publish(&js, "rotation.failed", "r-2", event("r-2", &json!({}))).await?;
    off_rx.wait_for(2, SOON).await?;
    wait_idle(&js, "kept", "rotation.>").await?;
    wait_idle(&js, "off", "rotation.>").await?;
    let kept_ids: Vec<_> = kept_rx
        .requests()
        .iter()
        .filter_map(|r| r.event_id().map(str::to_owned))
        .collect();
    assert_eq!(kept_ids, ["r-1"], "the receipt stopped the second send");
    let off_ids: Vec<_> = off_rx
        .requests()
        .iter()
        .filter_map(|r| r.event_id().map(str::to_owned))
        .collect();
    assert_eq!(off_ids, ["r-1", "r-2"]);
    Ok(())
}
