//! Payload templates (MiniJinja), with dsops-style `{{.EventType}}` placeholders.
//!
//! A template sees the envelope (`id`, `type`, `source`, `time`, `severity`,
//! `title`, `summary`, `resource`, `environment`, `fields`, `links`, `actions`,
//! `correlation`, `data`), `destination`, and the dsops variables `EventType`,
//! `ServiceName`, `Environment`, `Status`, `Strategy`, `Duration`, `Timestamp`,
//! `RotationID` and `Error`. Go-style `{{.Name}}` is rewritten to `{{ Name }}`.
//!
//! Printing an undefined value is an error, never an empty string: a template
//! error is a permanent failure with the template's message, not a half-rendered
//! body. In JSON templates every printed string is JSON-escaped (without adding
//! quotes, so `"{{.Error}}"` stays valid JSON whatever the error says), objects
//! and lists print as JSON, and the result must parse as JSON.

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

use crate::envelope::Envelope;

/// How printed values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateFormat {
    /// A JSON document: strings are JSON-escaped and the output must be valid JSON.
    Json,
    /// Plain text: values are printed as they are.
    Text,
}

/// A template that failed to compile or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template error: {0}")]
pub struct TemplateError(pub String);

/// A compiled template.
#[derive(Debug)]
pub struct Template {
    env: Environment<'static>,
    format: TemplateFormat,
}

const NAME: &str = "payload";

/// The most work one render may do (MiniJinja "fuel": about one unit per
/// instruction, and per 64 bytes allocated). Real templates use a few
/// thousand; a runaway loop is stopped with an error instead of holding a
/// delivery (its event is dead-lettered with the reason).
pub const TEMPLATE_FUEL: u64 = 1_000_000;

impl Template {
    /// Compiles `source`.
    ///
    /// # Errors
    /// A [`TemplateError`] with MiniJinja's message (syntax errors, unknown filters).
    pub fn compile(source: &str, format: TemplateFormat) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_fuel(Some(TEMPLATE_FUEL));
        if format == TemplateFormat::Json {
            env.set_formatter(json_formatter);
        }
        env.add_template_owned(NAME, translate_go_placeholders(source))
            .map_err(|e| TemplateError(describe(&e)))?;
        Ok(Self { env, format })
    }

    /// Renders the template for one event and destination.
    ///
    /// # Errors
    /// A [`TemplateError`] naming the problem (an undefined variable, invalid JSON output).
    pub fn render(&self, event: &Envelope, destination: &str) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| TemplateError(describe(&e)))?;
        let out = template
            .render(context(event, destination))
            .map_err(|e| TemplateError(describe(&e)))?;
        if self.format == TemplateFormat::Json
            && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&out)
        {
            return Err(TemplateError(format!(
                "the template did not produce valid JSON ({e})"
            )));
        }
        Ok(out)
    }
}

fn describe(e: &minijinja::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn json_formatter(
    out: &mut minijinja::Output<'_>,
    _state: &mut minijinja::State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    let text = if let Some(s) = value.as_str() {
        let quoted = serde_json::to_string(s).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
        })?;
        quoted[1..quoted.len() - 1].to_string()
    } else if value.is_undefined() {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "printed an undefined value",
        ));
    } else if value.is_none() {
        "null".to_string()
    } else if matches!(
        value.kind(),
        minijinja::value::ValueKind::Map | minijinja::value::ValueKind::Seq
    ) {
        serde_json::to_string(value).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
        })?
    } else {
        value.to_string()
    };
    out.write_str(&text).map_err(minijinja::Error::from)
}

/// Rewrites Go-template field references (`{{.EventType}}`, `{{ .Error }}`) to
/// MiniJinja variables. Anything else is left as written.
pub fn translate_go_placeholders(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let trimmed = after.trim_start();
        if let Some(name_and_rest) = trimmed.strip_prefix('.') {
            let name_len = name_and_rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(name_and_rest.len());
            let name = &name_and_rest[..name_len];
            let tail = name_and_rest[name_len..].trim_start();
            if !name.is_empty() && tail.starts_with("}}") {
                out.push_str("{{ ");
                out.push_str(name);
                out.push_str(" }}");
                rest = &tail[2..];
                continue;
            }
        }
        out.push_str("{{");
        rest = after;
    }
    out.push_str(rest);
    out
}

#[derive(Serialize)]
#[allow(non_snake_case, reason = "names of the dsops template variables")]
struct Context<'a> {
    #[serde(flatten)]
    event: &'a Envelope,
    destination: &'a str,
    EventType: &'a str,
    ServiceName: &'a str,
    Environment: &'a str,
    Status: &'a str,
    Strategy: &'a str,
    Duration: serde_json::Value,
    Timestamp: String,
    RotationID: &'a str,
    Error: &'a str,
}

