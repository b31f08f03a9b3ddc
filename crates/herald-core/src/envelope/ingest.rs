//! Turning one JetStream message into an [`Envelope`], leniently.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::cloudevents;
use super::derive::{derive_severity, derive_summary, derive_title};
use super::{Envelope, EventField, Link, Severity};

/// One received message, before interpretation.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// The NATS subject it was published on (`rotation.failed`).
    pub subject: &'a str,
    /// The message body.
    pub payload: &'a [u8],
    /// The message headers, if any.
    pub headers: Option<&'a async_nats::HeaderMap>,
    /// When JetStream stored it; the default event time.
    pub published: DateTime<Utc>,
}

/// Limits applied before any parsing.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// Largest payload accepted, in bytes.
    pub max_event_bytes: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_event_bytes: 1024 * 1024,
        }
    }
}

/// Why a message is not a usable event. Such messages are dead-lettered, never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct IngestError {
    /// The class of problem.
    pub kind: IngestErrorKind,
    /// What exactly was wrong, for the operator.
    pub detail: String,
}

/// Classes of bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestErrorKind {
    /// Larger than `max_event_bytes`.
    TooLarge,
    /// Not valid JSON (or not UTF-8).
    NotJson,
    /// Valid JSON, but not an object.
    NotObject,
    /// No usable `id`.
    MissingId,
    /// A CloudEvents message with a `specversion` other than 1.0.
    UnsupportedCloudEventsVersion,
    /// A CloudEvents message missing a required attribute or carrying a bad one.
    InvalidCloudEvent,
}

impl IngestErrorKind {
    /// A stable machine-readable name (`not_json`), used in DLQ headers and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestErrorKind::TooLarge => "too_large",
            IngestErrorKind::NotJson => "not_json",
            IngestErrorKind::NotObject => "not_object",
            IngestErrorKind::MissingId => "missing_id",
            IngestErrorKind::UnsupportedCloudEventsVersion => "unsupported_cloudevents_version",
            IngestErrorKind::InvalidCloudEvent => "invalid_cloudevent",
        }
    }
}

impl std::fmt::Display for IngestErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(super) fn bad(kind: IngestErrorKind, detail: impl Into<String>) -> IngestError {
    IngestError {
        kind,
        detail: detail.into(),
    }
}

/// Interprets a message as a Herald envelope, a structured CloudEvent or a binary
/// CloudEvent, filling in every field the publisher left out.
///
/// # Errors
/// An [`IngestError`] naming the problem when the message cannot be an event.
pub fn ingest(raw: &RawEvent<'_>, limits: IngestLimits) -> Result<Envelope, IngestError> {
    if raw.payload.len() > limits.max_event_bytes {
        return Err(bad(
            IngestErrorKind::TooLarge,
            format!(
                "event is {} bytes, the limit is {} bytes",
                raw.payload.len(),
                limits.max_event_bytes
            ),
        ));
    }
    match cloudevents::mode(raw.headers) {
        cloudevents::Mode::Structured => {
            let doc = parse_object(raw.payload)?;
            let partial = cloudevents::from_structured(&doc)?;
            Ok(complete(partial, raw))
        }
        cloudevents::Mode::Binary => {
            let partial = cloudevents::from_binary(raw.headers, raw.payload)?;
            Ok(complete(partial, raw))
        }
        cloudevents::Mode::None => {
            let doc = parse_object(raw.payload)?;
            let partial = from_native(doc)?;
            Ok(complete(partial, raw))
        }
    }
}

pub(super) fn parse_object(payload: &[u8]) -> Result<Map<String, Value>, IngestError> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| {
        bad(
            IngestErrorKind::NotJson,
            format!("payload is not valid JSON: {e}"),
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(bad(
            IngestErrorKind::NotObject,
            format!("payload is JSON {}, not an object", json_kind(&other)),
        )),
    }
}

/// Names the kind of a JSON value for error messages: `a string`, `an array`, ...
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The envelope fields as found, before defaults.
#[derive(Debug, Default)]
pub(super) struct Partial {
    pub(super) id: String,
    pub(super) event_type: Option<String>,
    pub(super) source: Option<String>,
    pub(super) time: Option<DateTime<Utc>>,
    pub(super) severity: Option<Severity>,
    pub(super) title: Option<String>,
    pub(super) summary: Option<String>,
    pub(super) resource: Option<String>,
    pub(super) environment: Option<String>,
    pub(super) fields: Vec<EventField>,
    pub(super) links: Vec<Link>,
    pub(super) actions: Vec<Link>,
    pub(super) correlation: Option<String>,
    pub(super) data: Value,
}

