//! The test kit itself: the servers it starts behave as the other tests assume.

use std::time::Duration;

use anyhow::Result;
use async_nats::jetstream::stream;
use herald_testkit::{NatsServer, Receiver, Reply, publish, wait_until};

use crate::support::SOON;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_restarts_on_its_port_with_its_store() -> Result<()> {
    let mut nats = NatsServer::start().await?;
    let port = nats.port();
    let js = nats.jetstream().await?;
    js.create_stream(stream::Config {
        name: "KIT".into(),
        subjects: vec!["kit.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    let ack = publish(&js, "kit.one", "k-1", "hello").await?;
    assert_eq!(ack.sequence, 1);

    nats.kill()?;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "killed server still accepts connections"
    );
    nats.restart().await?;
    assert_eq!(nats.port(), port);

    let js = nats.jetstream().await?;
    let stored = js.get_stream("KIT").await?.get_raw_message(1).await?;
    assert_eq!(&stored.payload[..], b"hello");
    // Deduplication state survived too.
    assert!(publish(&js, "kit.one", "k-1", "hello").await?.duplicate);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_answers_from_its_script_then_the_default() -> Result<()> {
    let receiver = Receiver::start_with_default(Reply::status(202)).await?;
    receiver.push_all([
        Reply::status(503).header("Retry-After", "7").body("busy"),
        Reply::ok().after(Duration::from_millis(300)),
    ]);
    receiver.respond_with(|r| (r.path == "/teapot").then(|| Reply::status(418)));
    let http = reqwest_like_get(&receiver.url()).await?;
    assert_eq!(http, (503, Some("7".into()), "busy".into()));
    let started = tokio::time::Instant::now();
    assert_eq!(reqwest_like_get(&receiver.url()).await?.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        reqwest_like_get(&format!("{}/teapot", receiver.base_url()))
            .await?
            .0,
        418
    );
    assert_eq!(reqwest_like_get(&receiver.url()).await?.0, 202);

    let reqs = receiver.wait_for(4, SOON).await?;
    assert_eq!(reqs.len(), 4);
    assert!(
        reqs.iter()
            .all(|r| r.answered.is_some() && r.method == "GET")
    );
    assert_eq!(reqs[2].path, "/teapot");
    assert!(
        receiver
            .wait_for(5, Duration::from_millis(100))
            .await
            .is_err(),
        "only four requests were made"
    );
    wait_until(SOON, "count", || async { receiver.count() == 4 }).await?;
    Ok(())
}

/// A minimal HTTP/1.1 GET over a raw socket: (status, Retry-After, body).
async fn reqwest_like_get(url: &str) -> Result<(u16, Option<String>, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("not http: {url}"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = tokio::net::TcpStream::connect(host).await?;
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).await?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("bad response: {raw}"))?;
    let retry_after = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: ").map(str::to_string));
    Ok((status, retry_after, body.to_string()))
}
