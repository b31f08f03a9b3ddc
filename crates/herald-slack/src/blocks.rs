//! Block Kit: a header, the summary, the facts as section fields, the mentions,
//! link buttons and a context line.
//!
//! Limits kept (Slack's Block Kit reference): 50 blocks a message, 150 characters
//! of header, 3,000 of section text, 10 fields a section and 2,000 characters a
//! field, 25 buttons of 75 characters with URLs of 3,000. Event text is escaped and
//! sent with `verbatim: true`; only the mentions block is parsed by Slack.

use herald_core::present::View;
use serde_json::{Value, json};

use crate::mrkdwn::{fit, len, safe_url};

/// Blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Characters of a header block.
pub const HEADER_TEXT: usize = 150;
/// Characters of a section's text.
pub const SECTION_TEXT: usize = 3000;
/// Fields in one section.
pub const SECTION_FIELDS: usize = 10;
/// Characters of one section field.
pub const FIELD_TEXT: usize = 2000;
/// Buttons in one actions block.
pub const BUTTONS: usize = 25;
/// Characters of a button's label.
pub const BUTTON_TEXT: usize = 75;
/// Characters of a field's label, within [`FIELD_TEXT`].
const FIELD_LABEL: usize = 200;

/// The blocks for one event. `mentions` are already in Slack syntax.
pub(crate) fn blocks(view: &View<'_>, mentions: &[String]) -> Vec<Value> {
    let mut head = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": fit(&view.headline(), HEADER_TEXT), "emoji": true},
    })];
    if !view.summary.trim().is_empty() {
        head.push(section(&fit(view.summary, SECTION_TEXT)));
    }
    let mut tail = Vec::new();
    if !mentions.is_empty() {
        tail.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": mentions.join(" ")},
        }));
    }
    let buttons = buttons(view);
    if !buttons.is_empty() {
        tail.push(json!({"type": "actions", "elements": buttons}));
    }
    tail.push(context(view));

    let sections = MAX_BLOCKS - head.len() - tail.len();
    let mut out = head;
    out.extend(fact_sections(view, sections));
    out.extend(tail);
    out
}

/// A section of escaped event text.
fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": true}})
}

/// The facts, ten to a section, in at most `sections` sections; when they do not
/// fit, the last field says how many were left out.
fn fact_sections(view: &View<'_>, sections: usize) -> Vec<Value> {
    let capacity = sections * SECTION_FIELDS;
    let mut fields: Vec<Value> = Vec::new();
    for (i, fact) in view.facts.iter().enumerate() {
        let left = view.facts.len() - i;
        if fields.len() + 1 == capacity && left > 1 {
            fields.push(mrkdwn(&format!("_{left} more not shown_")));
            break;
        }
        let label = format!("*{}*\n", fit(fact.title, FIELD_LABEL));
        let value = fit(fact.value, FIELD_TEXT - len(&label));
        fields.push(mrkdwn(&format!("{label}{value}")));
    }
    fields
        .chunks(SECTION_FIELDS)
        .map(|chunk| json!({"type": "section", "fields": chunk}))
        .collect()
}

fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
}

/// One link button per link and action with a web URL, at most [`BUTTONS`].
/// Actions that approve look primary; those that reject look dangerous.
fn buttons(view: &View<'_>) -> Vec<Value> {
    let links = view.links.iter().map(|l| (l, false));
    let actions = view.actions.iter().map(|l| (l, true));
    links
        .chain(actions)
        .filter_map(|(l, is_action)| safe_url(&l.url).map(|url| (l, url, is_action)))
        .take(BUTTONS)
        .enumerate()
        .map(|(i, (l, url, is_action))| {
            let mut b = json!({
                "type": "button",
                "action_id": format!("herald-link-{i}"),
                "text": {"type": "plain_text", "text": fit(&l.title, BUTTON_TEXT), "emoji": true},
                "url": url,
            });
            let t = l.title.to_ascii_lowercase();
            let style = if !is_action {
                None
            } else if t.contains("approve") {
                Some("primary")
            } else if t.contains("reject") || t.contains("deny") {
                Some("danger")
            } else {
                None
            };
            if let (Some(style), Some(obj)) = (style, b.as_object_mut()) {
                obj.insert("style".into(), json!(style));
            }
            b
        })
        .collect()
}

/// `dsops · rotation.completed · <time in the reader's zone>`.
fn context(view: &View<'_>) -> Value {
    let t = view.event.time;
    let when = format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        t.timestamp(),
        t.format("%Y-%m-%d %H:%M UTC")
    );
    json!({
        "type": "context",
        "elements": [mrkdwn(&format!("{} · {when}", fit(&view.footer, 1000)))],
    })
}
