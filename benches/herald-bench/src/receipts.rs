//! Receipt lookups against a growing bucket: the read Herald makes before each
//! send (`Receipts::get`, a KV direct get) for a key that does not exist yet
//! (a first delivery) and for one that does, with the receipts bucket holding
//! 0, 20,000 and 100,000 receipts. The empty bucket is the reference.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use herald_core::config::ReceiptsConfig;
use herald_core::jetstream::ensure_receipts_bucket;
use herald_core::receipts::{Receipt, Receipts, receipt_key};

use crate::bench::{Bench, Stack};
use crate::procs::Cpu;

struct Row {
    size: u64,
    miss_us: f64,
    miss_nats_us: f64,
    hit_us: f64,
    hit_nats_us: f64,
}

/// Measures every bucket size once and reports.
pub(crate) async fn run(bench: &Bench) -> anyhow::Result<String> {
    let a = &bench.args;
    eprintln!(
        "receipts: bucket sizes {:?}, {} lookups each",
        a.receipt_sizes, a.receipt_lookups
    );
    let mut rows = Vec::new();
    for size in &a.receipt_sizes {
        let r = run_once(bench, *size)
            .await
            .map_err(|e| e.context(format!("receipts: {size} receipts")))?;
        eprintln!(
            "  {:>7} receipts: miss {:.0} µs (nats-server {:.0} µs), hit {:.0} µs",
            size, r.miss_us, r.miss_nats_us, r.hit_us
        );
        rows.push(r);
    }
    Ok(report(bench, &rows))
}

async fn run_once(bench: &Bench, size: u64) -> anyhow::Result<Row> {
    let a = &bench.args;
    let stack = Stack::start(bench, 1, 0, 1).await?;
    let cfg = ReceiptsConfig::default();
    let store = ensure_receipts_bucket(&stack.js, &cfg).await?;
    let receipts = Receipts::new(store, stack.client.clone(), &cfg.bucket);
    let receipt = Receipt {
        delivered_at: chrono::Utc::now(),
        handle: None,
        attempt: 1,
    };
    // Filled the way the worker writes receipts: a plain publish per key.
    for i in 0..size {
        receipts
            .record(&receipt_key("bench", &format!("fill-{i}")), &receipt)
            .await?;
        if i % 10_000 == 9_999 {
            stack.client.flush().await?;
        }
    }
    stack.client.flush().await?;
    let mut stream = stack.js.get_stream(format!("KV_{}", cfg.bucket)).await?;
    let deadline = Instant::now() + Duration::from_secs(a.timeout_secs);
    while stream.info().await?.state.messages < size {
        if Instant::now() > deadline {
            bail!("the bucket did not reach {size} receipts");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let n = a.receipt_lookups.max(1);
    let nats = stack.nats.proc.pid;
    let (miss_us, miss_nats_us) = timed(bench, nats, n, |i| {
        let key = receipt_key("bench", &format!("miss-{i}"));
        let r = &receipts;
        async move { r.get(&key).await.map(|g| g.is_none()) }
    })
    .await?;
    let hits = size.max(1);
    let (hit_us, hit_nats_us) = if size == 0 {
        (f64::NAN, f64::NAN)
    } else {
        timed(bench, nats, n, |i| {
            let key = receipt_key("bench", &format!("fill-{}", i % hits));
            let r = &receipts;
            async move { r.get(&key).await.map(|g| g.is_some()) }
        })
        .await?
    };
    stack.stop(a.keep).await;
    Ok(Row {
        size,
        miss_us,
        miss_nats_us,
        hit_us,
        hit_nats_us,
    })
}

/// Runs `n` lookups one after another; returns (wall µs, nats-server CPU µs) per lookup.
async fn timed<F, Fut>(bench: &Bench, nats: u32, n: u64, lookup: F) -> anyhow::Result<(f64, f64)>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<bool, herald_core::receipts::ReceiptError>>,
{
    let cpu0 = Cpu::of(nats)?;
    let t0 = Instant::now();
    for i in 0..n {
        if !lookup(i).await? {
            bail!("lookup {i} found the wrong answer");
        }
    }
    let wall = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    let (u, s) = Cpu::of(nats)?.since_us(cpu0, bench.ticks);
    Ok((wall, (u + s) / n as f64))
}

fn report(bench: &Bench, rows: &[Row]) -> String {
    let a = &bench.args;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Receipt lookups: {} sequential `Receipts::get` per bucket size\n",
        a.receipt_lookups
    );
    let _ = writeln!(
        out,
        "| receipts in the bucket | missing key: µs per lookup | vs empty | nats-server CPU µs | vs empty | existing key: µs per lookup | nats-server CPU µs |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    let (ref_us, ref_nats) = rows
        .first()
        .map_or((f64::NAN, f64::NAN), |r| (r.miss_us, r.miss_nats_us));
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.0} | {:.2} | {:.0} | {:.0} |",
            r.size,
            r.miss_us,
            r.miss_us / ref_us,
            r.miss_nats_us,
            r.miss_nats_us / ref_nats,
            r.hit_us,
            r.hit_nats_us
        );
    }
    let _ = writeln!(
        out,
        "\nA fresh nats-server per size; the bucket is Herald's (`ensure_receipts_bucket`, defaults), \
         filled with plain publishes as the worker writes receipts. The first size is the reference.\n"
    );
    out
}
