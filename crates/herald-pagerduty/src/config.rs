//! The keys of a `channel: pagerduty` destination.

use herald_core::config::SecretRef;
use herald_core::envelope::Severity;
use serde::Deserialize;

/// PagerDuty's Events API v2 endpoint (US service region).
pub const US_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty's Events API v2 endpoint (EU service region).
pub const EU_EVENTS_URL: &str = "https://events.eu.pagerduty.com/v2/enqueue";

/// Settings of one PagerDuty destination (one service integration).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySettings {
    /// The Events API v2 integration key of the service (dsops'
    /// `integration_key`). A secret: write it as a reference.
    pub routing_key: SecretRef,
    /// Where events are posted. Default: `region`'s endpoint
    /// (`https://events.pagerduty.com/v2/enqueue`). Tests point it at a local server.
    #[serde(default)]
    pub events_url: Option<String>,
    /// `us` (default) or `eu`: picks the endpoint when `events_url` is not set.
    #[serde(default)]
    pub region: Option<Region>,
    /// The incident severity: `critical`, `error`, `warning` or `info`. Default:
    /// the event's own (`success` is sent as `info`).
    #[serde(default)]
    pub severity: Option<PdSeverity>,
    /// Resolve the incident of a correlation when a later event says it is over
    /// (a `success` event, or a type in `resolve_on`), with the same `dedup_key`
    /// and routing key. Default `false`: every event opens (or adds to) an incident.
    #[serde(default)]
    pub auto_resolve: bool,
    /// Event types that resolve under `auto_resolve` whatever their severity.
    /// Default: `rotation.completed`, `update.completed`, `update.rollback_completed`.
    #[serde(default = "default_resolve_on")]
    pub resolve_on: Vec<String>,
    /// Extra context added to every incident's custom details (`team`,
    /// `runbook`, ...); the event's own values win on a clash.
    #[serde(default)]
    pub custom_details: serde_json::Map<String, serde_json::Value>,
    /// `payload.source`. Default: `<source>-<domain>` of the event
    /// (`dsops-rotation`), or `herald-<domain>`.
    #[serde(default)]
    pub source: Option<String>,
    /// `payload.component`. Default: the event's resource.
    #[serde(default)]
    pub component: Option<String>,
    /// `payload.group`. Default: the event's environment.
    #[serde(default)]
    pub group: Option<String>,
    /// `payload.class`. Default: the event's type.
    #[serde(default)]
    pub class: Option<String>,
    /// The monitoring client named in the incident (`client`), if any.
    #[serde(default)]
    pub client: Option<String>,
    /// A link back to the client (`client_url`), if any.
    #[serde(default)]
    pub client_url: Option<String>,
}

fn default_resolve_on() -> Vec<String> {
    [
        "rotation.completed",
        "update.completed",
        "update.rollback_completed",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// PagerDuty service regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// `events.pagerduty.com`.
    Us,
    /// `events.eu.pagerduty.com`.
    Eu,
}

impl Region {
    /// The region's Events API v2 endpoint.
    pub fn events_url(self) -> &'static str {
        match self {
            Region::Us => US_EVENTS_URL,
            Region::Eu => EU_EVENTS_URL,
        }
    }
}

/// The severities PagerDuty accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PdSeverity {
    /// `critical`.
    Critical,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `info`.
    Info,
}

impl PdSeverity {
    /// The value PagerDuty expects.
    pub fn as_str(self) -> &'static str {
        match self {
            PdSeverity::Critical => "critical",
            PdSeverity::Error => "error",
            PdSeverity::Warning => "warning",
            PdSeverity::Info => "info",
        }
    }

    /// The PagerDuty severity of a Herald severity (`success` becomes `info`).
    pub fn of(severity: Severity) -> Self {
        match severity {
            Severity::Critical => PdSeverity::Critical,
            Severity::Error => PdSeverity::Error,
            Severity::Warning => PdSeverity::Warning,
            Severity::Info | Severity::Success => PdSeverity::Info,
        }
    }
}
