//! Alert bodies: the create payload (`POST /v2/alerts`) and the close payload
//! (`POST /v2/alerts/{alias}/close`). Pure: no I/O, no clock.
//!
//! The message is the event's title (with the destination's prefix, without the
//! status emoji: priorities say how bad it is, and messages are read out by
//! voice calls and SMS). The description holds the summary, the facts, the links
//! and where the event came from. Details carry the facts as properties, for
//! Opsgenie's filters and routing rules.

use herald_core::Envelope;
use herald_core::present::View;
use herald_core::text::truncate;
use serde_json::{Map, Value, json};

use crate::config::{PrioritySetting, Responder};
use crate::limits::{self, html_within, one_line};

/// Longest summary kept in a description.
const SUMMARY_CHARS: usize = 4_000;
/// Longest fact value kept in a description.
const FACT_CHARS: usize = 1_000;
/// Longest fact title kept anywhere.
const TITLE_CHARS: usize = 200;
/// Most facts listed in a description.
const MAX_FACTS: usize = 50;
/// Longest value kept in `details` (the whole map is bounded too).
const DETAIL_CHARS: usize = 500;

/// The parts of every alert that come from the destination's settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlertDefaults {
    pub(crate) priority: Option<PrioritySetting>,
    pub(crate) responders: Vec<Responder>,
    pub(crate) tags: Vec<String>,
    pub(crate) event_tags: bool,
    pub(crate) details: Vec<(String, String)>,
    pub(crate) entity: Option<String>,
    pub(crate) source: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) message_prefix: Option<String>,
}

/// The create payload (`CreateAlertPayload`).
pub(crate) fn create_body(d: &AlertDefaults, e: &Envelope, alias: &str) -> Value {
    let view = View::new(e, d.message_prefix.as_deref());
    let mut body = Map::new();
    body.insert("message".into(), json!(message(&view)));
    body.insert("alias".into(), json!(alias));
    body.insert("description".into(), json!(description(&view)));
    if !d.responders.is_empty() {
        body.insert(
            "responders".into(),
            Value::Array(d.responders.iter().map(responder).collect()),
        );
    }
    let tags = tags(d, e);
    if !tags.is_empty() {
        body.insert("tags".into(), json!(tags));
    }
    body.insert("details".into(), Value::Object(details(d, e, &view)));
    if let Some(entity) = d
        .entity
        .as_deref()
        .or(e.resource.as_deref())
        .map(one_line)
        .filter(|s| !s.is_empty())
    {
        body.insert("entity".into(), json!(truncate(&entity, limits::ENTITY)));
    }
    body.insert("source".into(), json!(source(d, e)));
    body.insert(
        "priority".into(),
        json!(PrioritySetting::resolve(d.priority.as_ref(), e.severity).as_str()),
    );
    if let Some(user) = &d.user {
        body.insert("user".into(), json!(truncate(user, limits::USER)));
    }
    Value::Object(body)
}

/// The close payload (`CloseAlertPayload`): who closes it and why.
pub(crate) fn close_body(d: &AlertDefaults, e: &Envelope) -> Value {
    let view = View::new(e, d.message_prefix.as_deref());
    let mut note = format!("Closed by Herald: {}", one_line(&view.headline()));
    if !e.summary.trim().is_empty() {
        note.push('\n');
        note.push_str(&truncate(&e.summary, SUMMARY_CHARS));
    }
    let mut body = Map::new();
    body.insert("source".into(), json!(source(d, e)));
    body.insert("note".into(), json!(html_within(&note, limits::NOTE)));
    if let Some(user) = &d.user {
        body.insert("user".into(), json!(truncate(user, limits::USER)));
    }
    Value::Object(body)
}

/// `[PROD] Rotation Failed: postgres-prod`, one line, HTML-escaped, at most 130.
pub(crate) fn message(view: &View<'_>) -> String {
    let raw = match view.prefix {
        Some(p) => format!("{} {}", p.trim(), view.title),
        None => view.title.to_owned(),
    };
    let mut line = one_line(&raw);
    if line.is_empty() {
        line = view.event.event_type.clone();
    }
    html_within(&line, limits::MESSAGE)
}

