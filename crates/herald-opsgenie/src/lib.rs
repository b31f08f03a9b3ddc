//! Herald's Opsgenie channel: events as Opsgenie alerts (Alert API v2).
//!
//! Every event opens an alert (`POST /v2/alerts`, `Authorization: GenieKey …`)
//! whose alias comes from the event's correlation, so repeats raise the open
//! alert's count instead of paging again; a later `success` event of the same
//! correlation closes it (`POST /v2/alerts/{alias}/close?identifierType=alias`).
//! Priorities follow severities (critical P1 … success P5) unless configured.
//! Opsgenie answers `202` and processes the request later; its `requestId` is
//! kept with the idempotency receipt.
//!
//! # Layout
//! - `config`: the destination keys ([`OpsgenieSettings`]).
//! - `identity`: the alias an event's alert is known by.
//! - `limits`: Opsgenie's field limits and the text helpers that keep them.
//! - `render`: the create and close bodies.
//! - `request`: a rendered request ([`AlertRequest`]).
//! - `state`: per-alias notes that make late lifecycle events harmless.
//! - `send`: the HTTP call and its classification.

mod config;
mod identity;
pub mod limits;
mod render;
mod request;
mod send;
mod state;

pub use config::{OpsgenieSettings, Priority, PrioritySetting, Region, Responder, ResponderKind};
pub use identity::{Alias, alias};
pub use request::{Action, AlertRequest};

use std::time::Duration;

use herald_core::channel::{BuildError, ChannelDefaults, RenderError, RequestPreview};
use herald_core::config::{Destination, RateLimitConfig};
use herald_core::envelope::Severity;
use herald_core::outcome::Outcome;
use herald_core::{Channel, DeliveryContext, Envelope};
use reqwest::header::HeaderValue;

use render::AlertDefaults;

/// A built Opsgenie destination.
#[derive(Debug)]
pub struct Opsgenie {
    client: herald_core::http::HttpClient,
    /// `GenieKey <key>`, marked sensitive.
    auth: HeaderValue,
    /// The API base URL (no trailing slash).
    base: reqwest::Url,
    defaults: AlertDefaults,
    close_on_success: bool,
}

fn too_long(field: &str, value: &str, max: usize) -> Result<(), BuildError> {
    if value.chars().count() > max {
        return Err(BuildError::new(
            field,
            format!("at most {max} characters (Opsgenie's limit)"),
        ));
    }
    Ok(())
}

fn base_url(settings: &OpsgenieSettings) -> Result<reqwest::Url, BuildError> {
    let (field, text) = match &settings.api_url {
        Some(u) => ("api_url", u.as_str()),
        None => ("region", settings.region.api_url()),
    };
    let url = herald_core::endpoint::web_url(field, text)?;
    if url.cannot_be_a_base() {
        return Err(BuildError::new(
            field,
            "expected the API's base URL, such as https://api.opsgenie.com",
        ));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(BuildError::new(
            field,
            "the API URL takes no query, fragment or credentials (the key goes in `api_key`)",
        ));
    }
    Ok(url)
}

impl Opsgenie {
    /// The URL of an action on `alias`.
    fn url(&self, action: Action, alias: &str) -> Result<reqwest::Url, RenderError> {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| RenderError("the API URL cannot take a path".into()))?;
            segments.pop_if_empty().extend(["v2", "alerts"]);
            if action == Action::Close {
                // Each segment is percent-encoded, `/` and `%` included.
                segments.extend([alias, "close"]);
            }
        }
        if action == Action::Close {
            url.set_query(Some("identifierType=alias"));
        }
        Ok(url)
    }
}

impl Channel for Opsgenie {
    const NAME: &'static str = "opsgenie";
    const ENV_HINT: &'static str =
        " (or OPSGENIE_API_KEY, with optional OPSGENIE_REGION, OPSGENIE_API_URL, HERALD_EVENTS)";
    const TEST_NOTICE: &'static str = "opens a real Opsgenie alert, which notifies the responders it is routed to; close it in Opsgenie afterwards";

    type Settings = OpsgenieSettings;
    type Payload = AlertRequest;

    /// 10 s per request; at most 5 requests a second (bursts of 10), well
    /// under Opsgenie's per-plan Alert API budgets, which are not published as
    /// fixed numbers.
    fn defaults() -> ChannelDefaults {
        ChannelDefaults {
            timeout: Duration::from_secs(10),
            rate_limit: Some(RateLimitConfig {
                per_second: 5.0,
                burst: 10,
            }),
        }
    }

