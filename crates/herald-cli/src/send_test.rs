//! `herald test`: send one test notification to one destination, now, and say
//! what the provider answered. It goes straight to the provider (no NATS), so a
//! destination can be tried before the first incident.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use herald_core::channel::RequestPreview;
use herald_core::config::{ConfigError, Destination, FleetConfig};
use herald_core::envelope::{EventField, Severity};
use herald_core::outcome::{Failure, Outcome};
use herald_core::worker::prepare;
use herald_core::{Channel, DeliveryContext, Envelope};

use crate::channels::{ChannelTask, facts, unknown_channel_message, with_channel};
use crate::ops::load_or_report;
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

/// What a test send did.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The provider accepted it: what it answered.
    Sent(String),
    /// Not sent: the channel's test has effects beyond a message and was not confirmed.
    NeedsConfirmation,
    /// Not sent: the destination cannot be built (its configuration errors).
    NotBuilt(String),
    /// The provider (or the network) said no, or the test event cannot be rendered.
    Failed(String),
}

/// A test send: the request (secrets redacted) when one was made, and the verdict.
#[derive(Debug)]
pub(crate) struct TestSend {
    pub(crate) request: Option<RequestPreview>,
    pub(crate) verdict: Verdict,
}

impl TestSend {
    fn without_request(verdict: Verdict) -> Self {
        Self {
            request: None,
            verdict,
        }
    }
}

/// Called with the request just before it is sent.
type BeforeSend<'a> = Box<dyn FnOnce(&RequestPreview) + Send + 'a>;

/// Builds one destination of channel `C` and sends the test event.
struct SendTest<'a> {
    config: &'a FleetConfig,
    file: &'a str,
    destination: &'a str,
    confirmed: bool,
    before_send: BeforeSend<'a>,
}

type Pending<'a> = Pin<Box<dyn Future<Output = TestSend> + Send + 'a>>;

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
            if !C::TEST_NOTICE.is_empty() && !self.confirmed {
                return TestSend::without_request(Verdict::NeedsConfirmation);
            }
            let mut single = self.config.clone();
            single
                .destinations
                .retain(|d| d.value.name() == self.destination);
            let channel = match prepare::<C>(&single, self.file) {
                Ok(mut built) if !built.is_empty() => built.swap_remove(0),
                Ok(_) => {
                    let e = ConfigError::file(self.file, "the destination was not built");
                    return TestSend::without_request(Verdict::NotBuilt(e.to_string()));
                }
                Err(errors) => {
                    return TestSend::without_request(Verdict::NotBuilt(errors.to_string()));
                }
            };
            let now = Utc::now();
            let event = test_event(self.destination, C::NAME, now);
            let ctx = DeliveryContext::one_off(self.destination, &event.id, now);
            let payload = match channel.channel.render(&event, &ctx) {
                Ok(p) => p,
                Err(e) => {
                    return TestSend::without_request(Verdict::Failed(format!(
                        "the test event cannot be rendered: {e}"
                    )));
                }
            };
            let preview = channel.channel.preview(&payload);
            (self.before_send)(&preview);
            let limit = channel.timeout + std::time::Duration::from_secs(5);
            let outcome = tokio::time::timeout(limit, channel.channel.send(&payload, &ctx))
                .await
                .unwrap_or_else(|_| Outcome::Retry(Failure::new("no answer in time")));
            TestSend {
                request: Some(preview),
                verdict: describe(outcome),
            }
        })
    }
}

/// Sends the test event to `destination` now, straight to its provider (only
/// that destination is built). A channel whose test has effects beyond a
/// message (`Channel::TEST_NOTICE`) sends only when `confirmed`. `None` when
/// no channel of this build has the destination's channel name.
pub(crate) async fn send_test<'a>(
    config: &'a FleetConfig,
    file: &'a str,
    destination: &'a Destination,
    confirmed: bool,
    before_send: BeforeSend<'a>,
) -> Option<TestSend> {
    let task = SendTest {
        config,
        file,
        destination: destination.name(),
        confirmed,
        before_send,
    };
    Some(with_channel(destination.channel(), task)?.await)
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
    let Some(config) = load_or_report(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let Some(destination) = find_destination(&config, args.destination(), &file) else {
        return Ok(ExitCode::FAILURE);
    };
    let channel = destination.channel();
    let notice = facts(channel).map(|f| f.test_notice).unwrap_or_default();
    if !notice.is_empty() {
        eprintln!("Note: a test of a {channel} destination {notice}.");
    }
    let show = args.show;
    let before_send: BeforeSend<'_> = Box::new(move |preview: &RequestPreview| {
        if show {
            print!("{}", format_preview(preview));
            println!();
        }
        println!(
            "Sending a test notification: {} {}",
            preview.method, preview.target
        );
    });
    let Some(sent) = send_test(&config, &file, destination, args.yes, before_send).await else {
        eprintln!("herald: {}", unknown_channel_message(channel));
        return Ok(ExitCode::FAILURE);
    };
    Ok(match sent.verdict {
        Verdict::Sent(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Verdict::NeedsConfirmation => {
            eprintln!("Nothing was sent. Run again with --yes to send it.");
            ExitCode::FAILURE
        }
        Verdict::NotBuilt(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
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
