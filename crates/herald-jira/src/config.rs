//! The keys of a `channel: jira` destination.

use std::collections::BTreeMap;

use herald_core::config::SecretRef;
use herald_core::envelope::Severity;
use serde::Deserialize;

/// Settings of one Jira destination (a project on a Jira Cloud site).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSettings {
    /// The site, `https://<company>.atlassian.net` (a local server in tests).
    pub base_url: String,
    /// The Atlassian account's e-mail address (basic auth user).
    pub email: SecretRef,
    /// An Atlassian API token of that account (basic auth password).
    pub api_token: SecretRef,
    /// The project issues are created in (`SEC`).
    pub project_key: String,
    /// The issue type created (default `Task`).
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// Labels put on every issue (no spaces), beside Herald's `herald-<hash>`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// A Jira priority name for every issue, or a map from severity to priority
    /// name (`{critical: Highest, error: High}`); severities not listed, and
    /// every issue when absent, get the project's default priority.
    #[serde(default)]
    pub priority: Option<PriorityMapping>,
    /// Further fields of the created issue, as Jira's REST API takes them
    /// (`customfield_10010: {value: Security}`, `components: [{name: vault}]`).
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The workflow transition (by name, `Done`) applied to the open issue of a
    /// correlation when a `success` event arrives for it. None: success events
    /// are commented like any other.
    #[serde(default)]
    pub resolve_transition: Option<String>,
    /// Comment on the open issue of a correlation when another event arrives
    /// for it (default); when false, such events leave the issue untouched.
    #[serde(default = "yes")]
    pub comment_on_repeat: bool,
    /// Text put before every issue summary (`[PROD]`).
    #[serde(default)]
    pub message_prefix: Option<String>,
}

fn default_issue_type() -> String {
    "Task".to_owned()
}

fn yes() -> bool {
    true
}

/// `priority:` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PriorityMapping {
    /// One priority name for every issue.
    Fixed(String),
    /// Severity → priority name.
    BySeverity(BTreeMap<Severity, String>),
}

impl PriorityMapping {
    /// The priority name for an event of `severity`, if any.
    pub fn for_severity(&self, severity: Severity) -> Option<&str> {
        match self {
            PriorityMapping::Fixed(name) => Some(name),
            PriorityMapping::BySeverity(map) => map.get(&severity).map(String::as_str),
        }
    }
}