fn context(e: &Envelope, destination: &str) -> Value {
    let data_str = |key: &str| e.data.get(key).and_then(serde_json::Value::as_str);
    let status = data_str("status").unwrap_or_else(|| {
        if e.severity.is_failure() {
            "failed"
        } else if e.severity == crate::envelope::Severity::Success {
            "success"
        } else {
            e.event_name()
        }
    });
    let duration = ["duration_seconds", "duration"]
        .iter()
        .find_map(|k| e.data.get(*k).filter(|v| v.is_number()).cloned())
        .unwrap_or(serde_json::Value::from(0));
    let ctx = Context {
        event: e,
        destination,
        EventType: e.event_name(),
        ServiceName: e.resource.as_deref().unwrap_or_default(),
        Environment: e.environment.as_deref().unwrap_or_default(),
        Status: status,
        Strategy: data_str("strategy").unwrap_or_default(),
        Duration: duration,
        Timestamp: e.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        RotationID: e
            .correlation
            .as_deref()
            .or_else(|| data_str("rotation_id"))
            .unwrap_or(&e.id),
        Error: data_str("error")
            .or_else(|| e.field("error"))
            .unwrap_or_default(),
    };
    Value::from(minijinja::value::Serde(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{IngestLimits, RawEvent, ingest};

    fn event(body: &str) -> Envelope {
        ingest(
            &RawEvent {
                subject: "rotation.failed",
                payload: body.as_bytes(),
                headers: None,
                published: chrono::DateTime::parse_from_rfc3339("2025-12-09T14:30:00Z")
                    .unwrap()
                    .into(),
            },
            IngestLimits::default(),
        )
        .unwrap()
    }

    const DSOPS: &str = r#"{
  "event_type": "{{.EventType}}",
  "service": "{{.ServiceName}}",
  "environment": "{{.Environment}}",
  "status": "{{.Status}}",
  "duration_seconds": {{.Duration}},
  "timestamp": "{{.Timestamp}}",
  "rotation_id": "{{.RotationID}}",
  "error": "{{ .Error }}"
}"#;

    #[test]
    fn dsops_placeholders_render_valid_json_even_with_hostile_text() {
        let t = Template::compile(DSOPS, TemplateFormat::Json).unwrap();
        let e = event(
            r#"{"id":"r1","service":"pg","environment":"production","duration":45,
                "rotation_id":"rot-1","error":"bad \"quote\"\n<!channel>"}"#,
        );
        let out: serde_json::Value = serde_json::from_str(&t.render(&e, "hook").unwrap()).unwrap();
        assert_eq!(out["event_type"], "failed");
        assert_eq!(out["service"], "pg");
        assert_eq!(out["status"], "failed");
        assert_eq!(out["duration_seconds"], 45);
        assert_eq!(out["timestamp"], "2025-12-09T14:30:00Z");
        assert_eq!(out["rotation_id"], "rot-1");
        assert_eq!(out["error"], "bad \"quote\"\n<!channel>");
    }

    #[test]
    fn errors_are_reported_not_swallowed() {
        assert!(Template::compile("{{ unclosed", TemplateFormat::Text).is_err());
        let t = Template::compile("{{ nope }}", TemplateFormat::Text).unwrap();
        let err = t.render(&event(r#"{"id":"1"}"#), "d").unwrap_err();
        assert!(err.0.contains("undefined"), "{err}");
        let t = Template::compile("{\"a\": {{ title }}}", TemplateFormat::Json).unwrap();
        let err = t.render(&event(r#"{"id":"1"}"#), "d").unwrap_err();
        assert!(err.0.contains("valid JSON"), "{err}");
    }

    #[test]
    fn envelope_fields_and_objects_are_available() {
        let t = Template::compile(
            r#"{"t": "{{ title }}", "f": {{ fields }}, "d": "{{ destination }}"}"#,
            TemplateFormat::Json,
        )
        .unwrap();
        let out: serde_json::Value = serde_json::from_str(
            &t.render(&event(r#"{"id":"1","fields":{"A":"b"}}"#), "hook")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(out["f"][0]["title"], "A");
        assert_eq!(out["d"], "hook");
    }

    #[test]
    fn go_placeholders_are_translated() {
        assert_eq!(
            translate_go_placeholders("a {{.X}} b {{ .Y_1 }} {{ z }} {{.}}"),
            "a {{ X }} b {{ Y_1 }} {{ z }} {{.}}"
        );
    }

    #[test]
    fn a_runaway_template_is_stopped() {
        let t = Template::compile(
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
            TemplateFormat::Text,
        )
        .unwrap();
        let e = crate::envelope::ingest(
            &crate::envelope::RawEvent {
                subject: "rotation.failed",
                payload: br#"{"id":"1"}"#,
                headers: None,
                published: chrono::Utc::now(),
            },
            crate::envelope::IngestLimits::default(),
        )
        .unwrap();
        let err = t.render(&e, "d").unwrap_err();
        assert!(err.0.contains("fuel"), "{err}");
    }
}
