//! CloudEvents 1.0 over NATS, structured and binary modes, mapped onto the envelope.
//!
//! Structured mode: a `Content-Type` header containing `application/cloudevents`,
//! the body is the JSON event format. Binary mode: a `ce-specversion` header, every
//! attribute in a `ce-<name>` header (percent-encoded), the body is the `data`.
//! Extension attributes named like envelope fields (`severity`, `environment`,
//! `correlation`, `resource`, `title`, `summary`) fill those fields.

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::ingest::{Partial, bad, lift_envelope_fields, parse_object, parse_time, text};
use super::{IngestError, IngestErrorKind, Severity};

/// How a message carries its event.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// `Content-Type: application/cloudevents+json`.
    Structured,
    /// `ce-*` headers.
    Binary,
    /// A native Herald envelope.
    None,
}

/// Header lookup ignoring case: NATS header names are case-insensitive for CloudEvents.
fn header<'a>(headers: Option<&'a async_nats::HeaderMap>, name: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(async_nats::HeaderValue::as_str)
}

pub(super) fn mode(headers: Option<&async_nats::HeaderMap>) -> Mode {
    if header(headers, "content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("application/cloudevents"))
    {
        Mode::Structured
    } else if header(headers, "ce-specversion").is_some() {
        Mode::Binary
    } else {
        Mode::None
    }
}

fn check_version(v: Option<&str>) -> Result<(), IngestError> {
    match v {
        Some("1.0") => Ok(()),
        Some(other) => Err(bad(
            IngestErrorKind::UnsupportedCloudEventsVersion,
            format!("CloudEvents specversion `{other}` is not supported (only 1.0)"),
        )),
        None => Err(bad(
            IngestErrorKind::InvalidCloudEvent,
            "CloudEvent without `specversion`",
        )),
    }
}

fn required(v: Option<String>, name: &str) -> Result<String, IngestError> {
    v.ok_or_else(|| {
        let kind = if name == "id" {
            IngestErrorKind::MissingId
        } else {
            IngestErrorKind::InvalidCloudEvent
        };
        bad(kind, format!("CloudEvent without a non-empty `{name}`"))
    })
}

/// Applies the attributes shared by both modes, then lifts envelope fields from `data`.
fn build(attrs: &Map<String, Value>, data: Value) -> Result<Partial, IngestError> {
    let id = required(text(attrs.get("id")), "id")?;
    let source = required(text(attrs.get("source")), "source")?;
    let event_type = required(text(attrs.get("type")), "type")?;
    let time = match attrs.get("time") {
        None => None,
        Some(t) => Some(parse_time(t).ok_or_else(|| {
            bad(
                IngestErrorKind::InvalidCloudEvent,
                format!("CloudEvent `time` is not RFC 3339: {t}"),
            )
        })?),
    };
    let mut p = Partial {
        id,
        event_type: Some(event_type),
        source: Some(source),
        time,
        severity: attrs
            .get("severity")
            .and_then(Value::as_str)
            .and_then(Severity::parse),
        title: text(attrs.get("title")),
        summary: text(attrs.get("summary")),
        resource: text(attrs.get("resource")).or_else(|| text(attrs.get("subject"))),
        environment: text(attrs.get("environment")),
        correlation: text(attrs.get("correlation")),
        ..Partial::default()
    };
    if let Value::Object(d) = &data {
        lift_envelope_fields(&mut p, d);
    }
    p.data = data;
    Ok(p)
}

/// Structured mode: the body is a CloudEvents JSON document.
pub(super) fn from_structured(doc: &Map<String, Value>) -> Result<Partial, IngestError> {
    check_version(doc.get("specversion").and_then(Value::as_str))?;
    let data = if let Some(b64) = doc.get("data_base64").and_then(Value::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| {
                bad(
                    IngestErrorKind::InvalidCloudEvent,
                    format!("`data_base64` is not base64: {e}"),
                )
            })?;
        decode_data(&bytes)
    } else {
        doc.get("data").cloned().unwrap_or(Value::Null)
    };
    build(doc, data)
}

