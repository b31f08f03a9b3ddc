//! The mail for one event, before any wire form: subject, priority, Message-ID,
//! and the plain-text and HTML parts. Pure: the time comes from the context.

use chrono::{DateTime, Utc};
use herald_core::envelope::Severity;
use herald_core::present::View;
use herald_core::text::truncate;
use herald_core::{DeliveryContext, Envelope};
use lettre::message::Mailbox;

use crate::config::{Priority, PrioritySettings};
use crate::header::{header_text, message_id};
use crate::{html, plain};

/// Characters of the event's title kept in the subject.
pub const SUBJECT_TITLE_CHARS: usize = 150;
/// Characters of the summary kept in the body.
pub const SUMMARY_CHARS: usize = 4000;
/// Characters of a fact's label kept.
pub const FACT_TITLE_CHARS: usize = 100;
/// Characters of a fact's value kept.
pub const FACT_VALUE_CHARS: usize = 1000;
/// Facts shown; a last line says how many more there were.
pub const MAX_FACTS: usize = 50;
/// Links and actions shown (each).
pub const MAX_LINKS: usize = 20;
/// Characters of a link's title kept.
pub const LINK_TITLE_CHARS: usize = 100;
/// Longest URL shown as a link; longer ones are left out.
pub const URL_BYTES: usize = 2000;
/// Characters of a header value taken from an event (`X-Herald-Event-Id`).
pub const HEADER_VALUE_CHARS: usize = 200;

/// A rendered mail, the same for every transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// `From`.
    pub from: Mailbox,
    /// `To`.
    pub to: Vec<Mailbox>,
    /// `Cc`.
    pub cc: Vec<Mailbox>,
    /// Blind copies: envelope recipients only.
    pub bcc: Vec<Mailbox>,
    /// `Reply-To`.
    pub reply_to: Option<Mailbox>,
    /// `Subject`, one line.
    pub subject: String,
    /// `Message-ID`, stable across retries: `<msg_…@from-domain>`.
    pub message_id: String,
    /// `Date`: the attempt's time.
    pub date: DateTime<Utc>,
    /// `X-Priority` / `Importance`.
    pub priority: Priority,
    /// The event id, header-safe.
    pub event_id: String,
    /// The event type, header-safe.
    pub event_type: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The addresses of a destination, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Addresses {
    pub(crate) from: Mailbox,
    pub(crate) to: Vec<Mailbox>,
    pub(crate) cc: Vec<Mailbox>,
    pub(crate) bcc: Vec<Mailbox>,
    pub(crate) reply_to: Option<Mailbox>,
}

/// Everything a destination needs to compose its mails.
#[derive(Debug, Clone)]
pub(crate) struct Composer {
    pub(crate) addresses: Addresses,
    pub(crate) subject_prefix: Option<String>,
    pub(crate) priority: PrioritySettings,
}

/// One fact, cut to the limits, raw (escape it for the target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) title: String,
    pub(crate) value: String,
}

/// A link that may be shown as one: http(s) only, within [`URL_BYTES`].
pub(crate) fn safe_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.as_str().len() > URL_BYTES {
        return None;
    }
    Some(parsed.to_string())
}

/// The body's facts: the view's (Environment first), then the event's time,
/// each cut to the limits; and how many were left out.
pub(crate) fn rows(view: &View<'_>) -> (Vec<Row>, usize) {
    let mut rows: Vec<Row> = view
        .facts
        .iter()
        .take(MAX_FACTS)
        .map(|f| Row {
            title: truncate(&one_line(f.title), FACT_TITLE_CHARS).into_owned(),
            value: truncate(&one_line(f.value), FACT_VALUE_CHARS).into_owned(),
        })
        .collect();
    let hidden = view.facts.len().saturating_sub(MAX_FACTS);
    let has_time = view
        .facts
        .iter()
        .any(|f| matches!(f.title.to_ascii_lowercase().as_str(), "time" | "timestamp"));
    if !has_time {
        rows.push(Row {
            title: "Time".to_owned(),
            value: format_time(view.event.time),
        });
    }
    (rows, hidden)
}

/// `2026-11-23 14:32:15 UTC`, as dsops writes it.
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Text on one line: every control character becomes a space.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Multi-line text with `\n` line ends only; other controls become spaces.
pub(crate) fn lines(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\n' => '\n',
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => ' ',
            c => c,
        })
        .collect()
}

impl Composer {
    /// The subject: `[dsops] Rotation Completed: postgres-prod (production)`.
    pub(crate) fn subject(&self, e: &Envelope) -> String {
        let prefix = match &self.subject_prefix {
            Some(p) => p.trim().to_owned(),
            None => e
                .source
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| format!("[{s}]"))
                .unwrap_or_default(),
        };
        let title = header_text(&e.title, SUBJECT_TITLE_CHARS);
        let mut subject = if prefix.is_empty() {
            title
        } else {
            format!("{} {title}", header_text(&prefix, 60))
        };
        if let Some(env) = e.environment.as_deref().map(str::trim)
            && !env.is_empty()
            && !e.title.contains(env)
        {
            subject.push_str(&format!(" ({})", header_text(env, 40)));
        }
        subject
    }

    /// The priority for this event's severity.
    pub(crate) fn priority(&self, severity: Severity) -> Priority {
        if severity.is_failure() {
            self.priority.on_failure
        } else if severity == Severity::Success {
            self.priority.on_success
        } else {
            self.priority.otherwise
        }
    }

    /// The whole mail for one event.
    pub(crate) fn compose(&self, e: &Envelope, ctx: &DeliveryContext) -> Mail {
        let view = View::new(e, None);
        let subject = self.subject(e);
        let a = &self.addresses;
        Mail {
            from: a.from.clone(),
            to: a.to.clone(),
            cc: a.cc.clone(),
            bcc: a.bcc.clone(),
            reply_to: a.reply_to.clone(),
            message_id: message_id(&ctx.idempotency_key, a.from.email.domain()),
            date: ctx.now,
            priority: self.priority(e.severity),
            event_id: header_text(&e.id, HEADER_VALUE_CHARS),
            event_type: header_text(&e.event_type, HEADER_VALUE_CHARS),
            text: plain::text(&view),
            html: html::html(&view, &subject),
            subject,
        }
    }
}
