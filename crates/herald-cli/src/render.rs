//! `herald render`: the exact request a destination would send for an event
//! (for a digest destination, the digest of a window holding that event alone),
//! printed with secrets redacted, without sending anything.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use herald_core::channel::{RenderError, RequestPreview};
use herald_core::config::{ConfigError, ConfigErrors, Destination, FleetConfig};
use herald_core::digest::Digest;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::worker::prepare;
use herald_core::{Channel, DeliveryContext, Envelope};
use serde_json::Value;

use crate::channels::{ChannelTask, unknown_channel_message, with_channel};
use crate::ops::load_or_report;
use crate::publish::validate_subject;

/// Options of `herald render`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The fleet configuration file.
    #[arg(long, env = "HERALD_CONFIG", value_name = "FILE")]
    config: PathBuf,
    /// The destination to render for (its `name`).
    #[arg(long, value_name = "NAME")]
    destination: String,
    /// The event, as a JSON file (a Herald envelope or a structured CloudEvent).
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// The subject the event would be published on; defaults to the event's `type`.
    #[arg(long)]
    subject: Option<String>,
}

/// Why a destination could not render the event.
#[derive(Debug)]
pub(crate) enum Problem {
    /// The destination's settings are invalid (or a secret cannot be resolved).
    Config(ConfigErrors),
    /// The destination refused the event (a template error).
    Render(RenderError),
    /// A digest destination would send nothing for a window of this event alone.
    Nothing(String),
    /// No channel of this build has the destination's channel name.
    UnknownChannel(ConfigError),
}

/// What a destination would send for an event.
#[derive(Debug)]
pub(crate) struct Rendered {
    /// The request, secrets redacted.
    pub(crate) request: RequestPreview,
    /// Why the destination would not, in fact, receive the event (not
    /// subscribed, skipped by `when`), if so.
    pub(crate) note: Option<String>,
}

/// Prepares one destination of channel `C` and renders the event for it.
struct RenderOne<'a> {
    config: &'a FleetConfig,
    file: &'a str,
    destination: &'a str,
    event: &'a Envelope,
    now: DateTime<Utc>,
}

impl ChannelTask for RenderOne<'_> {
    type Output = Result<RequestPreview, Problem>;

    fn run<C: Channel>(self) -> Self::Output {
        // Only this destination is built, so a problem elsewhere in the file
        // does not stop the preview.
        let mut single = self.config.clone();
        single
            .destinations
            .retain(|d| d.value.name() == self.destination);
        let prepared = prepare::<C>(&single, self.file).map_err(Problem::Config)?;
        let Some(p) = prepared.into_iter().next() else {
            return Err(Problem::Config(
                ConfigError::file(
                    self.file,
                    format!("destination `{}` was not built", self.destination),
                )
                .into(),
            ));
        };
        let ctx = DeliveryContext::one_off(self.destination, &self.event.id, self.now);
        let payload = match p.channel.schedule() {
            // A digest destination: the window now open, holding this event alone.
            Some(schedule) => {
                let end = schedule.window_end(self.now);
                let digest = Digest::new(
                    self.destination,
                    schedule,
                    schedule.window_start(end),
                    end,
                    vec![self.event.clone()],
                );
                let ctx = DeliveryContext::one_off(
                    self.destination,
                    &format!("digest:{}", end.timestamp_millis()),
                    self.now,
                );
                p.channel
                    .render_digest(&digest, &ctx)
                    .map_err(Problem::Render)?
                    .ok_or_else(|| {
                        Problem::Nothing(format!(
                            "a window holding only this event sends nothing ({schedule})"
                        ))
                    })?
            }
            None => p
                .channel
                .render(self.event, &ctx)
                .map_err(Problem::Render)?,
        };
        Ok(p.channel.preview(&payload))
    }
}

/// The subject to render for: `--subject`, else the event's `type`.
fn subject_for(given: Option<&str>, doc: &Value) -> anyhow::Result<String> {
    let subject = match given {
        Some(s) => s.to_string(),
        None => match doc.get("type").and_then(Value::as_str) {
            Some(t) if !t.trim().is_empty() => t.to_string(),
            _ => bail!(
                "the event has no `type`, so its subject is unknown: pass --subject (e.g. --subject rotation.failed)"
            ),
        },
    };
    validate_subject(&subject).map_err(anyhow::Error::msg)?;
    Ok(subject)
}

/// The preview as text: request line, headers, blank line, body (pretty when JSON).
pub(crate) fn format_preview(p: &RequestPreview) -> String {
    let mut out = format!("{} {}\n", p.method, p.target);
    for (name, value) in &p.headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    let pretty = serde_json::from_str::<Value>(&p.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    out.push_str(pretty.as_deref().unwrap_or(&p.body));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The destination called `name`, or `None` after saying which exist.
pub(crate) fn find_destination<'a>(
    config: &'a FleetConfig,
    name: &str,
    file: &str,
) -> Option<&'a herald_core::config::Destination> {
    let found = config
        .destinations
        .iter()
        .map(|d| &d.value)
        .find(|d| d.name() == name);
    if found.is_none() {
        let names: Vec<&str> = config.destinations.iter().map(|d| d.value.name()).collect();
        if names.is_empty() {
            eprintln!("herald: no destination `{name}`: {file} has no destinations");
        } else {
            eprintln!(
                "herald: no destination `{name}` in {file}; its destinations are: {}",
                names.join(", ")
            );
        }
    }
    found
}

