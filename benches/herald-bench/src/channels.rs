//! Each channel's render and send path: every channel worker against a local
//! stand-in of its provider that answers as the provider documents, with the
//! channel's rate limit lifted. Each run publishes `--channel-events` copies
//! of the `dsops-rotation.failed` seed event (distinct ids and correlations)
//! and times them until the consumer has acked them all. The webhook channel
//! (Standard Webhooks signing on) is the reference.
//!
//! Stand-ins: HTTP receivers on 127.0.0.1 for Slack (`200 ok`), Teams
//! (`202`, a Workflows trigger), Discord (`200` and the message, with
//! `X-RateLimit-*` headers), PagerDuty (`202 {"status":"success",...}`) and
//! Opsgenie (`202 {"result",...}`); a local Jira Cloud keeping issues; and a
//! real SMTP server (aiosmtpd with STARTTLS and AUTH) for email.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use herald_core::config::StreamConfig;
use herald_core::jetstream::consumer_name;
use herald_testkit::{Receiver, Reply, SmtpServer, load_seed_events};
use serde_json::{Value, json};

#[path = "../../../crates/herald-jira/tests/jira/fake_jira.rs"]
mod fake_jira;

use crate::bench::{Bench, SIGNING_SECRET, Stack, fleet, wait_pulling};
use crate::cli::ChannelKind;
use crate::meter::Meter;
use crate::stats::median;

const SEED: &str = "dsops-rotation.failed";
const JIRA_EMAIL: &str = "bot@example.com";
const JIRA_TOKEN: &str = "jira-bench-token";
const PD_KEY: &str = "R0UT1NGKEY0000000000000000000000";

/// The provider stand-in a channel's worker talks to.
enum Provider {
    Http(Receiver),
    Jira(fake_jira::FakeJira),
    Smtp(SmtpServer),
}

impl Provider {
    /// Requests (or messages) the provider accepted so far.
    fn accepted(&self) -> anyhow::Result<usize> {
        Ok(match self {
            Provider::Http(r) => r.count(),
            Provider::Jira(j) => j.issues().len(),
            Provider::Smtp(s) => s.messages()?.len(),
        })
    }
}

struct Run {
    channel: ChannelKind,
    round: u32,
    rate: f64,
    cpu_us: f64,
    accepted: usize,
    dead_lettered: u64,
    other_cores: f64,
}

