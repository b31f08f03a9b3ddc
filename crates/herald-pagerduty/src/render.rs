//! Events API v2 bodies: a trigger with the incident text, or a resolve.
//!
//! A trigger reads as dsops' incidents do:
//!
//! ```text
//! summary: dsops rotation failed: postgres-prod (production)
//! source: dsops-rotation            severity: error
//! custom_details: service, environment, the event's fields (snake_case),
//!                 timestamp, the event's runbook link, then the destination's
//!                 custom_details (team, runbook) where the event had no value
//! ```
//! plus `component` (resource), `group` (environment), `class` (type) and the
//! event's links and actions as `links`. PagerDuty shows text as plain text, so
//! nothing is escaped; limits are kept by cutting: `summary` to 1,024
//! characters, the body to 512 KB (long details are cut, then the last ones
//! left out, with a note saying how many).

use herald_core::Envelope;
use herald_core::config::Secret;
use herald_core::envelope::Severity;
use herald_core::text::{one_line, truncate};
use serde_json::{Map, Value, json};

use crate::config::PdSeverity;
use crate::request::EventAction;

/// PagerDuty's limit on `payload.summary`, in characters.
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// PagerDuty's limit on the whole event, in bytes.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Characters kept of `source`, `component`, `group`, `class` and link texts.
const MAX_LABEL_CHARS: usize = 255;

/// Caps applied when the body is too large.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Characters kept of each custom detail value.
    value: usize,
    /// Custom details kept.
    details: usize,
    /// Links kept.
    links: usize,
    /// Longest link URL kept, in characters.
    url: usize,
}

/// Tried in order until the body fits.
const PLANS: [Plan; 4] = [
    Plan {
        value: usize::MAX,
        details: usize::MAX,
        links: usize::MAX,
        url: usize::MAX,
    },
    Plan {
        value: 8192,
        details: 500,
        links: 50,
        url: 8192,
    },
    Plan {
        value: 1024,
        details: 100,
        links: 20,
        url: 2048,
    },
    Plan {
        value: 256,
        details: 50,
        links: 10,
        url: 1024,
    },
];

/// Everything a destination adds to its events, resolved.
#[derive(Debug)]
pub(crate) struct Renderer {
    pub(crate) routing_key: Secret,
    pub(crate) severity: Option<PdSeverity>,
    pub(crate) auto_resolve: bool,
    pub(crate) resolve_on: Vec<String>,
    pub(crate) custom_details: Map<String, Value>,
    pub(crate) source: Option<String>,
    pub(crate) component: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) class: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) client_url: Option<String>,
}

impl Renderer {
    /// `resolve` for an event that ends its incident under `auto_resolve`
    /// (a success, or a type in `resolve_on`), else `trigger`.
    pub(crate) fn action(&self, e: &Envelope) -> EventAction {
        let ends = e.severity == Severity::Success || self.resolve_on.contains(&e.event_type);
        if self.auto_resolve && ends {
            EventAction::Resolve
        } else {
            EventAction::Trigger
        }
    }

    /// The body for `e`.
    ///
    /// # Errors
    /// A message when even the tightest plan does not fit (it always does).
    pub(crate) fn body(
        &self,
        e: &Envelope,
        action: EventAction,
        dedup_key: &str,
    ) -> Result<Vec<u8>, String> {
        if action == EventAction::Resolve {
            let body = json!({
                "routing_key": self.routing_key.expose(),
                "event_action": "resolve",
                "dedup_key": dedup_key,
            });
            return serde_json::to_vec(&body).map_err(|e| e.to_string());
        }
        let mut last = 0;
        for plan in PLANS {
            let bytes =
                serde_json::to_vec(&self.trigger(e, dedup_key, plan)).map_err(|e| e.to_string())?;
            if bytes.len() <= MAX_BODY_BYTES {
                return Ok(bytes);
            }
            last = bytes.len();
        }
        Err(format!(
            "the event is {last} bytes even cut down; PagerDuty takes at most {MAX_BODY_BYTES}"
        ))
    }

