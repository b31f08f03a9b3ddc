//! The keys of a `channel: opsgenie` destination.

use std::collections::BTreeMap;

use herald_core::config::SecretRef;
use herald_core::envelope::Severity;
use serde::Deserialize;

/// Settings of one Opsgenie destination (an API integration's key).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsgenieSettings {
    /// The API integration key, sent as `Authorization: GenieKey <key>`.
    pub api_key: SecretRef,
    /// `us` (default, `https://api.opsgenie.com`) or `eu`
    /// (`https://api.eu.opsgenie.com`).
    #[serde(default)]
    pub region: Region,
    /// The API base URL; overrides `region` (a proxy, or a local server in tests).
    #[serde(default)]
    pub api_url: Option<String>,
    /// `P1` to `P5` for every alert, or a map from severity to priority that
    /// overrides the default mapping (critical P1, error P2, warning P3, info P4,
    /// success P5).
    #[serde(default)]
    pub priority: Option<PrioritySetting>,
    /// Teams, users, escalations or schedules the alert is routed to.
    #[serde(default)]
    pub responders: Vec<Responder>,
    /// Tags added to every alert (at most 50 characters each).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Also tag alerts with the event's type, severity, source and environment.
    #[serde(default = "yes")]
    pub event_tags: bool,
    /// Extra properties added to every alert's details (`team: platform`).
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    /// The alert's `entity`; the event's resource when absent.
    #[serde(default)]
    pub entity: Option<String>,
    /// The alert's `source`; the event's source (or `Herald`) when absent.
    #[serde(default)]
    pub source: Option<String>,
    /// The alert's `user` (display name of the request owner), if any.
    #[serde(default)]
    pub user: Option<String>,
    /// Text put before every alert message (`[PROD]`).
    #[serde(default)]
    pub message_prefix: Option<String>,
    /// Close the alert of a correlation when a `success` event arrives for it
    /// (`POST /v2/alerts/{alias}/close?identifierType=alias`) instead of opening one.
    #[serde(default = "yes")]
    pub close_on_success: bool,
}

fn yes() -> bool {
    true
}

/// Opsgenie's two API regions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// `https://api.opsgenie.com`.
    #[default]
    Us,
    /// `https://api.eu.opsgenie.com`.
    Eu,
}

impl Region {
    /// The API base URL of the region.
    pub fn api_url(self) -> &'static str {
        match self {
            Region::Us => "https://api.opsgenie.com",
            Region::Eu => "https://api.eu.opsgenie.com",
        }
    }
}

/// An alert priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum Priority {
    /// Critical.
    P1,
    /// High.
    P2,
    /// Moderate (Opsgenie's own default).
    P3,
    /// Low.
    P4,
    /// Informational.
    P5,
}

impl Priority {
    /// `P1` .. `P5`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
            Priority::P5 => "P5",
        }
    }

    /// The default priority of a severity.
    pub fn for_severity(severity: Severity) -> Self {
        match severity {
            Severity::Critical => Priority::P1,
            Severity::Error => Priority::P2,
            Severity::Warning => Priority::P3,
            Severity::Info => Priority::P4,
            Severity::Success => Priority::P5,
        }
    }
}

/// `priority:` as written: one priority, or overrides per severity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PrioritySetting {
    /// The same priority for every alert.
    Fixed(Priority),
    /// Severity → priority; severities not listed keep the default.
    BySeverity(BTreeMap<Severity, Priority>),
}

impl PrioritySetting {
    /// The priority of an event of `severity`.
    pub fn resolve(setting: Option<&Self>, severity: Severity) -> Priority {
        match setting {
            Some(PrioritySetting::Fixed(p)) => *p,
            Some(PrioritySetting::BySeverity(map)) => map
                .get(&severity)
                .copied()
                .unwrap_or_else(|| Priority::for_severity(severity)),
            None => Priority::for_severity(severity),
        }
    }
}

/// Who an alert is routed to: `{type: team, name: platform-oncall}`,
/// `{type: user, username: jane@example.com}`, or any type with an `id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Responder {
    /// `team`, `user`, `escalation` or `schedule`.
    #[serde(rename = "type")]
    pub kind: ResponderKind,
    /// The responder's id.
    #[serde(default)]
    pub id: Option<String>,
    /// The team, escalation or schedule name.
    #[serde(default)]
    pub name: Option<String>,
    /// The user's username (an e-mail address).
    #[serde(default)]
    pub username: Option<String>,
}

/// Kinds of responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponderKind {
    /// A team.
    Team,
    /// A user.
    User,
    /// An escalation policy.
    Escalation,
    /// An on-call schedule.
    Schedule,
}

impl ResponderKind {
    /// The name Opsgenie uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponderKind::Team => "team",
            ResponderKind::User => "user",
            ResponderKind::Escalation => "escalation",
            ResponderKind::Schedule => "schedule",
        }
    }
}

impl Responder {
    /// Checks that exactly one identifier is given, and the one the kind takes.
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let given = [&self.id, &self.name, &self.username]
            .iter()
            .filter(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
            .count();
        if given != 1 {
            return Err(format!(
                "a {} responder takes exactly one of `id`, {}",
                self.kind.as_str(),
                if self.kind == ResponderKind::User {
                    "`username`"
                } else {
                    "`name`"
                }
            ));
        }
        match self.kind {
            ResponderKind::User if self.name.is_some() => {
                Err("a user responder is named by `username` (or `id`), not `name`".into())
            }
            ResponderKind::Team | ResponderKind::Escalation | ResponderKind::Schedule
                if self.username.is_some() =>
            {
                Err(format!(
                    "a {} responder is named by `name` (or `id`), not `username`",
                    self.kind.as_str()
                ))
            }
            _ => Ok(()),
        }
    }
}