/// Reads the native envelope. Unknown keys are kept in `data` when the
/// publisher sent no explicit `data`, so templates can reach them.
fn from_native(mut doc: Map<String, Value>) -> Result<Partial, IngestError> {
    let id = text(doc.get("id")).ok_or_else(|| {
        bad(
            IngestErrorKind::MissingId,
            "the event has no `id` (a non-empty string or number)",
        )
    })?;
    let mut p = Partial {
        id,
        ..Partial::default()
    };
    lift_envelope_fields(&mut p, &doc);
    // Taken, not cloned: the rest of `doc` is dropped.
    p.data = match doc.remove("data") {
        Some(d) => d,
        None => Value::Object(doc),
    };
    Ok(p)
}

/// Copies the envelope attributes present in `doc` into `p` (used for native
/// envelopes and for the `data` of CloudEvents).
pub(super) fn lift_envelope_fields(p: &mut Partial, doc: &Map<String, Value>) {
    if p.event_type.is_none() {
        p.event_type = text(doc.get("type"));
    }
    if p.source.is_none() {
        p.source = text(doc.get("source"));
    }
    if p.time.is_none() {
        p.time = doc.get("time").and_then(parse_time);
    }
    if p.severity.is_none() {
        p.severity = doc
            .get("severity")
            .and_then(Value::as_str)
            .and_then(Severity::parse);
    }
    if p.title.is_none() {
        p.title = text(doc.get("title"));
    }
    if p.summary.is_none() {
        p.summary = text(doc.get("summary")).or_else(|| text(doc.get("message")));
    }
    if p.resource.is_none() {
        p.resource = [
            "resource",
            "service",
            "service_name",
            "deployment",
            "secret",
            "certificate",
        ]
        .iter()
        .find_map(|k| name_of(doc.get(*k)));
    }
    if p.environment.is_none() {
        p.environment = text(doc.get("environment")).or_else(|| text(doc.get("env")));
    }
    if p.fields.is_empty() {
        p.fields = doc.get("fields").map(parse_fields).unwrap_or_default();
    }
    if p.links.is_empty() {
        p.links = doc.get("links").map(parse_links).unwrap_or_default();
    }
    if p.actions.is_empty() {
        p.actions = doc.get("actions").map(parse_links).unwrap_or_default();
    }
    if p.correlation.is_none() {
        p.correlation = text(doc.get("correlation"));
    }
}

/// Fills defaults and produces the complete envelope.
fn complete(p: Partial, raw: &RawEvent<'_>) -> Envelope {
    let event_type = p
        .event_type
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| raw.subject.to_string());
    let error = p
        .data
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            p.fields
                .iter()
                .find(|f| f.title.eq_ignore_ascii_case("error"))
                .map(|f| f.value.clone())
        });
    let severity = p.severity.unwrap_or_else(|| derive_severity(&event_type));
    let title = p
        .title
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| derive_title(&event_type, p.resource.as_deref()));
    let summary = p.summary.filter(|s| !s.is_empty()).unwrap_or_else(|| {
        derive_summary(
            &event_type,
            p.resource.as_deref(),
            p.environment.as_deref(),
            error.as_deref(),
        )
    });
    Envelope {
        id: p.id,
        event_type,
        source: p.source,
        time: p.time.unwrap_or(raw.published),
        severity,
        title,
        summary,
        resource: p.resource,
        environment: p.environment,
        fields: p.fields,
        links: p.links,
        actions: p.actions,
        correlation: p.correlation,
        data: p.data,
    }
}

/// A string, or a number or boolean rendered as text. Empty strings count as absent.
pub(super) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A resource name: a string, or the `name` of an object (`deployment: {name: nginx}`).
fn name_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Object(o) => text(o.get("name")),
        other => text(Some(other)),
    }
}

