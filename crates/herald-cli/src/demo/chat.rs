//! The demo's chat, incident and email part: Slack (Web API, threaded), Microsoft
//! Teams, Discord, PagerDuty, Opsgenie, Jira and email (SMTP) workers, each
//! delivering the same rotation lifecycle to the stand-in providers of
//! [`super::providers`].

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::anyhow;
use herald_core::config::FleetConfig;
use herald_core::worker::{StatsSnapshot, Worker};
use herald_core::{Channel, config::Destination};
use tokio::time::Instant;

use super::providers::{Call, Providers};

/// The file name errors about the demo configuration mention.
const FILE: &str = "<demo configuration: chat and incidents>";

/// The destinations, as a fleet file; `@...@` markers are filled in by [`config_yaml`].
/// The credentials are placeholders: the stand-in providers accept any.
///
/// The incident destinations take `rotation.>` and filter with `when`, not three
/// patterns: one pattern is one consumer, so one run's events arrive in order
/// (with three, a `completed` could overtake its `rollback`).
const CONFIG: &str = r##"nats:
  url: "@NATS_URL@"
worker:
  pull_expires: 1s
  shutdown_timeout: 5s
destinations:
  - name: ops-slack
    channel: slack
    events: ["rotation.>"]
    token: "xoxb-demo-placeholder"
    slack_channel: "#ops-alerts"
    api_url: "@PROVIDERS@/slack/api"
    message_prefix: "[PROD]"
    mentions:
      on_failure: ["@here"]
    retry: {max_attempts: 3, schedule: [1s]}
  - name: ops-teams
    channel: teams
    events: ["rotation.>"]
    url: "@PROVIDERS@/teams/workflows/demo"
    message_prefix: "[PROD]"
    retry: {max_attempts: 3, schedule: [1s]}
  - name: ops-discord
    channel: discord
    events: ["rotation.>"]
    webhook_url: "@PROVIDERS@/discord/api/webhooks/1100000000000000000/demo-placeholder"
    message_prefix: "[PROD]"
    retry: {max_attempts: 3, schedule: [1s]}
  - name: oncall-pagerduty
    channel: pagerduty
    events: ["rotation.>"]
    when: {type: [rotation.failed, rotation.rollback, rotation.completed]}
    routing_key: "R0DEMO00000000000000000000000000"
    events_url: "@PROVIDERS@/pagerduty/v2/enqueue"
    auto_resolve: true
    retry: {max_attempts: 3, schedule: [1s]}
  - name: oncall-opsgenie
    channel: opsgenie
    events: ["rotation.>"]
    when: {type: [rotation.failed, rotation.rollback, rotation.completed]}
    api_key: "demo-placeholder"
    api_url: "@PROVIDERS@/opsgenie"
    retry: {max_attempts: 3, schedule: [1s]}
  - name: tickets-jira
    channel: jira
    events: ["rotation.>"]
    when: {type: [rotation.failed, rotation.rollback, rotation.completed]}
    resolve_transition: "Done"
    base_url: "@PROVIDERS@/jira"
    email: "herald@example.com"
    api_token: "demo-placeholder"
    project_key: "DEMO"
    retry: {max_attempts: 3, schedule: [1s]}
  - name: ops-email
    channel: email
    events: ["rotation.>"]
    when: {type: [rotation.completed, rotation.failed, rotation.rollback]}
    from: "dsops <dsops-rotation@example.com>"
    to: [ops-team@example.com]
    priority: {on_failure: high, on_success: normal}
    smtp: {host: 127.0.0.1, port: @SMTP_PORT@, tls: none}
    rate_limit: {per_second: 20, burst: 10}
    retry: {max_attempts: 3, schedule: [1s]}
"##;

/// How long the workers have to settle every event.
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);
/// How often their counters are polled until then.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// The configuration for a server and the stand-in providers.
pub(crate) fn config_yaml(nats_url: &str, providers: &Providers) -> String {
    let base = providers.url("");
    CONFIG
        .replace("@NATS_URL@", nats_url)
        .replace("@PROVIDERS@/", &base)
        .replace("@SMTP_PORT@", &providers.smtp_port().to_string())
}

/// The running workers, one per channel.
#[derive(Debug)]
pub(crate) struct ChatWorkers {
    config: FleetConfig,
    workers: Vec<Worker>,
}

/// One destination's result.
#[derive(Debug, Clone)]
pub(crate) struct Settled {
    /// The destination.
    pub(crate) name: String,
    /// Its channel.
    pub(crate) channel: String,
    /// Events routed to it by its patterns (its `when` filter may skip some).
    pub(crate) routed: u64,
    /// Its counters.
    pub(crate) stats: StatsSnapshot,
}

impl Settled {
    /// Events it must deliver: those its `when` filter kept.
    pub(crate) fn expected(&self) -> u64 {
        self.routed.saturating_sub(self.stats.filtered)
    }

    /// Every routed event settled: delivered or filtered, none dead-lettered.
    fn settled(&self) -> bool {
        self.stats.delivered + self.stats.filtered + self.stats.dead_lettered >= self.routed
    }

