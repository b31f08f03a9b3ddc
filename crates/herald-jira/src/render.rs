//! The issue summary, its ADF description (also the body of comments), and
//! the create body. Pure: no I/O, no clock.
//!
//! The description reads like every Herald message: the headline
//! (`❌ [PROD] Rotation Failed: postgres-prod`) as a heading, the summary, a
//! table of the facts, the links as a bullet list, and a last line saying where
//! the event came from and carrying the delivery's marker.

use herald_core::Envelope;
use herald_core::present::View;
use herald_core::text::truncate;
use serde_json::{Map, Value, json};

use crate::adf;
use crate::config::PriorityMapping;

/// Jira's summary limit (characters).
pub const SUMMARY_CHARS: usize = 255;
/// The most a description or comment may weigh, as ADF JSON: Jira's text
/// fields hold 32,767 characters; a margin is kept.
pub const DOCUMENT_CHARS: usize = 32_000;
/// Longest summary paragraph.
const SUMMARY_TEXT_CHARS: usize = 4_000;
/// Longest fact label.
const LABEL_CHARS: usize = 255;
/// Most facts in the table.
const MAX_FACTS: usize = 50;
/// Most links listed.
const MAX_LINKS: usize = 20;
/// Fact values are cut to the first of these that lets the document fit.
const VALUE_CAPS: [usize; 5] = [1_000, 400, 150, 60, 20];

/// The parts of every issue that come from the destination's settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct IssueDefaults {
    pub(crate) project_key: String,
    pub(crate) issue_type: String,
    pub(crate) labels: Vec<String>,
    pub(crate) priority: Option<PriorityMapping>,
    pub(crate) fields: Map<String, Value>,
    pub(crate) message_prefix: Option<String>,
}

/// `[PROD] Rotation Failed: postgres-prod`: one line, at most 255 characters.
/// No status emoji: summaries are searched, sorted and mailed as subjects.
pub(crate) fn summary(view: &View<'_>) -> String {
    let raw = match view.prefix {
        Some(p) => format!("{} {}", p.trim(), view.title),
        None => view.title.to_owned(),
    };
    let mut line = adf::one_line(&raw);
    if line.is_empty() {
        line = view.event.event_type.clone();
    }
    truncate(&line, SUMMARY_CHARS).into_owned()
}

/// The ADF document of an event, at most [`DOCUMENT_CHARS`] as JSON.
pub(crate) fn document(view: &View<'_>, marker: &str) -> Value {
    let mut facts = MAX_FACTS;
    loop {
        for cap in VALUE_CAPS {
            let doc = document_with(view, marker, cap, facts);
            if serde_json::to_string(&doc).map_or(0, |s| s.chars().count()) <= DOCUMENT_CHARS {
                return doc;
            }
        }
        if facts == 0 {
            // Only the headline, summary, links and footer are left.
            return document_with(view, marker, 0, 0);
        }
        facts /= 2;
    }
}

fn document_with(view: &View<'_>, marker: &str, value_cap: usize, max_facts: usize) -> Value {
    let mut content = vec![adf::heading(
        2,
        adf::text(&truncate(&adf::one_line(&view.headline()), SUMMARY_CHARS)),
    )];
    let summary = view.summary.trim();
    if !summary.is_empty() {
        content.push(adf::paragraph(adf::text(&truncate(
            summary,
            SUMMARY_TEXT_CHARS,
        ))));
    }
    let mut rows: Vec<(String, String)> = view
        .facts
        .iter()
        .take(max_facts)
        .map(|f| {
            (
                truncate(&adf::one_line(f.title), LABEL_CHARS).into_owned(),
                truncate(f.value, value_cap).into_owned(),
            )
        })
        .collect();
    if view.facts.len() > max_facts {
        rows.push((
            "…".to_owned(),
            format!("{} more facts", view.facts.len() - max_facts),
        ));
    }
    content.extend(adf::table(&rows));
    let links: Vec<Vec<Value>> = view
        .links
        .iter()
        .chain(view.actions)
        .take(MAX_LINKS)
        .map(|l| adf::link(&truncate(&l.title, LABEL_CHARS), &l.url))
        .filter(|inline| !inline.is_empty())
        .collect();
    content.extend(adf::bullet_list(links));
    content.push(adf::paragraph(adf::marked(
        &format!(
            "Sent by Herald · {} · event {} · delivery {marker}",
            view.footer,
            truncate(&adf::one_line(&view.event.id), 200)
        ),
        &[json!({"type": "em"})],
    )));
    adf::doc(content)
}

/// `POST /rest/api/3/issue`: project, type, summary, description, labels
/// (the destination's, then the de-duplication label), priority, and the
/// destination's own fields.
pub(crate) fn create_body(
    d: &IssueDefaults,
    e: &Envelope,
    summary: &str,
    description: Value,
    label: &str,
) -> Value {
    let mut labels = d.labels.clone();
    labels.push(label.to_owned());
    let mut fields = Map::new();
    fields.insert("project".into(), json!({"key": d.project_key}));
    fields.insert("issuetype".into(), json!({"name": d.issue_type}));
    fields.insert("summary".into(), json!(summary));
    fields.insert("description".into(), description);
    fields.insert("labels".into(), json!(labels));
    if let Some(name) = d.priority.as_ref().and_then(|p| p.for_severity(e.severity)) {
        fields.insert("priority".into(), json!({"name": name}));
    }
    for (k, v) in &d.fields {
        fields.insert(k.clone(), v.clone());
    }
    json!({"fields": fields})
}

/// `POST /rest/api/3/issue/{key}/comment`.
pub(crate) fn comment_body(document: Value) -> Value {
    let mut body = Map::new();
    body.insert("body".into(), document);
    Value::Object(body)
}
