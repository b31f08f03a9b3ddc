//! The Adaptive Card 1.5 message Workflows webhooks take.
//!
//! ```text
//! {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
//!   "contentUrl": null, "content": {"type": "AdaptiveCard", "version": "1.5", "body": [...], "actions": [...]}}]}
//! ```
//! The card holds the headline in the severity's colour (Adaptive Cards have no
//! free colours: `attention`, `warning`, `good` or `accent`), the summary, a
//! `FactSet`, a subtle footer, and one `Action.OpenUrl` per action and link.

use herald_core::envelope::Severity;
use serde_json::{Value, json};

use crate::escape;
use crate::render::Content;

/// The attachment content type of an Adaptive Card.
pub const CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// The card schema version used.
pub const VERSION: &str = "1.5";

/// The named colour of a severity.
pub(crate) fn color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::Error => "attention",
        Severity::Warning => "warning",
        Severity::Success => "good",
        Severity::Info => "accent",
    }
}

/// The whole request body: a `message` with one Adaptive Card attachment.
pub(crate) fn message(c: &Content) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": CONTENT_TYPE,
            "contentUrl": null,
            "content": card(c),
        }],
    })
}

/// The Adaptive Card itself.
pub(crate) fn card(c: &Content) -> Value {
    let headline = escape::adaptive(&c.headline);
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": headline,
        "style": "heading",
        "size": "Large",
        "weight": "Bolder",
        "color": color(c.severity),
        "wrap": true,
    })];
    if !c.summary.trim().is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": escape::adaptive(&c.summary),
            "wrap": true,
        }));
    }
    if !c.facts.is_empty() {
        let facts: Vec<Value> = c
            .facts
            .iter()
            .map(|f| json!({"title": escape::adaptive(&f.title), "value": escape::adaptive(&f.value)}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    body.push(json!({
        "type": "TextBlock",
        "text": escape::adaptive(&c.footer),
        "isSubtle": true,
        "size": "Small",
        "spacing": "Medium",
        "wrap": true,
    }));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": VERSION,
        "fallbackText": headline,
        "body": body,
    });
    if !c.buttons.is_empty() {
        let actions: Vec<Value> = c
            .buttons
            .iter()
            .map(|b| {
                let mut a = json!({"type": "Action.OpenUrl", "title": b.title, "url": b.url});
                if let (Some(style), Some(obj)) = (b.style, a.as_object_mut()) {
                    obj.insert("style".into(), style.into());
                }
                a
            })
            .collect();
        if let Some(obj) = card.as_object_mut() {
            obj.insert("actions".into(), Value::Array(actions));
        }
    }
    card
}
