//! `herald demo`: the whole path on one machine, with only `nats-server` installed.
//!
//! It starts a temporary `nats-server` with JetStream, a receiver that checks
//! signatures itself, stand-ins for Slack, Teams, Discord, PagerDuty, Opsgenie and
//! Jira that answer as those providers document, a mail catcher, and one worker per channel in
//! this process; publishes a dsops-style rotation lifecycle; waits until every
//! destination settled every event; prints what arrived; and stops everything.

mod chat;
mod mailbox;
mod nats;
mod providers;
mod receiver;
mod scenario;
mod summary;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use async_nats::jetstream;
use chrono::Utc;
use herald_core::config::FleetConfig;
use herald_core::worker::{StatsSnapshot, Worker};
use herald_webhook::Webhook;
use tokio::time::Instant;

use crate::publish::{build_event, new_id, publish_event};
use chat::{ChatWorkers, Settled};
use nats::NatsServer;
use providers::{Call, Providers};
use receiver::{Arrival, Receiver};
use scenario::{DESTINATIONS, Secrets};
use summary::{Expected, Report};

/// What the demo found.
#[derive(Debug)]
struct Findings {
    /// The signed webhooks.
    webhooks: Report,
    /// The chat and incident destinations.
    chat: Vec<Settled>,
}

impl Findings {
    fn success(&self) -> bool {
        self.webhooks.success() && !self.chat.is_empty() && self.chat.iter().all(Settled::ok)
    }
}

/// How long every request has to arrive.
const ARRIVAL_DEADLINE: Duration = Duration::from_secs(30);
/// How long the worker has to acknowledge what it delivered.
const ACK_DEADLINE: Duration = Duration::from_secs(10);
/// How often the worker's counters are polled until that deadline.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// How to install the server, in one line.
const INSTALL_HINT: &str = "herald demo needs nats-server: install it with `sudo apt-get install nats-server` (or see https://docs.nats.io/running-a-nats-service/introduction/installation)";

/// Options of `herald demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// After the demo, keep NATS, the receiver and the worker running (printing
    /// each request that arrives) until Ctrl-C, so you can `herald publish` more.
    #[arg(long)]
    keep_running: bool,
    /// The nats-server binary to run (default: `nats-server` on PATH or in /usr/sbin).
    #[arg(long, env = "HERALD_NATS_SERVER", value_name = "PATH")]
    nats_server: Option<PathBuf>,
}

