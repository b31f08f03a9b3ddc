//! `herald publish`: build a Herald envelope and publish it to JetStream.
//!
//! The event starts from `--data`/`--file` (or `{}`), `--set` assignments are
//! applied, and `id` (UUID v7) and `time` (now) are filled when missing. It is
//! published with `Nats-Msg-Id` = the event id (so JetStream drops a repeat
//! within the stream's duplicate window) and a W3C `traceparent`: the publish
//! span's when traces are on (`OTEL_EXPORTER_OTLP_ENDPOINT`), else a fresh one.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use async_nats::jetstream::{self, context::PublishErrorKind};
use chrono::{DateTime, SecondsFormat, Utc};
use herald_core::config::NatsConfig;
use herald_core::envelope::json_kind;
use herald_core::routing::SubjectPattern;
use serde_json::{Map, Value};

/// Options of `herald publish`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The subject to publish on, e.g. `rotation.failed` (no wildcards).
    subject: String,
    /// The event as a JSON object.
    #[arg(long, value_name = "JSON", conflicts_with = "file")]
    data: Option<String>,
    /// Read the event (a JSON object) from a file; `-` reads standard input.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Set a key: `service=postgres-prod`, `duration_seconds=45`,
    /// `fields.Environment=production`. The value is JSON when it parses as JSON,
    /// text otherwise. Repeatable; applied in order.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_assignment)]
    set: Vec<Assignment>,
    /// The NATS server.
    #[arg(
        long,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        value_name = "URL"
    )]
    nats_url: String,
    /// A NATS credentials file, if the server needs one.
    #[arg(long, env = "NATS_CREDS", value_name = "PATH")]
    creds: Option<PathBuf>,
}

/// One `--set KEY=VALUE`: a dotted path and the value to put there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Assignment {
    path: Vec<String>,
    value: Value,
}

