//! Herald's Jira channel: events as Jira Cloud issues (REST v3).
//!
//! An event opens an issue in the destination's project, its description an
//! Atlassian Document Format document (headline, summary, a table of the facts,
//! links). Issue creation is not idempotent, so every issue carries a label
//! derived from the event's correlation (`herald-<hash>`): before creating,
//! Herald searches for an open issue with that label and comments on it
//! instead. A later `success` event of the correlation can move the issue
//! through a configured transition (`Done`). Retries never write twice: the
//! delivery's marker travels in the description and in comments, and a retry
//! looks for it first. The issue key is kept with the idempotency receipt.
//!
//! # Layout
//! - `config`: the destination keys ([`JiraSettings`]).
//! - `identity`: the de-duplication label of an event ([`label`]).
//! - `adf`: the Atlassian Document Format nodes Herald writes.
//! - `render`: summary, description and request bodies.
//! - `request`: a rendered delivery ([`IssuePlan`]).
//! - `api`: the REST calls (search, read, create, comment, transition).
//! - `classify`: Jira's error bodies and which failures break the destination.
//! - `state`: per-label notes (issue key, latest lifecycle state).
//! - `send`: one delivery, from search to write.

mod adf;
mod api;
mod classify;
mod config;
mod identity;
mod render;
mod request;
mod send;
mod state;

pub use config::{JiraSettings, PriorityMapping};
pub use identity::{IssueLabel, label};
pub use render::{DOCUMENT_CHARS, SUMMARY_CHARS};
pub use request::{IssuePlan, Kind};

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_core::channel::{BuildError, ChannelDefaults, RenderError, RequestPreview};
use herald_core::config::{Destination, RateLimitConfig};
use herald_core::envelope::Severity;
use herald_core::outcome::Outcome;
use herald_core::present::View;
use herald_core::{Channel, DeliveryContext, Envelope};
use reqwest::header::HeaderValue;

use render::IssueDefaults;

/// Fields Herald sets itself; `fields` may not name them.
const OWN_FIELDS: &[&str] = &[
    "project",
    "issuetype",
    "summary",
    "description",
    "labels",
    "priority",
];

/// A built Jira destination.
#[derive(Debug)]
pub struct Jira {
    client: herald_core::http::HttpClient,
    /// `Basic <base64(email:token)>`, marked sensitive.
    auth: HeaderValue,
    base: reqwest::Url,
    timeout: Duration,
    defaults: IssueDefaults,
    resolve_transition: Option<String>,
    comment_on_repeat: bool,
    /// Issue fields the settings chose (a 400 naming only these breaks the destination).
    chosen: Vec<String>,
}

fn resolve(field: &str, r: &herald_core::config::SecretRef) -> Result<String, BuildError> {
    r.resolve()
        .map(|s| s.expose().to_owned())
        .map_err(|e| BuildError::new(field, e.to_string()))
}

