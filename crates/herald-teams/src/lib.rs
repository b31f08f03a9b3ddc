//! Herald's Microsoft Teams channel: events as cards in a Teams channel.
//!
//! By default a card is an Adaptive Card 1.5 posted to a Workflows (Power
//! Automate) webhook; `format: messagecard` posts CertifyClouds' legacy
//! connector MessageCard instead. Both show the headline in the severity's
//! colour, the facts in order and a button per link and action (Headwind's
//! Approve and Reject), escaped for Teams' Markdown and kept under Teams' 28 KB.
//! Connectors report failures inside a `200` (`HTTP error 429`); they are read.
//!
//! # Layout
//! - `config`: the destination keys ([`TeamsSettings`]).
//! - `render`: from event to body, within the size limit.
//! - `adaptive`: the Adaptive Card message.
//! - `messagecard`: the connector MessageCard.
//! - `escape`: Markdown escaping for Teams.
//! - `request`: a rendered request ([`TeamsRequest`]) and URL redaction.
//! - `send`: the HTTP call and how Teams' answers are read.

mod adaptive;
mod config;
mod escape;
mod messagecard;
mod render;
mod request;
mod send;

pub use adaptive::{CONTENT_TYPE as ADAPTIVE_CONTENT_TYPE, VERSION as ADAPTIVE_VERSION};
pub use config::{Format, TeamsSettings, WebhookType};
pub use render::MAX_BODY_BYTES;
pub use request::{Endpoint, TeamsRequest, redact_url};

use std::time::Duration;

use herald_core::channel::{BuildError, ChannelDefaults, RenderError, RequestPreview};
use herald_core::config::{Destination, RateLimitConfig};
use herald_core::outcome::Outcome;
use herald_core::{Channel, DeliveryContext, Envelope};

/// A built Teams destination.
#[derive(Debug)]
pub struct Teams {
    client: herald_core::http::HttpClient,
    url: Endpoint,
    kind: WebhookType,
    format: Format,
    prefix: Option<String>,
}

impl Teams {
    /// The card format in use.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Who answers at the URL (`auto` resolved).
    pub fn webhook_type(&self) -> WebhookType {
        self.kind
    }
}

impl Channel for Teams {
    const NAME: &'static str = "teams";
    const ENV_HINT: &'static str =
        " (or TEAMS_WEBHOOK_URL, with optional TEAMS_FORMAT, TEAMS_MESSAGE_PREFIX, HERALD_EVENTS)";

    type Settings = TeamsSettings;
    type Payload = TeamsRequest;

    /// 10 s per request; 4 requests per second per webhook (the connector
    /// threshold Microsoft documents), one at a time.
    fn defaults() -> ChannelDefaults {
        ChannelDefaults {
            timeout: Duration::from_secs(10),
            rate_limit: Some(RateLimitConfig {
                per_second: 4.0,
                burst: 1,
            }),
        }
    }

    fn env_destination(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        get("TEAMS_WEBHOOK_URL")?;
        let mut d = herald_core::env::destination("teams", get);
        d.insert(
            "url".into(),
            herald_core::env::from_env("TEAMS_WEBHOOK_URL"),
        );
        if let Some(f) = get("TEAMS_FORMAT") {
            d.insert("format".into(), f.into());
        }
        if let Some(p) = get("TEAMS_MESSAGE_PREFIX") {
            d.insert("message_prefix".into(), p.into());
        }
        Some(d)
    }

    fn build(
        destination: &Destination,
        settings: TeamsSettings,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let url = settings
            .url
            .resolve()
            .map_err(|e| BuildError::new("url", e.to_string()))?;
        let parsed = herald_core::endpoint::web_url("url", url.expose())?;
        let kind = settings
            .webhook_type
            .resolve(parsed.host_str().unwrap_or_default());
        Ok(Self {
            client: herald_core::http::client(Self::NAME, destination, timeout)?,
            url: Endpoint::new(parsed),
            kind,
            format: settings.format,
            prefix: settings.message_prefix,
        })
    }

    fn render(
        &self,
        event: &Envelope,
        _ctx: &DeliveryContext,
    ) -> Result<TeamsRequest, RenderError> {
        let body = render::body(self.format, event, self.prefix.as_deref()).map_err(RenderError)?;
        Ok(TeamsRequest { body: body.into() })
    }

    async fn send(&self, payload: &TeamsRequest, _ctx: &DeliveryContext) -> Outcome {
        send::send(&self.client, &self.url, self.kind, payload).await
    }

    fn preview(&self, payload: &TeamsRequest) -> RequestPreview {
        RequestPreview {
            method: "POST".to_owned(),
            target: redact_url(self.url.expose()),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: String::from_utf8_lossy(&payload.body).into_owned(),
        }
    }

    fn hosts(&self) -> Vec<String> {
        self.url
            .expose()
            .host_str()
            .map(str::to_owned)
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests;
