//! The envelope types and their JSON form.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How bad an event is. Ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something went well (`rotation.completed`).
    Success,
    /// Informational (`rotation.started`).
    Info,
    /// Needs attention soon (`cert.expiring`).
    Warning,
    /// Something failed (`rotation.failed`).
    Error,
    /// Something failed and people must act now.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Success,
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

    /// The lowercase name used in JSON and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Success => "success",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// Parses a severity name, case-insensitively. Common aliases (`warn`, `err`,
    /// `fatal`, `ok`, `information`) are accepted because publishers use them.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "success" | "ok" | "succeeded" => Some(Severity::Success),
            "info" | "information" | "informational" | "notice" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" | "err" | "failure" => Some(Severity::Error),
            "critical" | "crit" | "fatal" | "emergency" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The CertifyClouds colour for this severity, as `#RRGGBB`.
    pub fn color_hex(self) -> &'static str {
        match self {
            Severity::Critical | Severity::Error => "#EF4444",
            Severity::Warning => "#F97316",
            Severity::Success => "#22C55E",
            Severity::Info => "#3B82F6",
        }
    }

    /// True for `error` and `critical`: the events that page people and get mentions.
    pub fn is_failure(self) -> bool {
        self >= Severity::Error
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One fact about the event, shown as a Slack field, a Teams fact or an email row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventField {
    /// The label (`Environment`).
    pub title: String,
    /// The value (`production`).
    pub value: String,
}

/// A link or an action button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The text shown (`Open runbook`).
    pub title: String,
    /// Where it points.
    pub url: String,
}

/// A Herald event, complete: every field a channel needs is present.
///
/// The JSON form is the event contract; its JSON Schema is committed as
/// `schemas/envelope.schema.json` and checked against these types by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Herald event envelope")]
pub struct Envelope {
    /// Unique event id; idempotency keys derive from it.
    pub id: String,
    /// Event type, `<domain>.<event>` (defaults to the NATS subject).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The emitting system (`dsops`, `headwind`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the event happened (defaults to the JetStream publish time).
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub time: DateTime<Utc>,
    /// How bad it is (derived from the type when absent).
    pub severity: Severity,
    /// One-line human title (derived when absent: `Rotation Failed: postgres-prod`).
    pub title: String,
    /// Human summary (derived when absent).
    pub summary: String,
    /// What the event is about: a service, deployment, secret or certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Where the resource lives (`production`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Ordered facts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<EventField>,
    /// Links shown with the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Links shown as buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Link>,
    /// A key tying lifecycle events together (a rotation run, an update request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<String>,
    /// The publisher's original payload, untouched.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Envelope {
    /// The value of a top-level text attribute by name, as used by `when` matchers
    /// and templates: `type`, `source`, `severity`, `resource`, `environment`,
    /// `correlation`, `title`; `fields.<title>` reads a fact.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        match name {
            "id" => Some(&self.id),
            "type" => Some(&self.event_type),
            "source" => self.source.as_deref(),
            "severity" => Some(self.severity.as_str()),
            "resource" => self.resource.as_deref(),
            "environment" => self.environment.as_deref(),
            "correlation" => self.correlation.as_deref(),
            "title" => Some(&self.title),
            other => {
                let fact = other.strip_prefix("fields.")?;
                self.field(fact)
            }
        }
    }

    /// The value of the first fact whose title matches `title`, case-insensitively.
    pub fn field(&self, title: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.title.eq_ignore_ascii_case(title))
            .map(|f| f.value.as_str())
    }

    /// The event name after the domain: `failed` for `rotation.failed`.
    pub fn event_name(&self) -> &str {
        self.event_type
            .rsplit_once('.')
            .map_or(self.event_type.as_str(), |(_, e)| e)
    }
}
