//! Native webhook bodies: one embed (title, description with links, fields,
//! footer, timestamp, colour by severity), the mentions in `content`, and
//! `allowed_mentions` restricting pings to them.
//!
//! Discord's limits (message resource, "Embed Limits"): title 256, description
//! 4,096, 25 fields of name 256 and value 1,024, footer 2,048, author 256, and
//! 6,000 for all of those together; `content` 2,000. Longer text is cut with `…`;
//! facts that do not fit are replaced by a last field saying how many were left out.

use herald_core::present::View;
use serde_json::{Map, Value, json};

use crate::markdown::{clip, fit, len, safe_url};
use crate::mention::{DiscordMention, allowed_mentions};

/// Embed title.
pub const TITLE: usize = 256;
/// Embed description.
pub const DESCRIPTION: usize = 4096;
/// Fields in one embed.
pub const FIELDS: usize = 25;
/// A field's name.
pub const FIELD_NAME: usize = 256;
/// A field's value.
pub const FIELD_VALUE: usize = 1024;
/// The footer's text.
pub const FOOTER: usize = 2048;
/// Title, description, field names and values, footer and author together.
pub const EMBED_TOTAL: usize = 6000;
/// A message's `content`.
pub const CONTENT: usize = 2000;

/// Values at most this long (and on one line) are shown side by side.
const INLINE: usize = 40;

/// Sender overrides.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sender {
    pub(crate) username: Option<String>,
    pub(crate) avatar_url: Option<String>,
}

/// The Execute Webhook body for one event.
pub(crate) fn native(view: &View<'_>, mentions: &[DiscordMention], sender: &Sender) -> Value {
    let mut body = Map::new();
    if !mentions.is_empty() {
        let text: Vec<String> = mentions.iter().map(DiscordMention::text).collect();
        body.insert("content".into(), json!(clip(&text.join(" "), CONTENT)));
    }
    if let Some(u) = &sender.username {
        body.insert("username".into(), json!(u));
    }
    if let Some(a) = &sender.avatar_url {
        body.insert("avatar_url".into(), json!(a));
    }
    body.insert("embeds".into(), json!([embed(view)]));
    body.insert("allowed_mentions".into(), allowed_mentions(mentions));
    Value::Object(body)
}

/// The embed. Event text is escaped (the footer is plain text in Discord, so it
/// is only cut).
pub(crate) fn embed(view: &View<'_>) -> Value {
    let title = fit(&view.headline(), TITLE);
    let footer = clip(&view.footer, FOOTER);
    let mut budget = EMBED_TOTAL.saturating_sub(len(&title) + len(&footer));

    let description = description(view, DESCRIPTION.min(budget));
    budget = budget.saturating_sub(len(&description));

    let mut fields = Vec::new();
    for (i, fact) in view.facts.iter().enumerate() {
        let left = view.facts.len() - i;
        let marker = format!("{left} more not shown");
        let marker_cost = 1 + len(&marker);
        let name = non_empty(fit(fact.title, FIELD_NAME));
        let mut value = non_empty(fit(fact.value, FIELD_VALUE));
        let reserve = if left > 1 { marker_cost } else { 0 };
        let room = budget.saturating_sub(reserve + len(&name));
        if len(&value) > room && room >= 20 {
            value = clip(&value, room);
        }
        let cost = len(&name) + len(&value);
        let last_slot = fields.len() + 1 == FIELDS && left > 1;
        if last_slot || cost + reserve > budget {
            if marker_cost <= budget && fields.len() < FIELDS {
                fields.push(json!({"name": "…", "value": marker, "inline": false}));
            }
            break;
        }
        budget -= cost;
        let inline = len(&value) <= INLINE && !value.contains('\n');
        fields.push(json!({"name": name, "value": value, "inline": inline}));
    }

    let mut e = Map::new();
    e.insert("title".into(), json!(title));
    if !description.is_empty() {
        e.insert("description".into(), json!(description));
    }
    e.insert("color".into(), json!(view.color_number()));
    if !fields.is_empty() {
        e.insert("fields".into(), Value::Array(fields));
    }
    e.insert("footer".into(), json!({"text": footer}));
    e.insert(
        "timestamp".into(),
        json!(
            view.event
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    );
    Value::Object(e)
}

/// The summary, then the links and actions as `[title](url)` (web URLs only),
/// within `max`. Whole links are dropped rather than cut.
fn description(view: &View<'_>, max: usize) -> String {
    let mut links = String::new();
    for l in view.links.iter().chain(view.actions) {
        let Some(url) = safe_url(&l.url) else {
            continue;
        };
        let link = format!("[{}]({url})", fit(&l.title, 100));
        let sep = if links.is_empty() { 0 } else { 3 };
        if len(&links) + sep + len(&link) > max / 2 {
            break;
        }
        if !links.is_empty() {
            links.push_str(" · ");
        }
        links.push_str(&link);
    }
    let summary = view.summary.trim();
    match (summary.is_empty(), links.is_empty()) {
        (true, _) => links,
        (false, true) => fit(summary, max),
        (false, false) => {
            let room = max.saturating_sub(len(&links) + 2);
            format!("{}\n\n{links}", fit(summary, room))
        }
    }
}

/// `—` for an empty name or value (Discord refuses empty ones).
fn non_empty(s: String) -> String {
    if s.trim().is_empty() {
        "—".to_owned()
    } else {
        s
    }
}

/// The characters Discord counts towards [`EMBED_TOTAL`] in `embed`.
pub fn embed_total(embed: &Value) -> usize {
    let s = |v: &Value| v.as_str().map_or(0, len);
    s(&embed["title"])
        + s(&embed["description"])
        + s(&embed["footer"]["text"])
        + s(&embed["author"]["name"])
        + embed["fields"].as_array().map_or(0, |f| {
            f.iter().map(|x| s(&x["name"]) + s(&x["value"])).sum()
        })
}