/// Runs every channel `--runs` times and reports.
pub(crate) async fn run(bench: &Bench) -> anyhow::Result<String> {
    let a = &bench.args;
    eprintln!(
        "channels: {} events x {} round(s): {}",
        a.channel_events,
        a.runs,
        a.channels
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let seed = load_seed_events(Path::new(herald_testkit::SEED_DIR))?
        .into_iter()
        .find(|s| s.name == SEED)
        .with_context(|| format!("seed event {SEED}"))?;
    let mut order = a.channels.clone();
    let mut runs = Vec::new();
    for round in 1..=a.runs {
        for c in &order {
            let r = run_once(bench, *c, round, &seed.subject, &seed.json)
                .await
                .map_err(|e| e.context(format!("channels: {} (round {round})", c.name())))?;
            eprintln!(
                "  round {round} {:<10} {:>8.0} events/s  {:>7.1} µs CPU/delivery",
                c.name(),
                r.rate,
                r.cpu_us
            );
            runs.push(r);
        }
        order.rotate_left(1);
    }
    Ok(report(bench, &runs))
}

/// The stand-in for `channel` and the destination's channel keys.
async fn provider(bench: &Bench, channel: ChannelKind) -> anyhow::Result<(Provider, Value)> {
    let http = |reply: Reply| async move {
        let r = Receiver::start_with_default(reply).await?;
        r.keep_only(&[]);
        anyhow::Ok(r)
    };
    Ok(match channel {
        ChannelKind::Webhook => {
            let r = http(Reply::status(204)).await?;
            let keys = json!({
                "url": r.url(),
                "signing": {"scheme": "standard-webhooks", "secret": SIGNING_SECRET},
            });
            (Provider::Http(r), keys)
        }
        ChannelKind::Slack => {
            let r = http(Reply::ok().header("content-type", "text/plain").body("ok")).await?;
            let keys = json!({"webhook_url": r.url()});
            (Provider::Http(r), keys)
        }
        ChannelKind::Teams => {
            let r = http(Reply::status(202)).await?;
            let keys = json!({"url": r.url()});
            (Provider::Http(r), keys)
        }
        ChannelKind::Discord => {
            let message = json!({"id": "1100000000000000001", "type": 0, "channel_id": "1000000000000000001", "content": ""});
            let r = http(
                Reply::ok()
                    .header("content-type", "application/json")
                    .header("x-ratelimit-limit", "5")
                    .header("x-ratelimit-remaining", "4")
                    .header("x-ratelimit-reset-after", "0.001")
                    .header("x-ratelimit-bucket", "bench")
                    .body(&message.to_string()),
            )
            .await?;
            let keys = json!({"webhook_url": r.url()});
            (Provider::Http(r), keys)
        }
        ChannelKind::Pagerduty => {
            let r = http(
                Reply::status(202)
                    .header("content-type", "application/json")
                    .body(
                        r#"{"status":"success","message":"Event processed","dedup_key":"bench"}"#,
                    ),
            )
            .await?;
            let keys = json!({"routing_key": PD_KEY, "events_url": r.url()});
            (Provider::Http(r), keys)
        }
        ChannelKind::Opsgenie => {
            let r = http(
                Reply::status(202)
                    .header("content-type", "application/json")
                    .body(r#"{"result":"Request will be processed","took":0.002,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}"#),
            )
            .await?;
            let keys = json!({"api_key": "bench-genie-key", "api_url": r.base_url()});
            (Provider::Http(r), keys)
        }
        ChannelKind::Jira => {
            let j = fake_jira::FakeJira::start(JIRA_EMAIL, JIRA_TOKEN, "SEC").await?;
            let keys = json!({
                "base_url": j.url(),
                "email": JIRA_EMAIL,
                "api_token": JIRA_TOKEN,
                "project_key": "SEC",
            });
            (Provider::Jira(j), keys)
        }
        ChannelKind::Email => {
            let s = SmtpServer::start().await?;
            let mut keys = json!({
                "from": "Herald <herald@example.com>",
                "to": ["ops@example.com"],
                "smtp": {
                    "host": "localhost",
                    "port": s.port(),
                    "username": s.username(),
                    "password": s.password(),
                    "ca_file": s.ca_file().display().to_string(),
                },
            });
            if let Some(n) = bench.args.email_pool_max_idle {
                keys["smtp"]["pool_max_idle"] = json!(n);
            }
            (Provider::Smtp(s), keys)
        }
    })
}

async fn run_once(
    bench: &Bench,
    channel: ChannelKind,
    round: u32,
    subject: &str,
    seed: &Value,
) -> anyhow::Result<Run> {
    let a = &bench.args;
    let events = a.channel_events.max(1);
    let stack = Stack::start(bench, 1, 0, 1).await?;
    let (provider, keys) = provider(bench, channel).await?;
    let mut dest = json!({
        "name": "bench",
        "channel": channel.name(),
        "events": ["rotation.>"],
        "rate_limit": {"per_second": 1_000_000, "burst": 1_000_000},
    });
    if let (Some(d), Some(k)) = (dest.as_object_mut(), keys.as_object()) {
        d.extend(k.clone());
    }
    let doc = fleet(&stack.nats.url, json!({}), &[dest]);
    let mut worker = bench.spawn_worker(channel, &doc, stack.dir.path(), &[])?;
    let pattern =
        herald_core::routing::SubjectPattern::parse("rotation.>").map_err(anyhow::Error::msg)?;
    let cname = consumer_name(channel.name(), "bench", &pattern);
    wait_pulling(&stack.js, &mut worker, &cname).await?;

    let payloads: Vec<(String, String, bytes::Bytes)> = (0..events)
        .map(|seq| {
            let mut e = seed.clone();
            e["id"] = json!(format!("bench-{seq}"));
            e["correlation"] = json!(format!("bench-corr-{seq}"));
            (
                subject.to_string(),
                format!("bench-{seq}"),
                e.to_string().into(),
            )
        })
        .collect();
    let meter = Meter::start(bench, worker.pid, stack.nats.proc.pid)?;
    herald_testkit::publish_windowed(&stack.js, a.window, payloads).await?;
    let stream = stack.js.get_stream(StreamConfig::default().name).await?;
    let deadline = bench.deadline();
    loop {
        let info = stream.consumer_info(&cname).await?;
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            break;
        }
        worker.check_alive()?;
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{} events still pending, {} unacked after {} s; log:\n{}",
                info.num_pending,
                info.num_ack_pending,
                a.timeout_secs,
                worker.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let usage = meter.stop(bench)?;
    let dead_lettered = match stack.js.get_stream("HERALD_DLQ").await {
        Ok(mut s) => s.info().await?.state.messages,
        Err(_) => 0,
    };
    worker.stop().await;
    let accepted = provider.accepted()?;
    drop(provider);
    stack.stop(a.keep).await;
    let n = events as f64;
    Ok(Run {
        channel,
        round,
        rate: n / usage.secs.max(1e-9),
        cpu_us: usage.consumer_us() / n,
        accepted,
        dead_lettered,
        other_cores: usage.other_cores,
    })
}

fn report(bench: &Bench, runs: &[Run]) -> String {
    let a = &bench.args;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Channels: {} `{SEED}` events per run, rate limits lifted, {} round(s)\n",
        a.channel_events, a.runs
    );
    let _ = writeln!(
        out,
        "| channel | events/s | vs webhook | worker CPU µs/delivery | vs webhook | provider accepted (last run) | dead-lettered |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let med = |c: ChannelKind, f: fn(&Run) -> f64| {
        median(runs.iter().filter(|r| r.channel == c).map(f).collect())
    };
    let (ref_rate, ref_cpu) = (
        med(ChannelKind::Webhook, |r| r.rate),
        med(ChannelKind::Webhook, |r| r.cpu_us),
    );
    for c in &a.channels {
        let last = runs.iter().rev().find(|r| r.channel == *c);
        let rate = med(*c, |r| r.rate);
        let cpu = med(*c, |r| r.cpu_us);
        let _ = writeln!(
            out,
            "| {} | {rate:.0} | {:.2} | {cpu:.1} | {:.2} | {} | {} |",
            c.name(),
            rate / ref_rate,
            cpu / ref_cpu,
            last.map_or(0, |r| r.accepted),
            runs.iter()
                .filter(|r| r.channel == *c)
                .map(|r| r.dead_lettered)
                .sum::<u64>(),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over rounds. Events/s: events / (first publish → the consumer has acked them all, polled every 10 ms). \
         CPU: utime+stime of the worker over the same interval / events. Every channel at its default \
         concurrency ({}), its rate limit set to 1,000,000/s.\n",
        herald_core::config::WorkerConfig::default().concurrency
    );
    let _ = writeln!(
        out,
        "| round | channel | events/s | CPU µs/delivery | other load (cores) |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|");
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.1} | {:.2} |",
            r.round,
            r.channel.name(),
            r.rate,
            r.cpu_us,
            r.other_cores
        );
    }
    out
}