/// RFC 3339 text, or Unix seconds (integer or fractional).
pub(super) fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => {
            let secs = n.as_f64()?;
            if !secs.is_finite() || secs < 0.0 {
                return None;
            }
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked finite and non-negative; sub-nanosecond precision is irrelevant"
            )]
            let (whole, nanos) = (secs.trunc() as i64, (secs.fract() * 1e9) as u32);
            Utc.timestamp_opt(whole, nanos).single()
        }
        _ => None,
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Facts as `[{title, value}]`, `[{name, value}]` or an object `{title: value}`.
fn parse_fields(v: &Value) -> Vec<EventField> {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| EventField {
                title: k.clone(),
                value: value_text(v),
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| {
                let o = item.as_object()?;
                let title = text(o.get("title")).or_else(|| text(o.get("name")))?;
                let value = o.get("value").map(value_text).unwrap_or_default();
                Some(EventField { title, value })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Links as `[{title, url}]` (also `text`/`name` and `href`), or plain URL strings.
fn parse_links(v: &Value) -> Vec<Link> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(url) => Some(Link {
                title: url.clone(),
                url: url.clone(),
            }),
            Value::Object(o) => {
                let url = text(o.get("url")).or_else(|| text(o.get("href")))?;
                let title = text(o.get("title"))
                    .or_else(|| text(o.get("text")))
                    .or_else(|| text(o.get("name")))
                    .unwrap_or_else(|| url.clone());
                Some(Link { title, url })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<'a>(subject: &'a str, payload: &'a [u8]) -> RawEvent<'a> {
        RawEvent {
            subject,
            payload,
            headers: None,
            published: Utc.with_ymd_and_hms(2025, 12, 9, 14, 30, 0).unwrap(),
        }
    }

    #[test]
    fn a_bare_id_gets_every_default() {
        let e = ingest(
            &raw("rotation.failed", br#"{"id":"e1"}"#),
            IngestLimits::default(),
        )
        .unwrap();
        assert_eq!(e.event_type, "rotation.failed");
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.title, "Rotation Failed");
        assert_eq!(e.time.to_rfc3339(), "2025-12-09T14:30:00+00:00");
    }

    #[test]
    fn a_dsops_payload_is_understood() {
        let body = br#"{"id":"rot-1","service":"postgres-prod","environment":"production",
            "strategy":"two-key","error":"Connection verification failed","time":1765290600}"#;
        let e = ingest(&raw("rotation.failed", body), IngestLimits::default()).unwrap();
        assert_eq!(e.resource.as_deref(), Some("postgres-prod"));
        assert_eq!(e.title, "Rotation Failed: postgres-prod");
        assert_eq!(
            e.summary,
            "Rotation failed for postgres-prod in production: Connection verification failed"
        );
        assert_eq!(e.data["strategy"], "two-key");
        assert_eq!(e.time.to_rfc3339(), "2025-12-09T14:30:00+00:00");
    }

    #[test]
    fn explicit_fields_win_and_facts_keep_their_order() {
        let body = br#"{"id":7,"type":"cert.expiring","severity":"CRITICAL","title":"T",
            "fields":{"Vault":"kv-prod","Days":3},"links":["https://x"],
            "actions":[{"text":"Runbook","href":"https://r"}]}"#;
        let e = ingest(&raw("cert.other", body), IngestLimits::default()).unwrap();
        assert_eq!(e.id, "7");
        assert_eq!(e.event_type, "cert.expiring");
        assert_eq!(e.severity, Severity::Critical);
        assert_eq!(e.title, "T");
        assert_eq!(e.fields[0].title, "Vault");
        assert_eq!(e.fields[1].value, "3");
        assert_eq!(e.links[0].url, "https://x");
        assert_eq!(e.actions[0].title, "Runbook");
    }

    #[test]
    fn bad_input_is_named() {
        let l = IngestLimits {
            max_event_bytes: 64,
        };
        let kind = |p: &[u8]| ingest(&raw("x.y", p), l).unwrap_err().kind;
        assert_eq!(kind(b"not json"), IngestErrorKind::NotJson);
        assert_eq!(kind(b"[1,2]"), IngestErrorKind::NotObject);
        assert_eq!(kind(br#"{"title":"no id"}"#), IngestErrorKind::MissingId);
        assert_eq!(kind(br#"{"id":""}"#), IngestErrorKind::MissingId);
        assert_eq!(kind(&[b' '; 65]), IngestErrorKind::TooLarge);
    }
}
