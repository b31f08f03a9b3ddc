//! Metrics, health and status: a worker process scraped over HTTP as Prometheus
//! would, its readiness following the NATS connection, and `herald status`
//! reporting a broken destination from the workers' status records.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result};
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Reply, Scrape, WorkerCommand, WorkerProcess, event, fleet,
    publish, wait_for_consumer, wait_for_dead_letters, wait_for_some, wait_until, webhook,
};
use serde_json::{Value, json};

use crate::dlq::herald_ok;
use crate::support::{SOON, consumer, wait_idle, wait_ready};

/// `GET http://<addr><path>`: status, content type and body.
async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String, String)> {
    let r = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((status, ctype, r.text().await?))
}

async fn scrape(addr: SocketAddr) -> Result<Scrape> {
    Ok(Scrape::parse(&get(addr, "/metrics").await?.2))
}

/// Fast consumer gauges for tests.
fn doc(nats: &NatsServer, destinations: &[Value]) -> Value {
    let mut doc = fleet(&nats.url(), destinations);
    doc["worker"]["metrics_refresh"] = json!("200ms");
    doc
}

async fn started(cmd: &WorkerCommand) -> Result<(WorkerProcess, SocketAddr)> {
    let mut worker = cmd.spawn()?;
    let addr = worker.metrics_addr(SOON).await?;
    Ok((worker, addr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_deliveries_retries_and_dead_letters() -> Result<()> {
    let nats = NatsServer::start().await?;
    let good = Receiver::start().await?;
    let flaky = Receiver::start().await?;
    flaky.push(Reply::status(503));
    let bad = Receiver::start_with_default(Reply::status(400)).await?;
    let config = ConfigFile::write(&doc(
        &nats,
        &[
            webhook("good", &good.url(), &["rotation.>"]),
            webhook("flaky", &flaky.url(), &["rotation.>"]),
            webhook("bad", &bad.url(), &["rotation.>"]),
        ],
    ))?;
    let (worker, addr) = started(&WorkerCommand::webhook(config.path())).await?;
    let js = nats.jetstream().await?;
    wait_ready(&js, "bad", "rotation.>")
        .await
        .with_context(|| worker.stderr())?;

    for id in ["m-1", "m-2", "m-3"] {
        publish(&js, "rotation.completed", id, event(id, &json!({}))).await?;
    }
    wait_for_dead_letters(&js, 3, SOON).await?;
    for d in ["good", "flaky", "bad"] {
        wait_idle(&js, d, "rotation.>").await?;
    }
    let (status, ctype, text) = get(addr, "/metrics").await?;
    assert_eq!(status, 200);
    assert!(
        ctype.contains("openmetrics-text") || ctype.contains("text/plain"),
        "{ctype}"
    );
    let m = Scrape::parse(&text);
    let v = |name: &str, labels: &[(&str, &str)]| m.value(name, labels).unwrap_or(-1.0);
    let webhook = ("channel", "webhook");
    assert_eq!(
        v(
            "herald_notifications_sent_total",
            &[webhook, ("destination", "good")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        v(
            "herald_notifications_sent_total",
            &[("destination", "flaky")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        v("herald_notifications_sent_total", &[("destination", "bad")]),
        0.0,
        "{text}"
    );
    assert_eq!(
        v(
            "herald_notifications_failed_total",
            &[("destination", "flaky"), ("reason", "status_5xx")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        v(
            "herald_notifications_retried_total",
            &[("destination", "flaky")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        v(
            "herald_notifications_failed_total",
            &[("destination", "bad"), ("reason", "status_4xx")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        v(
            "herald_notifications_dead_lettered_total",
            &[("destination", "bad"), ("reason", "permanent")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        v(
            "herald_notifications_rate_limited_total",
            &[("destination", "good")]
        ),
        0.0
    );
    assert_eq!(
        v("herald_destination_broken", &[("destination", "bad")]),
        0.0
    );
    assert_eq!(
        v(
            "herald_delivery_attempt_duration_seconds_count",
            &[("destination", "flaky"), ("outcome", "retry")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        v(
            "herald_delivery_attempt_duration_seconds_count",
            &[("destination", "good"), ("outcome", "delivered")]
        ),
        3.0
    );
    assert_eq!(
        v(
            "herald_delivery_attempt_duration_seconds_count",
            &[("destination", "bad"), ("outcome", "permanent")]
        ),
        3.0
    );
    assert_eq!(
        v("herald_event_age_seconds_count", &[("destination", "good")]),
        3.0
    );
    assert!(v("herald_event_age_seconds_sum", &[("destination", "good")]) >= 0.0);
    // The consumer gauges, refreshed from consumer info.
    let good_consumer = consumer("good", "rotation.>")?;
    wait_until(SOON, "the consumer gauges", || async {
        scrape(addr).await.is_ok_and(|m| {
            m.value(
                "herald_consumer_pending",
                &[("consumer", good_consumer.as_str())],
            ) == Some(0.0)
                && m.value(
                    "herald_consumer_ack_pending",
                    &[("consumer", good_consumer.as_str())],
                ) == Some(0.0)
                && m.value("herald_consumer_redelivered", &[("destination", "good")])
                    .is_some()
                && m.value(
                    "herald_consumer_pending",
                    &[("consumer", "herald_webhook_good_replay")],
                )
                .is_some()
        })
    })
    .await?;
    assert_eq!(get(addr, "/healthz").await?.0, 200);
    let (ready, _, body) = get(addr, "/readyz").await?;
    assert_eq!(ready, 200, "{body}");
    assert_eq!(get(addr, "/nothing").await?.0, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_gauges_show_a_backlog() -> Result<()> {
    let nats = NatsServer::start().await?;
    // Answers slowly, one at a time: the rest wait as pending.
    let slow = Receiver::start_with_default(Reply::ok().after(Duration::from_secs(3))).await?;
    let mut dest = webhook("slow", &slow.url(), &["scan.>"]);
    dest["concurrency"] = json!(1);
    let config = ConfigFile::write(&doc(&nats, &[dest]))?;
    let (worker, addr) = started(&WorkerCommand::webhook(config.path())).await?;
    let js = nats.jetstream().await?;
    wait_ready(&js, "slow", "scan.>")
        .await
        .with_context(|| worker.stderr())?;
    for i in 0..5 {
        let id = format!("b-{i}");
        publish(&js, "scan.completed", &id, event(&id, &json!({}))).await?;
    }
    let slow_consumer = consumer("slow", "scan.>")?;
    let seen = wait_for_some(SOON, "a backlog in herald_consumer_pending", || async {
        let m = scrape(addr).await.ok()?;
        let pending = m.value(
            "herald_consumer_pending",
            &[("consumer", slow_consumer.as_str())],
        )?;
        let in_flight = m.value(
            "herald_consumer_ack_pending",
            &[("consumer", slow_consumer.as_str())],
        )?;
        (pending >= 2.0 && in_flight >= 1.0).then_some((pending, in_flight))
    })
    .await?;
    assert!(seen.0 <= 4.0, "{seen:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_nats_connection() -> Result<()> {
    let mut nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let mut doc = fleet(
        &nats.url(),
        &[webhook("steady", &receiver.url(), &["sync.>"])],
    );
    doc["worker"]["ack_wait"] = json!("10s");
    let config = ConfigFile::write(&doc)?;
    let (worker, addr) = started(&WorkerCommand::webhook(config.path())).await?;
    let status = |path: &'static str| async move { get(addr, path).await.map(|r| r.0).ok() };
    wait_until(SOON, "/readyz 200", || async {
        status("/readyz").await == Some(200)
    })
    .await
    .with_context(|| worker.stderr())?;

    nats.kill()?;
    wait_until(SOON, "/readyz 503 while NATS is down", || async {
        status("/readyz").await == Some(503)
    })
    .await?;
    let (_, _, why) = get(addr, "/readyz").await?;
    assert!(why.contains("NATS disconnected"), "{why}");
    assert_eq!(status("/healthz").await, Some(200), "alive all the same");

    nats.restart().await?;
    wait_until(SOON, "/readyz 200 after NATS is back", || async {
        status("/readyz").await == Some(200)
    })
    .await
    .with_context(|| worker.stderr())?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_metrics_address() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let config = ConfigFile::write(&fleet(
        &nats.url(),
        &[webhook("j", &receiver.url(), &["sync.>"])],
    ))?;
    let cmd = WorkerCommand::webhook(config.path())
        .arg("--log-format")
        .arg("json");
    let (worker, addr) = started(&cmd).await?;
    let line = worker
        .stderr()
        .lines()
        .find(|l| l.contains("Serving /metrics"))
        .map(str::to_owned)
        .context("no address line")?;
    let parsed: Value = serde_json::from_str(&line).with_context(|| line.clone())?;
    assert_eq!(parsed["fields"]["address"], addr.to_string());
    assert_eq!(get(addr, "/healthz").await?.0, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_a_broken_destination_from_any_process() -> Result<()> {
    let nats = NatsServer::start().await?;
    let fine = Receiver::start().await?;
    let gone = Receiver::start_with_default(
        Reply::status(404)
            .header("content-type", "application/json")
            .body(r#"{"message": "Unknown Webhook", "code": 10015}"#),
    )
    .await?;
    let discord = json!({
        "name": "gone",
        "channel": "discord",
        "events": ["rotation.>"],
        "webhook_url": gone.url(),
        "timeout": "5s",
    });
    let config = ConfigFile::write(&doc(
        &nats,
        &[webhook("fine", &fine.url(), &["rotation.>"]), discord],
    ))?;
    let cfg = config.name();
    let (webhook_worker, _) = started(&WorkerCommand::webhook(config.path())).await?;
    let (discord_worker, discord_addr) =
        started(&WorkerCommand::new("herald-discord", config.path())).await?;
    let js = nats.jetstream().await?;
    wait_ready(&js, "fine", "rotation.>")
        .await
        .with_context(|| webhook_worker.stderr())?;
    wait_for_consumer(
        &js,
        "HERALD_EVENTS",
        "herald_discord_gone_rotation_all",
        SOON,
    )
    .await
    .with_context(|| discord_worker.stderr())?;

    publish(
        &js,
        "rotation.failed",
        "s-1",
        event("s-1", &json!({"service": "vault"})),
    )
    .await?;
    wait_for_dead_letters(&js, 1, SOON).await?;
    fine.wait_for(1, SOON).await?;

    let rows = wait_for_some(
        SOON,
        "herald status to show gone broken and fine ok",
        || {
            let cfg = cfg.clone();
            async move {
                let out = herald_ok(&["status", "--config", &cfg, "--json"])
                    .await
                    .ok()?;
                let rows: Value = serde_json::from_str(&out).ok()?;
                let state = |d: &str| {
                    rows.as_array()?
                        .iter()
                        .find(|r| r["destination"] == d)
                        .map(|r| r["state"].as_str().unwrap_or_default().to_owned())
                };
                (state("gone")? == "broken" && state("fine")? == "ok").then_some(rows)
            }
        },
    )
    .await?;
    let gone_row = rows
        .as_array()
        .and_then(|r| r.iter().find(|r| r["destination"] == "gone"))
        .context("gone row")?;
    assert_eq!(gone_row["dead_letters"], 1);
    assert_eq!(gone_row["pending"], 0);
    assert!(
        gone_row["record"]["last_error"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("404") && r.contains("Unknown Webhook")),
        "{gone_row}"
    );
    assert!(gone_row["record"]["last_success"].is_null());

    let table = herald_ok(&["status", "--config", &cfg]).await?;
    for needle in [
        "DESTINATION",
        "gone",
        "BROKEN",
        "fine",
        "OK",
        "last success  never",
        "Unknown Webhook",
        "herald dlq replay --destination gone",
    ] {
        assert!(table.contains(needle), "`{needle}` missing:\n{table}");
    }
    let m = scrape(discord_addr).await?;
    assert_eq!(
        m.value(
            "herald_destination_broken",
            &[("channel", "discord"), ("destination", "gone")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.value(
            "herald_notifications_failed_total",
            &[("destination", "gone"), ("reason", "broken")]
        ),
        Some(1.0)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_metrics_port_stops_the_worker_with_the_address() -> Result<()> {
    let nats = NatsServer::start().await?;
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?.to_string();
    let config = ConfigFile::write(&fleet(
        &nats.url(),
        &[webhook("t", "http://127.0.0.1:9/hook", &["sync.>"])],
    ))?;
    let done = WorkerCommand::webhook(config.path())
        .env("HERALD_METRICS_LISTEN", &addr)
        .run(SOON)
        .await?;
    assert!(!done.status.success());
    assert!(
        done.stderr.contains(&format!("cannot listen on {addr}"))
            && done.stderr.contains("worker.metrics_listen"),
        "{}",
        done.stderr
    );
    let bad = WorkerCommand::webhook(config.path())
        .env("HERALD_METRICS_LISTEN", "everywhere")
        .run(SOON)
        .await?;
    assert_eq!(bad.status.code(), Some(2), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("HERALD_METRICS_LISTEN"),
        "{}",
        bad.stderr
    );
    Ok(())
}
