//! `bare-consumer`: the reference Herald is measured against.
//!
//! A durable pull consumer that pulls, POSTs each payload unchanged to one URL
//! and acks (NAKs on a non-2xx answer or a transport error), with at most
//! `--concurrency` requests in flight. Nothing else: no envelope, no filter, no
//! receipts, no retry policy, no dead letters. The orchestrator (`herald-bench`)
//! creates the stream and the consumer, then starts this process.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use clap::Parser;
use futures::StreamExt as _;

#[derive(Debug, Parser)]
#[command(about = "Pull, POST, ack: the bare JetStream consumer herald-bench compares against.")]
struct Args {
    /// NATS server URL.
    #[arg(long)]
    nats_url: String,
    /// Stream name.
    #[arg(long)]
    stream: String,
    /// Durable consumer name (must exist).
    #[arg(long)]
    consumer: String,
    /// Where each payload is POSTed.
    #[arg(long)]
    url: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Messages asked for per pull request.
    #[arg(long, default_value_t = 256)]
    batch: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = async_nats::connect(args.nats_url.as_str())
        .await
        .context("connect to NATS")?;
    let js = jetstream::new(client.clone());
    let stream = js.get_stream(&args.stream).await.context("get stream")?;
    let consumer: PullConsumer = stream
        .get_consumer(&args.consumer)
        .await
        .map_err(|e| anyhow::anyhow!("get consumer: {e}"))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("HTTP client")?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(args.batch)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .context("start pulling")?;
    let (http, url) = (&http, args.url.as_str());
    messages
        .for_each_concurrent(args.concurrency, |m| async move {
            let Ok(m) = m else { return };
            let sent = http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(m.payload.clone())
                .send()
                .await;
            let kind = match sent {
                Ok(r) if r.status().is_success() => AckKind::Ack,
                _ => AckKind::Nak(None),
            };
            // Fire-and-forget into the client's write buffer, like Herald's acks.
            let _ = m.ack_with(kind).await;
        })
        .await;
    client.flush().await.context("flush acks")?;
    Ok(())
}
