//! The message for one event, in either format, with the destination's overrides.
//! Pure: no I/O, no clock.

use herald_core::present::View;
use serde_json::{Map, Value, json};

use crate::attachments::{AttachmentLimits, attachment};
use crate::blocks::blocks;
use crate::config::Format;
use crate::mrkdwn::{clip, escape, fit};

/// Characters of a message's `text` (Slack truncates longer ones).
pub const MESSAGE_TEXT: usize = 40_000;

/// Sender overrides written into every message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) channel: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) icon_emoji: Option<String>,
}

/// The message body (webhook body, or `chat.postMessage` arguments).
pub(crate) fn message(
    view: &View<'_>,
    mentions: &[String],
    format: Format,
    overrides: &Overrides,
) -> Map<String, Value> {
    let mut m = Map::new();
    for (key, value) in [
        ("channel", &overrides.channel),
        ("username", &overrides.username),
        ("icon_emoji", &overrides.icon_emoji),
    ] {
        if let Some(v) = value {
            m.insert(key.into(), json!(v));
        }
    }
    match format {
        Format::Blocks => {
            m.insert("text".into(), json!(fallback_text(view, mentions)));
            m.insert("blocks".into(), Value::Array(blocks(view, mentions)));
        }
        Format::Attachments => {
            // A top-level text shows above the attachment: only the mentions go there.
            if !mentions.is_empty() {
                m.insert("text".into(), json!(mentions.join(" ")));
            }
            let a = attachment(view, &AttachmentLimits::SLACK);
            m.insert("attachments".into(), Value::Array(vec![a]));
        }
    }
    // Event URLs are shown, never previewed.
    m.insert("unfurl_links".into(), json!(false));
    m.insert("unfurl_media".into(), json!(false));
    m
}

/// The notification text, as the seeds write it: the headline, a blank line, one
/// `Title: value` line per fact (the summary when there are none), then the
/// mentions. At most [`MESSAGE_TEXT`] characters.
pub(crate) fn fallback_text(view: &View<'_>, mentions: &[String]) -> String {
    let mut body = escape(&view.headline()).into_owned();
    if view.facts.is_empty() {
        if !view.summary.trim().is_empty() {
            body.push_str("\n\n");
            body.push_str(&fit(view.summary, MESSAGE_TEXT));
        }
    } else {
        body.push('\n');
        for f in &view.facts {
            body.push('\n');
            body.push_str(&fit(f.title, 200));
            body.push_str(": ");
            body.push_str(&fit(f.value, 2000));
        }
    }
    let tail = if mentions.is_empty() {
        String::new()
    } else {
        format!("\n\n{}", mentions.join(" "))
    };
    let mut text = clip(
        &body,
        MESSAGE_TEXT.saturating_sub(crate::mrkdwn::len(&tail)),
    )
    .into_owned();
    text.push_str(&tail);
    text
}