    /// Every kept event delivered, none dead-lettered.
    pub(crate) fn ok(&self) -> bool {
        self.settled()
            && self.stats.delivered > 0
            && self.stats.delivered >= self.expected()
            && self.stats.dead_lettered == 0
    }
}

async fn start_one<C: Channel>(config: &FleetConfig) -> anyhow::Result<Worker> {
    Worker::start::<C>(config, FILE)
        .await
        .map_err(|e| anyhow!("cannot start the {} worker: {e}", C::NAME))
}

impl ChatWorkers {
    /// Starts one worker per channel.
    pub(crate) async fn start(nats_url: &str, providers: &Providers) -> anyhow::Result<Self> {
        let yaml = config_yaml(nats_url, providers);
        let config = FleetConfig::from_yaml(&yaml, FILE)
            .map_err(|e| anyhow!("the demo configuration is invalid:\n{e}"))?;
        let mut workers = Vec::new();
        workers.push(start_one::<herald_slack::Slack>(&config).await?);
        workers.push(start_one::<herald_teams::Teams>(&config).await?);
        workers.push(start_one::<herald_discord::Discord>(&config).await?);
        workers.push(start_one::<herald_pagerduty::PagerDuty>(&config).await?);
        workers.push(start_one::<herald_opsgenie::Opsgenie>(&config).await?);
        workers.push(start_one::<herald_jira::Jira>(&config).await?);
        workers.push(start_one::<herald_email::Email>(&config).await?);
        Ok(Self { config, workers })
    }

    /// The destinations, with their channel.
    pub(crate) fn destinations(&self) -> impl Iterator<Item = &Destination> {
        self.config.destinations.iter().map(|d| &d.value)
    }

    fn snapshot(&self, subjects: &[&str]) -> Vec<Settled> {
        self.destinations()
            .map(|d| {
                let routed = subjects
                    .iter()
                    .filter(|s| d.events.value.iter().any(|p| p.matches(s)))
                    .count();
                let stats = self
                    .workers
                    .iter()
                    .find_map(|w| w.stats(d.name()))
                    .unwrap_or_default();
                Settled {
                    name: d.name().to_owned(),
                    channel: d.channel().to_owned(),
                    routed: u64::try_from(routed).unwrap_or(u64::MAX),
                    stats,
                }
            })
            .collect()
    }

    /// Each destination's counters once it settled every routed event (delivered
    /// or dead-lettered), or at the deadline.
    pub(crate) async fn settled(&self, subjects: &[&str]) -> Vec<Settled> {
        let deadline = Instant::now() + SETTLE_DEADLINE;
        loop {
            let now = self.snapshot(subjects);
            let done = now.iter().all(Settled::settled);
            if done || Instant::now() >= deadline {
                return now;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Stops every worker.
    pub(crate) async fn shutdown(self) {
        for w in self.workers {
            w.shutdown().await;
        }
    }
}

/// What each stand-in provider was asked, grouped by provider, with each
/// destination's verdict.
pub(crate) fn transcript(settled: &[Settled], calls: &[Call]) -> String {
    let mut out = String::new();
    for s in settled {
        let provider = s.channel.as_str();
        let mark = if s.ok() { '✓' } else { '✗' };
        let _ = writeln!(
            out,
            "  {mark} {:<9} {:<17} {}/{} events delivered{}",
            s.channel,
            s.name,
            s.stats.delivered,
            s.expected(),
            if s.stats.dead_lettered > 0 {
                format!(", {} dead-lettered", s.stats.dead_lettered)
            } else {
                String::new()
            }
        );
        for c in calls.iter().filter(|c| c.provider == provider) {
            let status = if (200..300).contains(&c.status) {
                String::new()
            } else {
                format!(" [HTTP {}]", c.status)
            };
            let first_line = c.text.lines().next().unwrap_or_default();
            let text = herald_core::text::truncate(first_line, 70);
            let _ = writeln!(out, "      {:<44} {text}{status}", c.action);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::worker::prepare;

    #[test]
    fn the_demo_configuration_builds_every_destination() {
        let yaml = CONFIG
            .replace("@NATS_URL@", "nats://127.0.0.1:4222")
            .replace("@PROVIDERS@/", "http://127.0.0.1:9/")
            .replace("@SMTP_PORT@", "2525");
        let config = FleetConfig::from_yaml(&yaml, FILE).unwrap();
        assert_eq!(
            prepare::<herald_slack::Slack>(&config, FILE).unwrap().len(),
            1
        );
        assert_eq!(
            prepare::<herald_teams::Teams>(&config, FILE).unwrap().len(),
            1
        );
        assert_eq!(
            prepare::<herald_discord::Discord>(&config, FILE)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            prepare::<herald_pagerduty::PagerDuty>(&config, FILE)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            prepare::<herald_opsgenie::Opsgenie>(&config, FILE)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            prepare::<herald_jira::Jira>(&config, FILE).unwrap().len(),
            1
        );
    }
}