/// Runs `herald render`.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let file = args.config.display().to_string();
    let Some(config) = load_or_report(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let Some(destination) = find_destination(&config, &args.destination, &file) else {
        return Ok(ExitCode::FAILURE);
    };

    let payload = std::fs::read(&args.event)
        .with_context(|| format!("cannot read {}", args.event.display()))?;
    let now = Utc::now();
    let (event, subject) = read_event(&config, &payload, args.subject.as_deref(), now)
        .with_context(|| format!("{} is not a usable event", args.event.display()))?;

    match render(&config, &file, destination, &event, &subject, now) {
        Ok(rendered) => {
            if let Some(note) = rendered.note {
                eprintln!("note: {note}");
            }
            print!("{}", format_preview(&rendered.request));
            Ok(ExitCode::SUCCESS)
        }
        Err(Problem::Config(errors)) => {
            eprintln!("{errors}");
            Ok(ExitCode::FAILURE)
        }
        Err(Problem::Nothing(why)) => {
            eprintln!("herald: `{}`: {why}", destination.name());
            Ok(ExitCode::FAILURE)
        }
        Err(Problem::UnknownChannel(e)) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
        Err(Problem::Render(e)) => {
            eprintln!(
                "herald: `{}` cannot render this event (it would be dead-lettered): {e}",
                destination.name()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Reads an event as `herald publish` would send it (a Herald envelope or a
/// structured CloudEvent, JSON) and the subject it goes on: `subject`, else
/// the event's `type`.
pub(crate) fn read_event(
    config: &FleetConfig,
    payload: &[u8],
    subject: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<(Envelope, String)> {
    let doc: Value = serde_json::from_slice(payload).context("the event is not valid JSON")?;
    let subject = subject_for(subject, &doc)?;
    let mut headers = async_nats::HeaderMap::new();
    if doc.get("specversion").is_some() {
        headers.insert("Content-Type", "application/cloudevents+json");
    }
    let event = ingest(
        &RawEvent {
            subject: &subject,
            payload,
            headers: Some(&headers),
            published: now,
        },
        IngestLimits {
            max_event_bytes: config.worker.max_event_bytes,
        },
    )?;
    Ok((event, subject))
}

/// What `destination` would send for `event` (published on `subject`), with
/// only that destination built, so a problem elsewhere in the file does not
/// stop the preview.
pub(crate) fn render(
    config: &FleetConfig,
    file: &str,
    destination: &Destination,
    event: &Envelope,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<Rendered, Problem> {
    let note = if !destination.events.value.iter().any(|p| p.matches(subject)) {
        let patterns: Vec<&str> = destination
            .events
            .value
            .iter()
            .map(|p| p.as_str())
            .collect();
        Some(format!(
            "`{}` does not subscribe to `{subject}` (events: {}); it would never receive this event",
            destination.name(),
            patterns.join(", ")
        ))
    } else if !destination.when.matches(event) {
        Some(format!(
            "the `when` filter of `{}` would skip this event",
            destination.name()
        ))
    } else {
        None
    };
    let task = RenderOne {
        config,
        file,
        destination: destination.name(),
        event,
        now,
    };
    let Some(result) = with_channel(destination.channel(), task) else {
        return Err(Problem::UnknownChannel(ConfigError::at(
            file,
            destination.channel.referenced,
            format!("{}.channel", destination.path()),
            unknown_channel_message(destination.channel()),
        )));
    };
    result.map(|request| Rendered { request, note })
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_subject_comes_from_the_flag_or_the_type() {
        let doc = json!({"id": "1", "type": "rotation.failed"});
        assert_eq!(subject_for(None, &doc).unwrap(), "rotation.failed");
        assert_eq!(
            subject_for(Some("cert.expiring"), &doc).unwrap(),
            "cert.expiring"
        );
        let err = subject_for(None, &json!({"id": "1"})).unwrap_err();
        assert!(err.to_string().contains("--subject"), "{err}");
        assert!(subject_for(Some("rotation.>"), &doc).is_err());
    }

    #[test]
    fn previews_print_headers_and_pretty_json() {
        let p = RequestPreview {
            method: "POST".into(),
            target: "https://hooks.example.com/…".into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Authorization".into(), "<redacted>".into()),
            ],
            body: r#"{"b":1,"a":[2]}"#.into(),
        };
        assert_eq!(
            format_preview(&p),
            "POST https://hooks.example.com/…\nContent-Type: application/json\nAuthorization: <redacted>\n\n{\n  \"b\": 1,\n  \"a\": [\n    2\n  ]\n}\n"
        );
        let text = RequestPreview {
            body: "plain text".into(),
            headers: vec![],
            ..p
        };
        assert!(format_preview(&text).ends_with("\n\nplain text\n"));
    }
}