    fn trigger(&self, e: &Envelope, dedup_key: &str, plan: Plan) -> Value {
        let label = |s: &str| truncate(s, MAX_LABEL_CHARS).into_owned();
        let mut payload = Map::new();
        payload.insert(
            "summary".into(),
            truncate(&one_line(&summary(e)), MAX_SUMMARY_CHARS)
                .into_owned()
                .into(),
        );
        let source = self.source.clone().unwrap_or_else(|| default_source(e));
        payload.insert("source".into(), label(&source).into());
        let severity = self.severity.unwrap_or_else(|| PdSeverity::of(e.severity));
        payload.insert("severity".into(), severity.as_str().into());
        payload.insert(
            "timestamp".into(),
            e.time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .into(),
        );
        let optional = [
            (
                "component",
                self.component.as_deref().or(e.resource.as_deref()),
            ),
            ("group", self.group.as_deref().or(e.environment.as_deref())),
            (
                "class",
                self.class.as_deref().or(Some(e.event_type.as_str())),
            ),
        ];
        for (key, value) in optional {
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                payload.insert(key.into(), label(v).into());
            }
        }
        payload.insert(
            "custom_details".into(),
            Value::Object(self.details(e, plan)),
        );
        let mut body = Map::new();
        body.insert("routing_key".into(), self.routing_key.expose().into());
        body.insert("event_action".into(), "trigger".into());
        body.insert("dedup_key".into(), dedup_key.into());
        body.insert("payload".into(), Value::Object(payload));
        if let Some(c) = &self.client {
            body.insert("client".into(), c.as_str().into());
        }
        if let Some(u) = &self.client_url {
            body.insert("client_url".into(), u.as_str().into());
        }
        let links: Vec<Value> = e
            .links
            .iter()
            .chain(&e.actions)
            .filter_map(|l| Some((web_url(&l.url)?, l)))
            .filter(|(href, _)| href.chars().count() <= plan.url)
            .take(plan.links)
            .map(|(href, l)| json!({"href": href, "text": label(&l.title)}))
            .collect();
        if !links.is_empty() {
            body.insert("links".into(), Value::Array(links));
        }
        Value::Object(body)
    }

    /// `service`, `environment`, the event's fields, `timestamp`, the event's
    /// runbook link (`runbook`), then the destination's own details; the first
    /// value of a key wins, so the event's own values beat configured ones.
    fn details(&self, e: &Envelope, plan: Plan) -> Map<String, Value> {
        let mut all: Vec<(String, Value)> = Vec::new();
        let mut push = |key: String, value: Value| {
            if !all.iter().any(|(k, _)| *k == key) {
                all.push((key, value));
            }
        };
        if let Some(r) = &e.resource {
            push("service".into(), r.as_str().into());
        }
        if let Some(env) = &e.environment {
            push("environment".into(), env.as_str().into());
        }
        for f in &e.fields {
            push(detail_key(&f.title), f.value.as_str().into());
        }
        push(
            "timestamp".into(),
            e.time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .into(),
        );
        if let Some(rb) = e
            .links
            .iter()
            .chain(&e.actions)
            .filter(|l| l.title.to_lowercase().contains("runbook"))
            .find_map(|l| web_url(&l.url))
        {
            push("runbook".into(), rb.into());
        }
        for (k, v) in &self.custom_details {
            push(k.clone(), v.clone());
        }
        let total = all.len();
        let mut out: Map<String, Value> = all
            .into_iter()
            .take(plan.details)
            .map(|(k, v)| (k, cut_value(v, plan.value)))
            .collect();
        if total > out.len() {
            out.insert(
                "herald_truncated".into(),
                format!("{} more details left out", total - out.len()).into(),
            );
        }
        out
    }
}

/// dsops' incident text: `dsops rotation failed: postgres-prod (production)`.
fn summary(e: &Envelope) -> String {
    let what = e.event_type.replace(['.', '_'], " ");
    let head = match e.source.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => format!("{s} {what}"),
        None => what,
    };
    match (e.resource.as_deref(), e.environment.as_deref()) {
        (Some(r), Some(env)) => format!("{head}: {r} ({env})"),
        (Some(r), None) => format!("{head}: {r}"),
        (None, _) if !e.summary.trim().is_empty() => format!("{head}: {}", e.summary),
        (None, _) => head,
    }
}

/// `dsops-rotation`: the emitter and the event's domain.
fn default_source(e: &Envelope) -> String {
    let domain = e
        .event_type
        .split_once('.')
        .map_or(e.event_type.as_str(), |(d, _)| d);
    match e.source.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => format!("{s}-{domain}"),
        None => format!("herald-{domain}"),
    }
}

/// A fact title as a custom-detail key: `New version` → `new_version`.
pub(crate) fn detail_key(title: &str) -> String {
    let mut key = String::with_capacity(title.len());
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    let trimmed = key.trim_end_matches('_');
    if trimmed.is_empty() {
        "field".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn cut_value(v: Value, max: usize) -> Value {
    match v {
        Value::String(s) if max != usize::MAX => truncate(&s, max).into_owned().into(),
        other => other,
    }
}

/// An absolute http(s) URL, normalised (`<`, spaces percent-encoded).
fn web_url(raw: &str) -> Option<String> {
    let u = url::Url::parse(raw.trim()).ok()?;
    (matches!(u.scheme(), "http" | "https") && u.host_str().is_some()).then(|| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_keys_are_snake_case() {
        assert_eq!(detail_key("New version"), "new_version");
        assert_eq!(detail_key("Initiated by"), "initiated_by");
        assert_eq!(detail_key("<!channel> Environment"), "channel_environment");
        assert_eq!(detail_key("Days left"), "days_left");
        assert_eq!(detail_key("***"), "field");
    }
}
