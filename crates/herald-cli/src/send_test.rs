//! `herald test`: send one test notification to one destination, now, and say
//! what the provider answered. It goes straight to the provider (no NATS), so a
//! destination can be tried before the first incident.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use herald_core::config::{ConfigError, FleetConfig};
use herald_core::envelope::{EventField, Severity};
use herald_core::outcome::{Failure, Outcome};
use herald_core::worker::prepare;
use herald_core::{Channel, DeliveryContext, Envelope};

use crate::channels::{ChannelTask, unknown_channel_message, with_channel};
use crate::render::{find_destination, format_preview};

/// Options of `herald test`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The fleet configuration file.
    #[arg(long, env = "HERALD_CONFIG", value_name = "FILE")]
    config: PathBuf,
    /// The destination to test (its `name`), as in `herald render`.
    #[arg(long = "destination", value_name = "NAME", conflicts_with = "name")]
    destination: Option<String>,
    /// The destination, given without `--destination`.
    #[arg(value_name = "NAME", required_unless_present = "destination")]
    name: Option<String>,
    /// Send even when the test has effects beyond a message (a Jira issue, a
    /// PagerDuty incident): the command says which before it refuses without this.
    #[arg(long)]
    yes: bool,
    /// Print the request before sending it (secrets redacted).
    #[arg(long)]
    show: bool,
}

/// The test event: an informational `herald.test` naming the destination.
pub(crate) fn test_event(destination: &str, channel: &str, now: DateTime<Utc>) -> Envelope {
    Envelope {
        id: format!("herald-test-{}", now.timestamp_micros()),
        event_type: "herald.test".to_owned(),
        source: Some("herald".to_owned()),
        time: now,
        severity: Severity::Info,
        title: format!("Herald test: {destination}"),
        summary: format!(
            "A test notification from Herald for destination {destination} ({channel}). If you can read this, the destination works."
        ),
        resource: Some(destination.to_owned()),
        environment: None,
        fields: vec![
            EventField {
                title: "Destination".to_owned(),
                value: destination.to_owned(),
            },
            EventField {
                title: "Channel".to_owned(),
                value: channel.to_owned(),
            },
            EventField {
                title: "Sent at".to_owned(),
                value: now.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            },
        ],
        links: Vec::new(),
        actions: Vec::new(),
        correlation: None,
        data: serde_json::Value::Null,
    }
}

/// What happened, for the exit code and the message.
enum Verdict {
    /// The provider accepted it.
    Sent(String),
    /// Not sent: the reason is already printed.
    Refused,
    /// The provider (or the network) said no.
    Failed(String),
}

/// Builds one destination of channel `C` and sends the test event.
struct SendTest<'a> {
    config: &'a FleetConfig,
    file: &'a str,
    args: &'a Args,
}

type Pending<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

impl Args {
    /// The destination's name, however it was given.
    fn destination(&self) -> &str {
        self.destination
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or_default()
    }
}

impl<'a> ChannelTask for SendTest<'a> {
    type Output = Pending<'a>;

    fn run<C: Channel>(self) -> Pending<'a> {
        Box::pin(async move {
            if !C::TEST_NOTICE.is_empty() {
                eprintln!(
                    "Note: a test of a {} destination {}.",
                    C::NAME,
                    C::TEST_NOTICE
                );
                if !self.args.yes {
                    eprintln!("Nothing was sent. Run again with --yes to send it.");
                    return Verdict::Refused;
                }
            }
            let mut single = self.config.clone();
            single
                .destinations
                .retain(|d| d.value.name() == self.args.destination());
            let channel = match prepare::<C>(&single, self.file) {
                Ok(mut built) if !built.is_empty() => built.swap_remove(0),
                Ok(_) => {
                    let e = ConfigError::file(self.file, "the destination was not built");
                    eprintln!("{e}");
                    return Verdict::Refused;
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    return Verdict::Refused;
                }
            };
            let now = Utc::now();
            let event = test_event(self.args.destination(), C::NAME, now);
            let ctx = DeliveryContext::one_off(self.args.destination(), &event.id, now);
            let payload = match channel.channel.render(&event, &ctx) {
                Ok(p) => p,
                Err(e) => {
                    return Verdict::Failed(format!("the test event cannot be rendered: {e}"));
                }
            };
            let preview = channel.channel.preview(&payload);
            if self.args.show {
                print!("{}", format_preview(&preview));
                println!();
            }
            println!(
                "Sending a test notification: {} {}",
                preview.method, preview.target
            );
            let limit = channel.timeout + std::time::Duration::from_secs(5);
            let outcome = tokio::time::timeout(limit, channel.channel.send(&payload, &ctx))
                .await
                .unwrap_or_else(|_| Outcome::Retry(Failure::new("no answer in time")));
            describe(outcome)
        })
    }
}

fn describe(outcome: Outcome) -> Verdict {
    match outcome {
        Outcome::Delivered { handle, status, .. } => {
            let mut s = String::from("Delivered");
            if let Some(st) = status {
                s.push_str(&format!(" (status {st})"));
            }
            if let Some(h) = handle {
                s.push_str(&format!(": {h}"));
            }
            s.push('.');
            Verdict::Sent(s)
        }
        Outcome::Retry(f) => Verdict::Failed(format!(
            "temporary failure (a worker would retry): {}",
            failure_text(&f)
        )),
        Outcome::Permanent(f) => Verdict::Failed(format!(
            "{}: {}",
            if f.broken {
                "the destination is misconfigured"
            } else {
                "refused"
            },
            failure_text(&f)
        )),
    }
}

fn failure_text(f: &Failure) -> String {
    let mut s = f.reason.clone();
    if let Some(st) = f.status
        && !s.contains(&st.to_string())
    {
        s.push_str(&format!(" (status {st})"));
    }
    if let Some(x) = &f.excerpt {
        s.push_str(&format!("\n  the provider said: {x}"));
    }
    if let Some(d) = f.retry_after {
        s.push_str(&format!("\n  it asked to wait {}s", d.as_secs_f64()));
    }
    s
}

/// Runs `herald test`.
pub(crate) async fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let file = args.config.display().to_string();
    let config = match FleetConfig::load(&args.config) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let Some(destination) = find_destination(&config, args.destination(), &file) else {
        return Ok(ExitCode::FAILURE);
    };
    let channel = destination.channel().to_owned();
    let task = SendTest {
        config: &config,
        file: &file,
        args,
    };
    let Some(pending) = with_channel(&channel, task) else {
        eprintln!("herald: {}", unknown_channel_message(&channel));
        return Ok(ExitCode::FAILURE);
    };
    Ok(match pending.await {
        Verdict::Sent(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Verdict::Refused => ExitCode::FAILURE,
        Verdict::Failed(s) => {
            eprintln!("herald test: {s}");
            ExitCode::FAILURE
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_event_names_its_destination() {
        let e = test_event("ops-slack", "slack", Utc::now());
        assert_eq!(e.event_type, "herald.test");
        assert_eq!(e.severity, Severity::Info);
        assert!(e.title.contains("ops-slack"));
        assert_eq!(e.field("Channel"), Some("slack"));
    }

    #[test]
    fn failures_say_what_the_provider_said() {
        let f = Failure::new("HTTP 404")
            .with_status(404)
            .with_excerpt("no_service")
            .broken();
        let Verdict::Failed(text) = describe(Outcome::Permanent(f)) else {
            panic!("not a failure");
        };
        assert!(text.contains("misconfigured"), "{text}");
        assert!(text.contains("no_service"), "{text}");
        assert!(!text.contains("(status 404)"), "{text}");
    }
}
