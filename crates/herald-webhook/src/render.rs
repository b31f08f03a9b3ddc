//! Webhook bodies: generic, envelope, subject-message and templated.

use herald_core::Envelope;
use herald_core::template::Template;
use serde_json::{Value, json};

use crate::config::Format;

/// How the body is produced, ready to use.
#[derive(Debug)]
pub(crate) enum BodyFormat {
    Generic { default_source: String },
    Envelope,
    SubjectMessage,
    Template(Box<Template>),
}

impl BodyFormat {
    pub(crate) fn kind(&self) -> Format {
        match self {
            BodyFormat::Generic { .. } => Format::Generic,
            BodyFormat::Envelope => Format::Envelope,
            BodyFormat::SubjectMessage => Format::SubjectMessage,
            BodyFormat::Template(_) => Format::Template,
        }
    }
}

/// The body for one event.
///
/// # Errors
/// The template's message when a template fails.
pub(crate) fn body(
    format: &BodyFormat,
    event: &Envelope,
    destination: &str,
) -> Result<Vec<u8>, String> {
    let value = match format {
        BodyFormat::Template(t) => {
            return t
                .render(event, destination)
                .map(String::into_bytes)
                .map_err(|e| e.to_string());
        }
        BodyFormat::Envelope => return serde_json::to_vec(event).map_err(|e| e.to_string()),
        BodyFormat::Generic { default_source } => generic(event, default_source),
        BodyFormat::SubjectMessage => subject_message(event),
    };
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

/// The CertifyClouds generic shape, with the event's id, type and severity added.
pub(crate) fn generic(e: &Envelope, default_source: &str) -> Value {
    let mut body = json!({
        "title": e.title,
        "message": e.summary,
        "color": e.severity.color_hex(),
        "severity": e.severity,
        "type": e.event_type,
        "id": e.id,
        "timestamp": e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "source": e.source.as_deref().unwrap_or(default_source),
        "fields": e.fields.iter().map(|f| json!({"title": f.title, "value": f.value})).collect::<Vec<_>>(),
    });
    if let Some(obj) = body.as_object_mut() {
        if let Some(r) = &e.resource {
            obj.insert("resource".into(), json!(r));
        }
        if let Some(env) = &e.environment {
            obj.insert("environment".into(), json!(env));
        }
        let links: Vec<Value> = e
            .links
            .iter()
            .chain(&e.actions)
            .map(|l| json!({"title": l.title, "url": l.url}))
            .collect();
        if !links.is_empty() {
            obj.insert("links".into(), Value::Array(links));
        }
    }
    body
}

/// MazeVault's `{subject, message}`: the title, and the summary followed by one
/// `Title: value` line per fact.
pub(crate) fn subject_message(e: &Envelope) -> Value {
    let mut message = e.summary.clone();
    for f in &e.fields {
        message.push('\n');
        message.push_str(&f.title);
        message.push_str(": ");
        message.push_str(&f.value);
    }
    json!({ "subject": e.title, "message": message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::envelope::{IngestLimits, RawEvent, ingest};

    fn event() -> Envelope {
        ingest(
            &RawEvent {
                subject: "cert.expiring",
                payload: br#"{"id":"e1","resource":"api-cert","environment":"production",
                    "fields":{"Vault":"kv-production","Days left":"3"}}"#,
                headers: None,
                published: chrono::DateTime::parse_from_rfc3339("2024-12-14T12:00:00Z")
                    .unwrap()
                    .into(),
            },
            IngestLimits::default(),
        )
        .unwrap()
    }

    #[test]
    fn generic_follows_the_certifyclouds_shape() {
        let b = generic(&event(), "Herald");
        assert_eq!(b["title"], "Cert Expiring: api-cert");
        assert_eq!(b["color"], "#F97316");
        assert_eq!(b["source"], "Herald");
        assert_eq!(b["timestamp"], "2024-12-14T12:00:00.000Z");
        assert_eq!(
            b["fields"][0],
            json!({"title": "Vault", "value": "kv-production"})
        );
        assert!(b["message"].as_str().unwrap().contains("api-cert"));
    }

    #[test]
    fn subject_message_lists_the_facts() {
        let b = subject_message(&event());
        assert_eq!(b["subject"], "Cert Expiring: api-cert");
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .ends_with("\nVault: kv-production\nDays left: 3")
        );
    }
}