fn valid_project_key(k: &str) -> bool {
    k.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && k.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

impl Channel for Jira {
    const NAME: &'static str = "jira";
    const ENV_HINT: &'static str = " (or JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN and JIRA_PROJECT_KEY, with optional JIRA_ISSUE_TYPE, HERALD_EVENTS)";
    const TEST_NOTICE: &'static str = "creates a real issue in the destination's Jira project (or comments on the open one): use a test project while setting up";

    type Settings = JiraSettings;
    type Payload = IssuePlan;

    /// 20 s for a whole delivery (a search, then a create, or a comment and a
    /// transition); one delivery a second, bursts of 5, under Jira Cloud's
    /// per-tenant burst limits for API-token traffic.
    fn defaults() -> ChannelDefaults {
        ChannelDefaults {
            timeout: Duration::from_secs(20),
            rate_limit: Some(RateLimitConfig {
                per_second: 1.0,
                burst: 5,
            }),
        }
    }

    fn env_destination(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let base_url = get("JIRA_BASE_URL")?;
        let project_key = get("JIRA_PROJECT_KEY")?;
        let mut d = herald_core::env::destination("jira", get);
        d.insert("base_url".into(), base_url.into());
        d.insert("email".into(), herald_core::env::from_env("JIRA_EMAIL"));
        d.insert(
            "api_token".into(),
            herald_core::env::from_env("JIRA_API_TOKEN"),
        );
        d.insert("project_key".into(), project_key.into());
        if let Some(t) = get("JIRA_ISSUE_TYPE") {
            d.insert("issue_type".into(), t.into());
        }
        Some(d)
    }

    fn build(
        destination: &Destination,
        settings: JiraSettings,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let base = herald_core::endpoint::web_url("base_url", settings.base_url.trim())?;
        if base.cannot_be_a_base() {
            return Err(BuildError::new(
                "base_url",
                "expected the site's URL, such as https://example.atlassian.net",
            ));
        }
        if base.query().is_some()
            || base.fragment().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(BuildError::new(
                "base_url",
                "the site URL takes no query, fragment or credentials (use `email` and `api_token`)",
            ));
        }
        let email = resolve("email", &settings.email)?;
        let token = resolve("api_token", &settings.api_token)?;
        let mut auth = HeaderValue::from_str(&format!(
            "Basic {}",
            STANDARD.encode(format!("{email}:{token}"))
        ))
        .map_err(|_| BuildError::new("api_token", "not a valid header value"))?;
        auth.set_sensitive(true);
        if !valid_project_key(&settings.project_key) {
            return Err(BuildError::new(
                "project_key",
                "a project key is upper-case letters, digits and `_`, starting with a letter (`SEC`)",
            ));
        }
        if settings.issue_type.trim().is_empty() {
            return Err(BuildError::new("issue_type", "must not be empty"));
        }
        for (i, l) in settings.labels.iter().enumerate() {
            let field = format!("labels[{i}]");
            if l.is_empty() || l.chars().any(char::is_whitespace) {
                return Err(BuildError::new(
                    field,
                    "a label is one word: not empty, no spaces",
                ));
            }
            if l.chars().count() > 255 {
                return Err(BuildError::new(
                    field,
                    "at most 255 characters (Jira's limit)",
                ));
            }
        }
        if let Some(own) = settings
            .fields
            .keys()
            .find(|k| OWN_FIELDS.contains(&k.as_str()))
        {
            return Err(BuildError::new(
                format!("fields.{own}"),
                "Herald sets this field itself (use `project_key`, `issue_type`, `labels` or `priority`)",
            ));
        }
        match &settings.priority {
            Some(PriorityMapping::Fixed(n)) if n.trim().is_empty() => {
                return Err(BuildError::new("priority", "must not be empty"));
            }
            Some(PriorityMapping::BySeverity(m)) if m.values().any(|n| n.trim().is_empty()) => {
                return Err(BuildError::new(
                    "priority",
                    "priority names must not be empty",
                ));
            }
            _ => {}
        }
        if settings
            .resolve_transition
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(BuildError::new("resolve_transition", "must not be empty"));
        }
        if settings
            .message_prefix
            .as_deref()
            .is_some_and(|p| p.chars().count() > 60)
        {
            return Err(BuildError::new("message_prefix", "at most 60 characters"));
        }
        let mut chosen: Vec<String> = ["project", "issuetype", "labels", "priority"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        chosen.extend(settings.fields.keys().cloned());
        let client = herald_core::http::client(Self::NAME, destination, timeout)?;
        Ok(Self {
            client,
            auth,
            base,
            timeout,
            resolve_transition: settings.resolve_transition,
            comment_on_repeat: settings.comment_on_repeat,
            chosen,
            defaults: IssueDefaults {
                project_key: settings.project_key,
                issue_type: settings.issue_type,
                labels: settings.labels,
                priority: settings.priority,
                fields: settings.fields,
                message_prefix: settings.message_prefix,
            },
        })
    }

    fn render(&self, event: &Envelope, ctx: &DeliveryContext) -> Result<IssuePlan, RenderError> {
        let label = identity::label(event, &ctx.idempotency_key);
        let kind = if self.resolve_transition.is_some()
            && event.severity == Severity::Success
            && label.shared
        {
            Kind::Resolve
        } else {
            Kind::Raise
        };
        let view = View::new(event, self.defaults.message_prefix.as_deref());
        let summary = render::summary(&view);
        let document = render::document(&view, &ctx.idempotency_key);
        Ok(IssuePlan {
            kind,
            create: render::create_body(
                &self.defaults,
                event,
                &summary,
                document.clone(),
                &label.value,
            ),
            comment: render::comment_body(document),
            summary,
            label: label.value,
            marker: ctx.idempotency_key.clone(),
            event_time: event.time,
        })
    }

    async fn send(&self, payload: &IssuePlan, ctx: &DeliveryContext) -> Outcome {
        let api = api::Api {
            client: &self.client,
            base: &self.base,
            auth: &self.auth,
            deadline: tokio::time::Instant::now() + self.timeout,
            chosen: &self.chosen,
        };
        let policy = send::Policy {
            project_key: &self.defaults.project_key,
            comment_on_repeat: self.comment_on_repeat,
            resolve_transition: self.resolve_transition.as_deref(),
        };
        send::send(&api, &policy, payload, ctx).await
    }

    /// The request that writes: the create (sent when no open issue has the
    /// label), or for a resolve the comment on the open issue.
    fn preview(&self, payload: &IssuePlan) -> RequestPreview {
        let base = self.base.as_str().trim_end_matches('/');
        let (target, body) = match payload.kind {
            Kind::Raise => (
                format!(
                    "{base}/rest/api/3/issue (unless an open issue of {project} is labelled {label}: then a comment on it)",
                    project = self.defaults.project_key,
                    label = payload.label
                ),
                &payload.create,
            ),
            Kind::Resolve => (
                format!(
                    "{base}/rest/api/3/issue/<the open issue labelled {}>/comment, then the transition `{}`",
                    payload.label,
                    self.resolve_transition.as_deref().unwrap_or_default()
                ),
                &payload.comment,
            ),
        };
        RequestPreview {
            method: "POST".into(),
            target,
            headers: vec![
                ("authorization".into(), "Basic <redacted>".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: serde_json::to_string(body).unwrap_or_default(),
        }
    }

    fn hosts(&self) -> Vec<String> {
        self.base
            .host_str()
            .map(str::to_owned)
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests;
