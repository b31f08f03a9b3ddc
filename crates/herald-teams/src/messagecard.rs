//! The legacy connector MessageCard, in CertifyClouds' shape.
//!
//! ```text
//! {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": "Rotation Failed",
//!  "themeColor": "EF4444", "title": "...", "text": "...", "sections": [{"facts": [{"name", "value"}]}]}
//! ```
//! `themeColor` is the severity colour without `#`; links and actions become
//! `OpenUri` buttons (`potentialAction`).

use serde_json::{Value, json};

use crate::escape;
use crate::render::Content;

/// The MessageCard for `c`.
pub(crate) fn card(c: &Content) -> Value {
    let mut card = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        // Shown as plain text (notification previews, list views).
        "summary": escape::plain(&c.title),
        "themeColor": c.color_bare,
        "title": escape::connector(&c.headline),
        "text": escape::connector(&c.summary),
    });
    let Some(obj) = card.as_object_mut() else {
        return card;
    };
    let mut sections = Vec::new();
    if !c.facts.is_empty() {
        let facts: Vec<Value> = c
            .facts
            .iter()
            .map(|f| json!({"name": escape::connector(&f.title), "value": escape::connector(&f.value)}))
            .collect();
        sections.push(json!({"facts": facts}));
    }
    sections.push(json!({"text": escape::connector(&c.footer)}));
    obj.insert("sections".into(), Value::Array(sections));
    if !c.buttons.is_empty() {
        let actions: Vec<Value> = c
            .buttons
            .iter()
            .map(|b| {
                json!({
                    "@type": "OpenUri",
                    "name": b.title,
                    "targets": [{"os": "default", "uri": b.url}],
                })
            })
            .collect();
        obj.insert("potentialAction".into(), Value::Array(actions));
    }
    card
}