/// Binary mode: attributes in `ce-*` headers, the body is the data.
pub(super) fn from_binary(
    headers: Option<&async_nats::HeaderMap>,
    payload: &[u8],
) -> Result<Partial, IngestError> {
    let mut attrs = Map::new();
    if let Some(h) = headers {
        for (name, values) in h.iter() {
            let lower = AsRef::<str>::as_ref(name).to_ascii_lowercase();
            let Some(attr) = lower.strip_prefix("ce-") else {
                continue;
            };
            let Some(raw) = values.first() else { continue };
            let decoded = decode_header_value(raw.as_str()).ok_or_else(|| {
                bad(
                    IngestErrorKind::InvalidCloudEvent,
                    format!(
                        "header `{}` is not valid percent-encoded UTF-8",
                        AsRef::<str>::as_ref(name)
                    ),
                )
            })?;
            attrs.insert(attr.to_string(), Value::String(decoded));
        }
    }
    check_version(attrs.get("specversion").and_then(Value::as_str))?;
    let data = if payload.is_empty() {
        Value::Null
    } else {
        decode_data(payload)
    };
    build(&attrs, data)
}

/// Data bytes as JSON when they parse as an object, else as text.
fn decode_data(bytes: &[u8]) -> Value {
    match parse_object(bytes) {
        Ok(map) => Value::Object(map),
        Err(_) => serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
    }
}

/// Percent-decodes a header value, first unquoting a double-quoted string.
/// Invalid UTF-8 after decoding (such as `%C0%A0`) is rejected.
fn decode_header_value(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let unquoted = trimmed
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map_or_else(
            || trimmed.to_string(),
            |s| s.replace("\\\"", "\"").replace("\\\\", "\\"),
        );
    percent_decode_str(&unquoted)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::super::{IngestLimits, RawEvent, ingest};
    use super::*;
    use chrono::Utc;

    fn ingest_with(
        headers: &async_nats::HeaderMap,
        body: &[u8],
    ) -> Result<super::super::Envelope, IngestError> {
        ingest(
            &RawEvent {
                subject: "rotation.failed",
                payload: body,
                headers: Some(headers),
                published: Utc::now(),
            },
            IngestLimits::default(),
        )
    }

    #[test]
    fn structured_mode_maps_attributes_and_data() {
        let mut h = async_nats::HeaderMap::new();
        h.insert(
            "Content-Type",
            "application/cloudevents+json; charset=utf-8",
        );
        let body = br#"{"specversion":"1.0","id":"ce-1","source":"/dsops","type":"rotation.failed",
            "time":"2025-12-09T14:30:00Z","subject":"postgres-prod",
            "data":{"environment":"production","error":"boom"}}"#;
        let e = ingest_with(&h, body).unwrap();
        assert_eq!(e.id, "ce-1");
        assert_eq!(e.source.as_deref(), Some("/dsops"));
        assert_eq!(e.resource.as_deref(), Some("postgres-prod"));
        assert_eq!(e.environment.as_deref(), Some("production"));
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.data["error"], "boom");
    }

    #[test]
    fn binary_mode_decodes_percent_encoded_headers() {
        let mut h = async_nats::HeaderMap::new();
        h.insert("ce-specversion", "1.0");
        h.insert("ce-id", "1234-1234-1234");
        h.insert("ce-source", "/mycontext/subcontext");
        h.insert("ce-type", "cert.expiring");
        h.insert("ce-time", "2018-04-05T03:56:24Z");
        h.insert("ce-subject", "Euro%20%E2%82%AC%20%F0%9F%98%80");
        h.insert("ce-severity", "critical");
        let e = ingest_with(&h, br#"{"days_left":3}"#).unwrap();
        assert_eq!(e.id, "1234-1234-1234");
        assert_eq!(e.resource.as_deref(), Some("Euro € 😀"));
        assert_eq!(e.severity, Severity::Critical);
        assert_eq!(e.data["days_left"], 3);
    }

    #[test]
    fn unknown_versions_and_bad_encodings_are_rejected() {
        let mut h = async_nats::HeaderMap::new();
        h.insert("ce-specversion", "0.3");
        h.insert("ce-id", "x");
        assert_eq!(
            ingest_with(&h, b"").unwrap_err().kind,
            IngestErrorKind::UnsupportedCloudEventsVersion
        );
        let mut h = async_nats::HeaderMap::new();
        h.insert("ce-specversion", "1.0");
        h.insert("ce-id", "x");
        h.insert("ce-source", "s");
        h.insert("ce-type", "t");
        h.insert("ce-subject", "%C0%A0");
        assert_eq!(
            ingest_with(&h, b"").unwrap_err().kind,
            IngestErrorKind::InvalidCloudEvent
        );
        let mut h = async_nats::HeaderMap::new();
        h.insert("content-type", "application/cloudevents+json");
        assert_eq!(
            ingest_with(&h, br#"{"specversion":"1.0","source":"s","type":"t"}"#)
                .unwrap_err()
                .kind,
            IngestErrorKind::MissingId
        );
    }
}