    fn env_destination(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        get("OPSGENIE_API_KEY")?;
        let mut d = herald_core::env::destination("opsgenie", get);
        d.insert(
            "api_key".into(),
            herald_core::env::from_env("OPSGENIE_API_KEY"),
        );
        if let Some(r) = get("OPSGENIE_REGION") {
            d.insert("region".into(), r.to_ascii_lowercase().into());
        }
        if let Some(u) = get("OPSGENIE_API_URL") {
            d.insert("api_url".into(), u.into());
        }
        Some(d)
    }

    fn build(
        destination: &Destination,
        settings: OpsgenieSettings,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let key = settings
            .api_key
            .resolve()
            .map_err(|e| BuildError::new("api_key", e.to_string()))?;
        let mut auth = HeaderValue::from_str(&format!("GenieKey {}", key.expose()))
            .map_err(|_| BuildError::new("api_key", "not a valid header value"))?;
        auth.set_sensitive(true);
        let base = base_url(&settings)?;
        if settings.responders.len() > limits::RESPONDERS {
            return Err(BuildError::new(
                "responders",
                format!("at most {} responders", limits::RESPONDERS),
            ));
        }
        for (i, r) in settings.responders.iter().enumerate() {
            r.check()
                .map_err(|m| BuildError::new(format!("responders[{i}]"), m))?;
        }
        if settings.tags.len() > limits::TAGS {
            return Err(BuildError::new(
                "tags",
                format!("at most {} tags", limits::TAGS),
            ));
        }
        for (i, t) in settings.tags.iter().enumerate() {
            let field = format!("tags[{i}]");
            if t.trim().is_empty() {
                return Err(BuildError::new(field, "a tag must not be empty"));
            }
            too_long(&field, t, limits::TAG)?;
        }
        let fixed: usize = settings
            .details
            .iter()
            .map(|(k, v)| k.chars().count() + v.chars().count())
            .sum();
        if settings.details.keys().any(|k| k.trim().is_empty()) {
            return Err(BuildError::new("details", "keys must not be empty"));
        }
        if fixed > limits::DETAILS / 2 {
            return Err(BuildError::new(
                "details",
                format!(
                    "keys and values add up to {fixed} characters; keep them under {} so the event's facts fit in Opsgenie's {}",
                    limits::DETAILS / 2,
                    limits::DETAILS
                ),
            ));
        }
        for (field, value, max) in [
            ("entity", &settings.entity, limits::ENTITY),
            ("source", &settings.source, limits::SOURCE),
            ("user", &settings.user, limits::USER),
            ("message_prefix", &settings.message_prefix, 60),
        ] {
            if let Some(v) = value {
                too_long(field, v, max)?;
            }
        }
        let client = herald_core::http::client(Self::NAME, destination, timeout)?;
        Ok(Self {
            client,
            auth,
            base,
            close_on_success: settings.close_on_success,
            defaults: AlertDefaults {
                priority: settings.priority,
                responders: settings.responders,
                tags: settings.tags,
                event_tags: settings.event_tags,
                details: settings.details.into_iter().collect(),
                entity: settings.entity,
                source: settings.source,
                user: settings.user,
                message_prefix: settings.message_prefix,
            },
        })
    }

    fn render(&self, event: &Envelope, ctx: &DeliveryContext) -> Result<AlertRequest, RenderError> {
        let alias = identity::alias(event, &ctx.idempotency_key);
        let action = if self.close_on_success && event.severity == Severity::Success && alias.shared
        {
            Action::Close
        } else {
            Action::Create
        };
        let body = match action {
            Action::Create => render::create_body(&self.defaults, event, &alias.value),
            Action::Close => render::close_body(&self.defaults, event),
        };
        let body = serde_json::to_vec(&body).map_err(|e| RenderError(e.to_string()))?;
        Ok(AlertRequest {
            action,
            url: self.url(action, &alias.value)?,
            alias: alias.value,
            body: body.into(),
            event_time: event.time,
        })
    }

    async fn send(&self, payload: &AlertRequest, ctx: &DeliveryContext) -> Outcome {
        send::send(&self.client, &self.auth, payload, ctx).await
    }

    fn preview(&self, payload: &AlertRequest) -> RequestPreview {
        RequestPreview {
            method: "POST".into(),
            target: payload.url.to_string(),
            headers: vec![
                ("authorization".into(), "GenieKey <redacted>".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: String::from_utf8_lossy(&payload.body).into_owned(),
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
