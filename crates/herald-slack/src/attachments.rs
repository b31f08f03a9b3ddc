//! The legacy attachment (CertifyClouds' Slack format): a colour bar, a title,
//! the summary with its links, short fields, a footer and a timestamp.
//!
//! Public because Discord's Slack-compatible webhooks (`…/slack`) take the same
//! shape: `herald-discord` calls [`attachment`] with Discord's limits.
//!
//! ```json
//! {"fallback": "❌ Rotation Failed: postgres-prod", "color": "#EF4444",
//!  "title": "❌ Rotation Failed: postgres-prod", "text": "Rotation failed …",
//!  "fields": [{"title": "Environment", "value": "production", "short": true}],
//!  "footer": "dsops · rotation.failed", "ts": 1763908241}
//! ```

use herald_core::present::View;
use serde_json::{Map, Value, json};

use crate::mrkdwn::{clip, fit, len, link, safe_url};

/// The limits one attachment is kept within, in UTF-16 code units (counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// `title`.
    pub title: usize,
    /// `text` (the summary and its links).
    pub text: usize,
    /// How many `fields`; past it, the last one says how many were left out.
    pub fields: usize,
    /// A field's `title`.
    pub field_title: usize,
    /// A field's `value`.
    pub field_value: usize,
    /// `footer`.
    pub footer: usize,
    /// Title, text, fields and footer together.
    pub total: usize,
}

impl AttachmentLimits {
    /// Slack's: 3,000 for the text as for a section, 2,000 per field value as for
    /// a Block Kit field, and 50 fields; the whole well under the 40,000
    /// characters of a message.
    pub const SLACK: Self = Self {
        title: 250,
        text: 3000,
        fields: 50,
        field_title: 250,
        field_value: 2000,
        footer: 300,
        total: 39_000,
    };
}

/// Values at most this long (and on one line) are shown side by side.
const SHORT: usize = 40;

/// The attachment for one event. Every piece of event text is escaped
/// ([`crate::mrkdwn::escape`]) and cut to `limits` with `…`; links that are not
/// absolute `http(s)` URLs are left out.
pub fn attachment(view: &View<'_>, limits: &AttachmentLimits) -> Value {
    let title = fit(&view.headline(), limits.title);
    let footer = fit(&view.footer, limits.footer);
    let mut budget = limits.total.saturating_sub(len(&title) + len(&footer));

    let links: Vec<String> = view
        .links
        .iter()
        .chain(view.actions)
        .filter_map(|l| safe_url(&l.url).map(|u| link(&u, &l.title)))
        .collect();
    let links = links.join(" · ");
    let text_max = limits.text.min(budget);
    let text = if links.is_empty() {
        fit(view.summary, text_max)
    } else if view.summary.trim().is_empty() {
        clip(&links, text_max).into_owned()
    } else {
        let summary_max = text_max.saturating_sub(len(&links) + 2).max(text_max / 2);
        let joined = format!("{}\n\n{links}", fit(view.summary, summary_max));
        clip(&joined, text_max).into_owned()
    };
    budget = budget.saturating_sub(len(&text));

    let mut fields = Vec::new();
    for (i, fact) in view.facts.iter().enumerate() {
        let left = view.facts.len() - i;
        let marker = format!("{left} more not shown");
        let marker_cost = 1 + len(&marker);
        let name = non_empty(fit(fact.title, limits.field_title));
        let mut value = non_empty(fit(fact.value, limits.field_value));
        // Keep room for the marker while more facts follow this one.
        let reserve = if left > 1 { marker_cost } else { 0 };
        let room = budget.saturating_sub(reserve + len(&name));
        if len(&value) > room && room >= 20 {
            value = clip(&value, room).into_owned();
        }
        let cost = len(&name) + len(&value);
        let last_slot = fields.len() + 1 == limits.fields && left > 1;
        if last_slot || cost + reserve > budget {
            if marker_cost <= budget && fields.len() < limits.fields {
                fields.push(field("…", &marker));
            }
            break;
        }
        budget -= cost;
        fields.push(field(&name, &value));
    }

    let mut a = Map::new();
    a.insert(
        "fallback".into(),
        json!(fit(&view.headline(), limits.title)),
    );
    a.insert("color".into(), json!(view.color));
    a.insert("title".into(), json!(title));
    if !text.is_empty() {
        a.insert("text".into(), json!(text));
    }
    if !fields.is_empty() {
        a.insert("fields".into(), Value::Array(fields));
    }
    a.insert("footer".into(), json!(footer));
    a.insert("ts".into(), json!(view.event.time.timestamp()));
    Value::Object(a)
}

/// `—` for an empty title or value (some renderers refuse empty ones).
fn non_empty(s: String) -> String {
    if s.trim().is_empty() {
        "—".to_owned()
    } else {
        s
    }
}

fn field(title: &str, value: &str) -> Value {
    let short = len(value) <= SHORT && !value.contains('\n');
    json!({"title": title, "value": value, "short": short})
}