/// Parses `KEY=VALUE`; the key may be dotted (`fields.Environment`), the value
/// is JSON when it parses as JSON and text otherwise.
pub(crate) fn parse_assignment(s: &str) -> Result<Assignment, String> {
    let (key, raw) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    let path: Vec<String> = key.split('.').map(|p| p.trim().to_string()).collect();
    if path.iter().any(String::is_empty) {
        return Err(format!(
            "`{key}` is not a valid key (use `name` or `outer.inner`)"
        ));
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    Ok(Assignment { path, value })
}

impl Assignment {
    /// Puts the value into `doc`, creating intermediate objects.
    fn apply(&self, doc: &mut Map<String, Value>) -> anyhow::Result<()> {
        let Some((last, parents)) = self.path.split_last() else {
            bail!("empty key");
        };
        let mut cur = doc;
        for (i, key) in parents.iter().enumerate() {
            let slot = cur
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if slot.is_null() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(obj) = slot else {
                bail!(
                    "cannot set `{}`: `{}` is not an object",
                    self.path.join("."),
                    self.path[..=i].join(".")
                );
            };
            cur = obj;
        }
        cur.insert(last.clone(), self.value.clone());
        Ok(())
    }
}

/// A literal subject: valid tokens and no wildcards.
pub(crate) fn validate_subject(subject: &str) -> Result<(), String> {
    SubjectPattern::parse(subject)?;
    if subject.split('.').any(|t| t == "*" || t == ">") {
        return Err(format!(
            "`{subject}` contains a wildcard; publish on a literal subject such as `rotation.failed`"
        ));
    }
    Ok(())
}

/// Builds the event: `base` (an object, or `{}`), then the assignments, then
/// `id` and `time` when they are missing.
///
/// # Errors
/// When `base` is not an object, an assignment cannot be applied, or `id` is
/// neither a string nor a number.
pub(crate) fn build_event(
    base: Option<Value>,
    sets: &[Assignment],
    now: DateTime<Utc>,
    new_id: impl FnOnce() -> String,
) -> anyhow::Result<Map<String, Value>> {
    let mut doc = match base {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => bail!("the event must be a JSON object, not {}", json_kind(&other)),
    };
    for s in sets {
        s.apply(&mut doc)?;
    }
    match doc.get("id") {
        None | Some(Value::Null) => {
            doc.insert("id".into(), Value::String(new_id()));
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            doc.insert("id".into(), Value::String(new_id()));
        }
        Some(Value::String(_) | Value::Number(_)) => {}
        Some(other) => bail!(
            "`id` must be a string or a number, not {}",
            json_kind(other)
        ),
    }
    if matches!(doc.get("time"), None | Some(Value::Null)) {
        doc.insert(
            "time".into(),
            Value::String(now.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
    }
    Ok(doc)
}

/// The event id as text (it is a string or a number once built).
pub(crate) fn event_id(event: &Map<String, Value>) -> String {
    match event.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A fresh UUID v7 (time-ordered), the default event id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A W3C `traceparent` for a new trace: `00-<trace id>-<span id>-01` (sampled).
/// Neither id is ever all zeros, which the spec forbids.
pub(crate) fn traceparent() -> String {
    let trace: u128 = rand::random::<u128>().max(1);
    let span: u64 = rand::random::<u64>().max(1);
    format!("00-{trace:032x}-{span:016x}-01")
}

/// What JetStream said about a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Published {
    /// The event id (also the `Nats-Msg-Id`).
    pub(crate) id: String,
    /// The stream that stored it.
    pub(crate) stream: String,
    /// Its sequence in that stream.
    pub(crate) sequence: u64,
    /// True when JetStream already had this id and dropped the copy.
    pub(crate) duplicate: bool,
}

/// Publishes `event` on `subject` and waits for JetStream's acknowledgement.
///
/// # Errors
/// When no stream captures the subject, or JetStream does not confirm.
pub(crate) async fn publish_event(
    js: &jetstream::Context,
    subject: &str,
    event: &Map<String, Value>,
) -> anyhow::Result<Published> {
    let id = event_id(event);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", id.as_str());
    // With traces on, the publish is a span of its own and the workers' spans
    // are its children; otherwise a fresh trace starts here.
    let (_span, continued) = herald_core::telemetry::publish_span(subject);
    headers.insert(
        "traceparent",
        continued.unwrap_or_else(traceparent).as_str(),
    );
    if event.contains_key("specversion") {
        headers.insert("Content-Type", "application/cloudevents+json");
    }
    let payload = serde_json::to_vec(event).context("cannot encode the event")?;
    let no_stream = || {
        anyhow!(
            "no JetStream stream captures the subject `{subject}`; start a Herald worker once \
             (it creates the HERALD_EVENTS stream for rotation.>, update.>, cert.>, ...) or add \
             the subject to a stream"
        )
    };
    let pending = js
        .publish_with_headers(subject.to_string(), headers, payload.into())
        .await
        .map_err(|e| match e.kind() {
            PublishErrorKind::StreamNotFound => no_stream(),
            _ => anyhow!("cannot publish on `{subject}`: {e}"),
        })?;
    let ack = pending.await.map_err(|e| match e.kind() {
        PublishErrorKind::StreamNotFound => no_stream(),
        _ => anyhow!("JetStream did not confirm the event on `{subject}`: {e}"),
    })?;
    Ok(Published {
        id,
        stream: ack.stream,
        sequence: ack.sequence,
        duplicate: ack.duplicate,
    })
}

/// Reads the starting document from `--data` or `--file`.
fn read_base(data: Option<&str>, file: Option<&Path>) -> anyhow::Result<Option<Value>> {
    let (text, origin) = match (data, file) {
        (Some(d), _) => (d.to_string(), "--data".to_string()),
        (None, Some(p)) if p == Path::new("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the event from standard input")?;
            (s, "standard input".to_string())
        }
        (None, Some(p)) => (
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
            p.display().to_string(),
        ),
        (None, None) => return Ok(None),
    };
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{origin} is not valid JSON"))
}

/// Runs `herald publish`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    validate_subject(&args.subject).map_err(anyhow::Error::msg)?;
    let base = read_base(args.data.as_deref(), args.file.as_deref())?;
    let event = build_event(base, &args.set, Utc::now(), new_id)?;
    // The other NATS_* variables (user and password, token, NKey, TLS) work
    // as for the workers; the flags win over them.
    let mut nats = NatsConfig::default();
    nats.apply_env(&|k: &str| std::env::var(k).ok());
    nats.url = args.nats_url;
    if let Some(creds) = args.creds {
        nats.credentials_file = Some(creds);
    }
    let client = herald_core::jetstream::connect(&nats, "herald-publish").await?;
    let js = jetstream::new(client.clone());
    let result = publish_event(&js, &args.subject, &event).await;
    let _ = client.drain().await;
    let p = result?;
    if p.duplicate {
        println!(
            "duplicate: event {} is already in stream {} (sequence {}); JetStream did not store it again",
            p.id, p.stream, p.sequence
        );
    } else {
        println!(
            "published event {} on {} to stream {}, sequence {}",
            p.id, args.subject, p.stream, p.sequence
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-12-09T14:30:00Z")
            .unwrap()
            .into()
    }

    #[test]
    fn assignments_parse_json_or_text() {
        let a = parse_assignment("duration_seconds=45").unwrap();
        assert_eq!(a.path, ["duration_seconds"]);
        assert_eq!(a.value, json!(45));
        assert_eq!(
            parse_assignment("service=postgres-prod").unwrap().value,
            json!("postgres-prod")
        );
        assert_eq!(parse_assignment("ok=true").unwrap().value, json!(true));
        assert_eq!(
            parse_assignment("tags=[\"a\",\"b\"]").unwrap().value,
            json!(["a", "b"])
        );
        assert_eq!(
            parse_assignment("error=a=b c").unwrap().value,
            json!("a=b c")
        );
        assert_eq!(parse_assignment("empty=").unwrap().value, json!(""));
        let d = parse_assignment("fields.Environment=production").unwrap();
        assert_eq!(d.path, ["fields", "Environment"]);
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=x").is_err());
        assert!(parse_assignment("a..b=x").is_err());
    }

    #[test]
    fn events_are_built_from_data_and_assignments() {
        let sets = [
            parse_assignment("service=postgres-prod").unwrap(),
            parse_assignment("fields.Environment=production").unwrap(),
            parse_assignment("fields.Strategy=two-key").unwrap(),
            parse_assignment("duration_seconds=45").unwrap(),
        ];
        let e = build_event(
            Some(json!({"environment": "production", "service": "old"})),
            &sets,
            now(),
            || "gen-id".into(),
        )
        .unwrap();
        assert_eq!(e["id"], "gen-id");
        assert_eq!(e["time"], "2025-12-09T14:30:00.000Z");
        assert_eq!(e["service"], "postgres-prod");
        assert_eq!(
            e["fields"],
            json!({"Environment": "production", "Strategy": "two-key"})
        );
        assert_eq!(e["duration_seconds"], 45);
        // The order of keys is kept: given keys first, new ones after.
        let keys: Vec<&str> = e.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "environment",
                "service",
                "fields",
                "duration_seconds",
                "id",
                "time"
            ]
        );
    }

    #[test]
    fn given_id_and_time_are_kept() {
        let e = build_event(
            Some(json!({"id": 7, "time": "2020-01-01T00:00:00Z"})),
            &[],
            now(),
            || unreachable!("the id is given"),
        )
        .unwrap();
        assert_eq!(e["id"], 7);
        assert_eq!(event_id(&e), "7");
        assert_eq!(e["time"], "2020-01-01T00:00:00Z");
        let e = build_event(None, &[], now(), || "x".into()).unwrap();
        assert_eq!(event_id(&e), "x");
    }

    #[test]
    fn bad_events_are_refused() {
        let err = |base: Value, sets: &[Assignment]| {
            build_event(Some(base), sets, now(), || "x".into())
                .unwrap_err()
                .to_string()
        };
        assert!(err(json!([1]), &[]).contains("JSON object"));
        assert!(err(json!({"id": {"a": 1}}), &[]).contains("`id`"));
        let set = [parse_assignment("service.name=x").unwrap()];
        assert!(err(json!({"service": "pg"}), &set).contains("`service` is not an object"));
    }

    #[test]
    fn generated_ids_are_uuid_v7() {
        let id = new_id();
        let u = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(u.get_version_num(), 7);
        assert_ne!(id, new_id());
    }

    #[test]
    fn traceparent_has_the_w3c_format() {
        for _ in 0..100 {
            let t = traceparent();
            let parts: Vec<&str> = t.split('-').collect();
            assert_eq!(parts.len(), 4, "{t}");
            assert_eq!(parts[0], "00");
            assert_eq!(parts[1].len(), 32);
            assert_eq!(parts[2].len(), 16);
            assert_eq!(parts[3], "01");
            for p in &parts[1..3] {
                assert!(
                    p.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                    "{t}"
                );
                assert!(p.bytes().any(|b| b != b'0'), "{t}");
            }
        }
        assert_ne!(traceparent(), traceparent());
    }

    #[test]
    fn subjects_must_be_literal() {
        assert!(validate_subject("rotation.failed").is_ok());
        assert!(validate_subject("rotation.>").is_err());
        assert!(validate_subject("*.failed").is_err());
        assert!(validate_subject("rotation failed").is_err());
        assert!(validate_subject("").is_err());
    }
}