/// Runs `herald demo`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(binary) = nats::find_binary(args.nats_server.as_deref()) else {
        match &args.nats_server {
            Some(p) => eprintln!("herald demo: {} is not an executable file", p.display()),
            None => eprintln!("{INSTALL_HINT}"),
        }
        return Ok(ExitCode::FAILURE);
    };
    let started = Instant::now();
    println!(
        "Herald demo: dsops rotation events for postgres-prod, from NATS JetStream to signed webhooks, Slack, Teams, Discord, PagerDuty, Opsgenie, Jira and email"
    );
    println!();
    let (server, client) = NatsServer::start(&binary).await?;
    println!(
        "  {:<20} {} (JetStream, temporary store)",
        format!("nats-server {}", server.version()),
        server.url()
    );
    let result = with_server(&args, &server, &client).await;
    let _ = client.drain().await;
    server.stop().await;
    let findings = result?;
    println!();
    println!("{}", findings.webhooks.verdict(started.elapsed()));
    let ok = findings.chat.iter().filter(|s| s.ok()).count();
    println!(
        "{} {ok}/{} chat, incident and email destinations delivered every event.",
        if ok == findings.chat.len() {
            "✓"
        } else {
            "✗"
        },
        findings.chat.len()
    );
    Ok(if findings.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Everything that needs the server: receivers, workers, events, summary.
async fn with_server(
    args: &Args,
    server: &NatsServer,
    client: &async_nats::Client,
) -> anyhow::Result<Findings> {
    let secrets = Secrets::generate();
    let receiver = Receiver::start(secrets.verifiers()).await?;
    println!(
        "  {:<20} {} (checks every signature itself)",
        "receiver",
        receiver.base_url()
    );
    let yaml = scenario::config_yaml(server.url(), |d| receiver.url_for(d), &secrets);
    let config = FleetConfig::from_yaml(&yaml, "<demo configuration>")
        .map_err(|e| anyhow!("the demo configuration is invalid:\n{e}"))?;
    let worker = match Worker::start::<Webhook>(&config, "<demo configuration>").await {
        Ok(w) => w,
        Err(e) => {
            receiver.stop().await;
            return Err(anyhow!("cannot start the webhook worker: {e}"));
        }
    };
    println!(
        "  {:<20} monitoring: standard-webhooks signature, generic JSON body",
        "webhook worker"
    );
    println!(
        "  {:<20} dsops-hook: hmac-sha256 signature, dsops payload template",
        ""
    );
    let providers = Providers::start().await?;
    let chat = match ChatWorkers::start(server.url(), &providers).await {
        Ok(c) => c,
        Err(e) => {
            worker.shutdown().await;
            receiver.stop().await;
            providers.stop().await;
            return Err(e);
        }
    };
    println!(
        "  {:<20} {} (answer as each provider documents)",
        "stand-in providers",
        providers.url("")
    );
    for d in chat.destinations() {
        println!("  {:<20} {}", format!("{} worker", d.channel()), d.name());
    }
    let outcome = exercise(client, &receiver, &worker, &chat, &providers).await;
    if args.keep_running && outcome.is_ok() {
        keep_running(&receiver, server.url()).await;
    }
    chat.shutdown().await;
    worker.shutdown().await;
    receiver.stop().await;
    providers.stop().await;
    outcome
}

/// Publishes the lifecycle, waits for every request and for the worker's acks,
/// and prints what arrived.
async fn exercise(
    client: &async_nats::Client,
    receiver: &Receiver,
    worker: &Worker,
    chat: &ChatWorkers,
    providers: &Providers,
) -> anyhow::Result<Findings> {
    let js = jetstream::new(client.clone());
    let mut expected = Vec::new();
    for (subject, doc) in scenario::lifecycle(Utc::now()) {
        let event = build_event(Some(doc), &[], Utc::now(), new_id)?;
        let published = publish_event(&js, subject, &event)
            .await
            .with_context(|| format!("cannot publish {subject}"))?;
        expected.push(Expected {
            subject,
            id: published.id,
        });
    }
    let subjects: Vec<&str> = expected.iter().map(|e| e.subject).collect();
    println!("  {:<20} {}", "published", subjects.join(", "));
    println!();

    let mut arrivals = receiver.arrivals();
    let all_arrived = |all: &Vec<Arrival>| summary::missing(&expected, all) == 0;
    let _ = tokio::time::timeout(ARRIVAL_DEADLINE, arrivals.wait_for(all_arrived)).await;
    let received: Vec<Arrival> = arrivals.borrow().clone();

    let stats = settled_stats(worker, expected.len()).await;
    let report = Report::new(&expected, &received, stats);
    print!("{}", report.render(std::io::stdout().is_terminal()));

    let settled = chat.settled(&subjects).await;
    let calls: Vec<Call> = providers.calls().borrow().clone();
    println!();
    println!("Chat, incident and email channels (what each stand-in provider was asked):");
    print!("{}", chat::transcript(&settled, &calls));
    Ok(Findings {
        webhooks: report,
        chat: settled,
    })
}

/// The worker's counters once every event has been settled (acked or
/// dead-lettered) for every destination, or at the deadline.
async fn settled_stats(worker: &Worker, events: usize) -> Vec<(String, StatsSnapshot)> {
    let want = u64::try_from(events).unwrap_or(u64::MAX);
    let snapshot = || {
        DESTINATIONS
            .iter()
            .map(|d| (d.to_string(), worker.stats(d).unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + ACK_DEADLINE;
    loop {
        let stats = snapshot();
        let settled = stats
            .iter()
            .all(|(_, s)| s.delivered + s.dead_lettered >= want);
        if settled || Instant::now() >= deadline {
            return stats;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Prints each new request until Ctrl-C (or SIGTERM).
async fn keep_running(receiver: &Receiver, nats_url: &str) {
    println!();
    println!("Still running; press Ctrl-C to stop. Publish more events with, for example:");
    println!(
        "  herald publish rotation.failed --nats-url {nats_url} --set service=postgres-prod --set environment=production --set error=\"disk full\""
    );
    let mut arrivals = receiver.arrivals();
    let mut shown = arrivals.borrow_and_update().len();
    let stop = herald_core::binary::stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            changed = arrivals.changed() => {
                if changed.is_err() {
                    break;
                }
                let new: Vec<Arrival> = arrivals
                    .borrow_and_update()
                    .get(shown..)
                    .map(<[Arrival]>::to_vec)
                    .unwrap_or_default();
                shown += new.len();
                for a in &new {
                    println!("{}", summary::arrival_line(a));
                }
            }
        }
    }
    println!();
}