/// The summary, the facts (`Title: value`), the links (`Title: url`) and the
/// footer, HTML-escaped, at most 15,000 characters.
pub(crate) fn description(view: &View<'_>) -> String {
    let mut out = String::new();
    let summary = view.summary.trim();
    if !summary.is_empty() {
        out.push_str(&truncate(summary, SUMMARY_CHARS));
        out.push_str("\n\n");
    }
    if !view.facts.is_empty() {
        for f in view.facts.iter().take(MAX_FACTS) {
            out.push_str(&truncate(&one_line(f.title), TITLE_CHARS));
            out.push_str(": ");
            out.push_str(&truncate(f.value, FACT_CHARS));
            out.push('\n');
        }
        if view.facts.len() > MAX_FACTS {
            out.push_str(&format!(
                "… and {} more facts\n",
                view.facts.len() - MAX_FACTS
            ));
        }
        out.push('\n');
    }
    let links: Vec<_> = view.links.iter().chain(view.actions).collect();
    if !links.is_empty() {
        for l in links {
            let title = one_line(&l.title);
            if !title.is_empty() {
                out.push_str(&truncate(&title, TITLE_CHARS));
                out.push_str(": ");
            }
            out.push_str(&l.url);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&view.footer);
    out.push_str(" · event ");
    out.push_str(&view.event.id);
    html_within(&out, limits::DESCRIPTION)
}

/// The event's facts, then its id, type and correlation, then the
/// destination's own details (which win on a clash), at most 8,000 characters
/// in all. The destination's details are always kept; facts that do not fit
/// are left out.
pub(crate) fn details(d: &AlertDefaults, e: &Envelope, view: &View<'_>) -> Map<String, Value> {
    let fixed: usize = d
        .details
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    let mut budget = limits::DETAILS.saturating_sub(fixed);
    let mut out = Map::new();
    let mut meta: Vec<(&str, &str)> = vec![("Event id", &e.id), ("Event type", &e.event_type)];
    if let Some(c) = e.correlation.as_deref() {
        meta.push(("Correlation", c));
    }
    if let Some(r) = e.resource.as_deref() {
        meta.push(("Resource", r));
    }
    let facts = view.facts.iter().map(|f| (f.title, f.value));
    for (key, value) in meta.into_iter().chain(facts) {
        let key = truncate(&one_line(key), TITLE_CHARS).into_owned();
        if key.is_empty() || out.contains_key(&key) {
            continue;
        }
        let value = truncate(value, DETAIL_CHARS).into_owned();
        let cost = key.chars().count() + value.chars().count();
        if cost > budget {
            continue;
        }
        budget -= cost;
        out.insert(key, Value::String(value));
    }
    for (k, v) in &d.details {
        // On a clash the configured value replaces the event's.
        out.insert(k.clone(), Value::String(v.clone()));
    }
    out
}

/// The destination's tags, then (with `event_tags`) the event's type,
/// severity, source and environment: each at most 50 characters, each once, at
/// most 20.
pub(crate) fn tags(d: &AlertDefaults, e: &Envelope) -> Vec<String> {
    let mut candidates: Vec<String> = d.tags.clone();
    if d.event_tags {
        candidates.push(e.event_type.clone());
        candidates.push(e.severity.as_str().to_owned());
        candidates.extend(e.source.clone());
        candidates.extend(e.environment.clone());
    }
    let mut out: Vec<String> = Vec::new();
    for t in candidates {
        let t = truncate(&one_line(&t), limits::TAG).into_owned();
        if !t.is_empty() && !out.contains(&t) && out.len() < limits::TAGS {
            out.push(t);
        }
    }
    out
}

fn source(d: &AlertDefaults, e: &Envelope) -> String {
    let s = d
        .source
        .as_deref()
        .or(e.source.as_deref())
        .map(one_line)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Herald".to_owned());
    truncate(&s, limits::SOURCE).into_owned()
}

fn responder(r: &Responder) -> Value {
    let mut v = Map::new();
    v.insert("type".into(), json!(r.kind.as_str()));
    for (key, value) in [("id", &r.id), ("name", &r.name), ("username", &r.username)] {
        if let Some(value) = value {
            v.insert(key.into(), json!(value));
        }
    }
    Value::Object(v)
}
