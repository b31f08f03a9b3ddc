//! The message every channel shows, before any markup: the shared reading of an
//! envelope that keeps Slack, Teams, Discord, email and incident texts alike.
//!
//! `✅ [PROD] Rotation Completed: postgres-prod`, then the facts in order
//! (Environment first), then links and action buttons. Channels turn a [`View`]
//! into their own markup, escaping every piece of it (it is raw event text).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::envelope::{Envelope, Link, Severity};

/// The status mark of a severity, as the seed formats show it.
pub fn emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Success => "✅",
        Severity::Info => "ℹ️",
        Severity::Warning => "⚠️",
        Severity::Error => "❌",
        Severity::Critical => "🚨",
    }
}

/// One fact line (`Environment: production`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact<'a> {
    /// The label.
    pub title: &'a str,
    /// The value.
    pub value: &'a str,
}

/// An envelope read for display. Every text is raw: escape it for the target.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// The whole event.
    pub event: &'a Envelope,
    /// `✅`, `❌`, ...
    pub emoji: &'static str,
    /// The destination's `message_prefix` (`[PROD]`), if any.
    pub prefix: Option<&'a str>,
    /// The event's title (`Rotation Completed: postgres-prod`).
    pub title: &'a str,
    /// The event's summary.
    pub summary: &'a str,
    /// `Environment` (when the event names one and no field repeats it), then the
    /// event's fields in order.
    pub facts: Vec<Fact<'a>>,
    /// Links shown with the message.
    pub links: &'a [Link],
    /// Links shown as buttons (approve, reject, open runbook).
    pub actions: &'a [Link],
    /// The severity colour, `#RRGGBB`.
    pub color: &'static str,
    /// `dsops · rotation.failed`: where the event came from.
    pub footer: String,
}

impl<'a> View<'a> {
    /// Reads `event`; `prefix` is the destination's `message_prefix`.
    pub fn new(event: &'a Envelope, prefix: Option<&'a str>) -> Self {
        let mut facts = Vec::with_capacity(event.fields.len() + 1);
        if let Some(env) = event.environment.as_deref().filter(|e| !e.is_empty())
            && event.field("Environment").is_none()
        {
            facts.push(Fact {
                title: "Environment",
                value: env,
            });
        }
        facts.extend(event.fields.iter().map(|f| Fact {
            title: &f.title,
            value: &f.value,
        }));
        let footer = match &event.source {
            Some(s) if !s.is_empty() => format!("{s} · {}", event.event_type),
            _ => event.event_type.clone(),
        };
        Self {
            event,
            emoji: emoji(event.severity),
            prefix: prefix.filter(|p| !p.trim().is_empty()),
            title: &event.title,
            summary: &event.summary,
            facts,
            links: &event.links,
            actions: &event.actions,
            color: event.severity.color_hex(),
            footer,
        }
    }

    /// `✅ [PROD] Rotation Completed: postgres-prod`, raw.
    pub fn headline(&self) -> String {
        match self.prefix {
            Some(p) => format!("{} {} {}", self.emoji, p.trim(), self.title),
            None => format!("{} {}", self.emoji, self.title),
        }
    }

    /// The colour without its `#` (`EF4444`), as MessageCards want it.
    pub fn color_bare(&self) -> &'static str {
        self.color.trim_start_matches('#')
    }

    /// The colour as a number (`0xEF4444`), as Discord embeds want it.
    pub fn color_number(&self) -> u32 {
        u32::from_str_radix(self.color_bare(), 16).unwrap_or(0)
    }
}

/// Who to mention, chosen by the event's outcome or type. Values are written in
/// the channel's own terms (`@here`, `<@U123>`, a Discord role id); each channel
/// documents what it accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mentions {
    /// Mentioned on failures (`error` and `critical` events).
    #[serde(default)]
    pub on_failure: Vec<String>,
    /// Mentioned on successes (`success` events).
    #[serde(default)]
    pub on_success: Vec<String>,
    /// Mentioned on these event types (`rotation.rollback: ["@sre-team"]`), in
    /// addition to the above.
    #[serde(default)]
    pub events: BTreeMap<String, Vec<String>>,
}

impl Mentions {
    /// The mentions for `event`, each once, in configuration order.
    pub fn for_event(&self, event: &Envelope) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let by_outcome: &[String] = if event.severity.is_failure() {
            &self.on_failure
        } else if event.severity == Severity::Success {
            &self.on_success
        } else {
            &[]
        };
        let by_type = self.events.get(&event.event_type).into_iter().flatten();
        for m in by_outcome.iter().chain(by_type) {
            if !out.contains(&m.as_str()) {
                out.push(m);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::EventField;

    fn event(ty: &str, severity: Severity) -> Envelope {
        Envelope {
            id: "e1".into(),
            event_type: ty.into(),
            source: Some("dsops".into()),
            time: chrono::DateTime::UNIX_EPOCH,
            severity,
            title: "Rotation Completed: postgres-prod".into(),
            summary: "done".into(),
            resource: Some("postgres-prod".into()),
            environment: Some("production".into()),
            fields: vec![EventField {
                title: "Strategy".into(),
                value: "two-key".into(),
            }],
            links: vec![],
            actions: vec![],
            correlation: None,
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn the_headline_reads_like_the_seeds() {
        let e = event("rotation.completed", Severity::Success);
        let v = View::new(&e, Some("[PROD]"));
        assert_eq!(v.headline(), "✅ [PROD] Rotation Completed: postgres-prod");
        assert_eq!(v.facts[0].title, "Environment");
        assert_eq!(v.facts[1].value, "two-key");
        assert_eq!(v.footer, "dsops · rotation.completed");
        assert_eq!(v.color_number(), 0x22C55E);
        assert_eq!(
            View::new(&e, Some("  ")).headline(),
            "✅ Rotation Completed: postgres-prod"
        );
    }

    #[test]
    fn mentions_follow_the_outcome_and_type() {
        let m = Mentions {
            on_failure: vec!["@oncall".into(), "@sre".into()],
            on_success: vec!["@team".into()],
            events: [(
                "rotation.failed".to_owned(),
                vec!["@sre".into(), "@dba".into()],
            )]
            .into(),
        };
        let failed = event("rotation.failed", Severity::Error);
        assert_eq!(m.for_event(&failed), ["@oncall", "@sre", "@dba"]);
        assert_eq!(
            m.for_event(&event("rotation.completed", Severity::Success)),
            ["@team"]
        );
        assert!(
            m.for_event(&event("rotation.started", Severity::Info))
                .is_empty()
        );
    }
}
