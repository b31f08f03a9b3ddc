//! From an event to a request body within Teams' size limit.
//!
//! The event is read through the shared [`View`] (headline, facts in order,
//! links, action buttons), cut to the caps of a [`Plan`], then handed to the
//! format's builder ([`crate::adaptive`], [`crate::messagecard`]), which escapes
//! it. Teams refuses messages over about 28 KB, so when the body is larger than
//! [`MAX_BODY_BYTES`] it is built again with tighter caps; the last plan is small
//! enough for any event.

use herald_core::Envelope;
use herald_core::envelope::Severity;
use herald_core::present::View;
use herald_core::text::truncate;
use serde_json::Value;

use crate::config::Format;

/// The largest body sent: under Teams' ~28 KB message limit, with room to spare.
pub const MAX_BODY_BYTES: usize = 27 * 1024;

/// Most buttons on an Adaptive Card (Teams shows six).
const ADAPTIVE_BUTTONS: usize = 6;

/// Most buttons on a MessageCard.
const MESSAGECARD_BUTTONS: usize = 4;

/// Caps on each piece of text, in characters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    headline: usize,
    summary: usize,
    fact_title: usize,
    fact_value: usize,
    facts: usize,
    footer: usize,
    button_title: usize,
    url: usize,
}

/// Tried in order until the body fits.
const PLANS: [Plan; 4] = [
    Plan {
        headline: 500,
        summary: 6000,
        fact_title: 200,
        fact_value: 2000,
        facts: 40,
        footer: 300,
        button_title: 80,
        url: 2048,
    },
    Plan {
        headline: 300,
        summary: 2000,
        fact_title: 100,
        fact_value: 500,
        facts: 25,
        footer: 200,
        button_title: 80,
        url: 2048,
    },
    Plan {
        headline: 200,
        summary: 1000,
        fact_title: 80,
        fact_value: 200,
        facts: 15,
        footer: 150,
        button_title: 60,
        url: 1024,
    },
    Plan {
        headline: 150,
        summary: 400,
        fact_title: 40,
        fact_value: 100,
        facts: 8,
        footer: 100,
        button_title: 40,
        url: 512,
    },
];

/// One fact, raw and cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fact {
    pub(crate) title: String,
    pub(crate) value: String,
}

/// A button opening a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Button {
    /// The label, plain text (see [`crate::escape::plain`]) and cut.
    pub(crate) title: String,
    /// An http(s) URL, normalised (so `<` or spaces are percent-encoded).
    pub(crate) url: String,
    /// `positive` for approvals, `destructive` for rejections.
    pub(crate) style: Option<&'static str>,
}

/// What a card shows, raw (not escaped) and cut to a plan.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    /// `❌ [PROD] Rotation Failed: postgres-prod`.
    pub(crate) headline: String,
    /// `Rotation Failed: postgres-prod` (no mark, no prefix).
    pub(crate) title: String,
    /// The event's summary.
    pub(crate) summary: String,
    /// Environment first, then the event's fields; a last `…` fact says how
    /// many were left out.
    pub(crate) facts: Vec<Fact>,
    /// Action buttons first (approve, reject), then links.
    pub(crate) buttons: Vec<Button>,
    /// `dsops · rotation.failed · 2026-11-23 14:30 UTC`.
    pub(crate) footer: String,
    /// The event's severity.
    pub(crate) severity: Severity,
    /// `EF4444`.
    pub(crate) color_bare: &'static str,
}

impl Content {
    fn new(view: &View<'_>, plan: Plan, max_buttons: usize) -> Self {
        let cut = |s: &str, n: usize| truncate(s, n).into_owned();
        let mut facts: Vec<Fact> = view
            .facts
            .iter()
            .take(plan.facts)
            .map(|f| Fact {
                title: cut(f.title, plan.fact_title),
                value: cut(f.value, plan.fact_value),
            })
            .collect();
        if view.facts.len() > plan.facts {
            let hidden = view.facts.len() - plan.facts;
            facts.push(Fact {
                title: "…".to_owned(),
                value: format!("{hidden} more not shown"),
            });
        }
        let buttons = view
            .actions
            .iter()
            .chain(view.links)
            .filter_map(|l| {
                let url = web_url(&l.url)?;
                if url.chars().count() > plan.url {
                    return None;
                }
                let label = crate::escape::plain(&l.title);
                let title = if label.is_empty() {
                    "Open".to_owned()
                } else {
                    cut(&label, plan.button_title)
                };
                Some(Button {
                    style: button_style(&title),
                    title,
                    url,
                })
            })
            .take(max_buttons)
            .collect();
        let when = view.event.time.format("%Y-%m-%d %H:%M UTC");
        Self {
            headline: cut(&view.headline(), plan.headline),
            title: cut(view.title, plan.headline),
            summary: cut(view.summary, plan.summary),
            facts,
            buttons,
            footer: cut(&format!("{} · {when}", view.footer), plan.footer),
            severity: view.event.severity,
            color_bare: view.color_bare(),
        }
    }
}

/// The URL as Teams should open it, when it is an absolute http(s) URL.
fn web_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some()).then(|| url.to_string())
}

/// Approve buttons look positive, reject buttons destructive.
fn button_style(title: &str) -> Option<&'static str> {
    let t = title.to_lowercase();
    if t.starts_with("approve") {
        Some("positive")
    } else if t.starts_with("reject") {
        Some("destructive")
    } else {
        None
    }
}

/// The request body for `event`: the first plan whose body fits.
///
/// # Errors
/// A message when even the tightest plan does not fit (it always does; the
/// check keeps the limit a guarantee).
pub(crate) fn body(
    format: Format,
    event: &Envelope,
    prefix: Option<&str>,
) -> Result<Vec<u8>, String> {
    let view = View::new(event, prefix);
    let max_buttons = match format {
        Format::Adaptive => ADAPTIVE_BUTTONS,
        Format::MessageCard => MESSAGECARD_BUTTONS,
    };
    let mut last = 0;
    for plan in PLANS {
        let content = Content::new(&view, plan, max_buttons);
        let value: Value = match format {
            Format::Adaptive => crate::adaptive::message(&content),
            Format::MessageCard => crate::messagecard::card(&content),
        };
        let bytes = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
        if bytes.len() <= MAX_BODY_BYTES {
            return Ok(bytes);
        }
        last = bytes.len();
    }
    Err(format!(
        "the card is {last} bytes even cut to the tightest plan; Teams takes at most {MAX_BODY_BYTES}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_web_urls_become_buttons() {
        assert_eq!(
            web_url("https://example.com/approve?id=1&x=<y>").as_deref(),
            Some("https://example.com/approve?id=1&x=%3Cy%3E")
        );
        assert!(web_url("javascript:alert(1)").is_none());
        assert!(web_url("/relative").is_none());
        assert!(web_url("mailto:a@example.com").is_none());
        assert!(web_url("ftp://example.com/x").is_none());
    }

    #[test]
    fn approvals_get_button_styles() {
        assert_eq!(button_style("Approve"), Some("positive"));
        assert_eq!(button_style("Reject update"), Some("destructive"));
        assert_eq!(button_style("Runbook"), None);
        assert_eq!(button_style("<@U123> Approve `now`"), None);
    }
}
