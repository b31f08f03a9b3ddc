//! Herald's Slack channel: events as Slack messages, through an incoming webhook
//! or the Web API.
//!
//! Two formats: Block Kit (`blocks`, the default: a header, the summary, the facts
//! as fields, the mentions, link buttons, a context line and a `text` fallback)
//! and a legacy attachment (`attachments`, CertifyClouds' format). Event text is
//! escaped so it can never mention, ping or link, and cut to Slack's limits with
//! `…`. With a bot token, lifecycle events that share a `correlation` are threaded
//! under the first one, whose message is edited to show the latest status.
//!
//! # Layout
//! - `config`: the destination keys ([`SlackSettings`], [`Format`]).
//! - `mention`: configured mentions in Slack syntax ([`slack_mention`]).
//! - [`mrkdwn`]: escaping, cutting to limits, links.
//! - `blocks`: the Block Kit message.
//! - [`attachments`]: the legacy attachment, shared with Discord's Slack-compatible webhooks.
//! - `render`: the message in either format, with the sender overrides.
//! - `request`: a rendered message ([`SlackRequest`]).
//! - `send`: incoming-webhook sends and their classification.
//! - `api`: Web API calls and their classification.
//! - `thread`: Web API sends, and threads of lifecycle events kept in memory.

mod api;
pub mod attachments;
mod blocks;
mod config;
mod mention;
pub mod mrkdwn;
mod render;
mod request;
mod send;
mod thread;

pub use api::{API_BROKEN, API_RETRYABLE, UPDATE_SKIPPED};
pub use blocks::{
    BUTTON_TEXT, BUTTONS, FIELD_TEXT, HEADER_TEXT, MAX_BLOCKS, SECTION_FIELDS, SECTION_TEXT,
};
pub use config::{DEFAULT_API_URL, Format, SlackSettings};
pub use mention::slack_mention;
pub use render::MESSAGE_TEXT;
pub use request::{Endpoint, SlackRequest, ThreadKey};
pub use send::{WEBHOOK_BROKEN, WEBHOOK_PERMANENT};

use std::time::Duration;

use herald_core::channel::{BuildError, ChannelDefaults, RenderError, RequestPreview};
use herald_core::config::{Destination, RateLimitConfig, Secret, SecretRef};
use herald_core::endpoint::web_url;
use herald_core::outcome::Outcome;
use herald_core::present::View;
use herald_core::{Channel, DeliveryContext, Envelope};

use api::Api;
use mention::SlackMentions;
use render::Overrides;

/// Where a destination's messages go.
#[derive(Debug)]
enum Mode {
    /// An incoming webhook.
    Webhook(Endpoint),
    /// The Web API with a bot token.
    Api(Api),
}

/// A built Slack destination.
#[derive(Debug)]
pub struct Slack {
    client: herald_core::http::HttpClient,
    mode: Mode,
    format: Format,
    overrides: Overrides,
    prefix: Option<String>,
    mentions: SlackMentions,
    threads: bool,
}

fn resolve(field: &str, r: &SecretRef) -> Result<Secret, BuildError> {
    r.resolve()
        .map_err(|e| BuildError::new(field, e.to_string()))
}

impl Channel for Slack {
    const NAME: &'static str = "slack";
    const ENV_HINT: &'static str = " (or SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN with SLACK_CHANNEL; optional SLACK_CHANNEL, SLACK_USERNAME, SLACK_ICON_EMOJI, SLACK_MESSAGE_PREFIX, SLACK_FORMAT, SLACK_MENTIONS_ON_FAILURE, HERALD_EVENTS)";

    type Settings = SlackSettings;
    type Payload = SlackRequest;

    /// 10 s per request; one message a second per webhook with bursts of three
    /// (Slack: "no more than one message per second", short bursts allowed).
    fn defaults() -> ChannelDefaults {
        ChannelDefaults {
            timeout: Duration::from_secs(10),
            rate_limit: Some(RateLimitConfig {
                per_second: 1.0,
                burst: 3,
            }),
        }
    }

    fn env_destination(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        if get("SLACK_ENABLED").is_some_and(|v| v.eq_ignore_ascii_case("false")) {
            return None;
        }
        let mut d = serde_json::Map::new();
        if get("SLACK_WEBHOOK_URL").is_some() {
            d.insert(
                "webhook_url".into(),
                herald_core::env::from_env("SLACK_WEBHOOK_URL"),
            );
        } else if get("SLACK_BOT_TOKEN").is_some() {
            d.insert(
                "token".into(),
                herald_core::env::from_env("SLACK_BOT_TOKEN"),
            );
        } else {
            return None;
        }
        d.insert("name".into(), "slack".into());
        d.insert("channel".into(), "slack".into());
        d.insert("events".into(), herald_core::env::events(get).into());
        for (var, key) in [
            ("SLACK_CHANNEL", "slack_channel"),
            ("SLACK_USERNAME", "username"),
            ("SLACK_ICON_EMOJI", "icon_emoji"),
            ("SLACK_MESSAGE_PREFIX", "message_prefix"),
            ("SLACK_FORMAT", "format"),
        ] {
            if let Some(v) = get(var) {
                d.insert(key.into(), v.into());
            }
        }
        if let Some(v) = get("SLACK_MENTIONS_ON_FAILURE") {
            let list = herald_core::env::list(&v);
            d.insert("mentions".into(), serde_json::json!({"on_failure": list}));
        }
        Some(d)
    }

    fn build(
        destination: &Destination,
        settings: SlackSettings,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let client = herald_core::http::client(Self::NAME, destination, timeout)?;
        let mode = match (&settings.webhook_url, &settings.token) {
            (Some(url), None) => {
                let url = resolve("webhook_url", url)?;
                Mode::Webhook(Endpoint::new(web_url("webhook_url", url.expose())?))
            }
            (None, Some(token)) => {
                let token = resolve("token", token)?;
                if settings
                    .slack_channel
                    .as_deref()
                    .is_none_or(|c| c.trim().is_empty())
                {
                    return Err(BuildError::new(
                        "slack_channel",
                        "the Web API mode (`token`) needs the `slack_channel` to post in",
                    ));
                }
                web_url("api_url", &settings.api_url)?;
                Mode::Api(Api::new(client.clone(), &settings.api_url, token))
            }
            (Some(_), Some(_)) => {
                return Err(BuildError::new(
                    "token",
                    "set `webhook_url` (incoming webhook) or `token` (Web API), not both",
                ));
            }
            (None, None) => {
                return Err(BuildError::new(
                    "webhook_url",
                    "set `webhook_url` (incoming webhook) or `token` with `slack_channel` (Web API)",
                ));
            }
        };
        if let Some(icon) = &settings.icon_emoji
            && !(icon.len() > 2 && icon.starts_with(':') && icon.ends_with(':'))
        {
            return Err(BuildError::new(
                "icon_emoji",
                "write an emoji code between colons, like `:rocket:`",
            ));
        }
        let mentions = SlackMentions::new(&settings.mentions)?;
        Ok(Self {
            client,
            mode,
            format: settings.format,
            overrides: Overrides {
                channel: settings.slack_channel.filter(|c| !c.trim().is_empty()),
                username: settings.username.filter(|u| !u.trim().is_empty()),
                icon_emoji: settings.icon_emoji,
            },
            prefix: settings.message_prefix,
            mentions,
            threads: settings.threads,
        })
    }

    fn render(
        &self,
        event: &Envelope,
        _ctx: &DeliveryContext,
    ) -> Result<SlackRequest, RenderError> {
        let view = View::new(event, self.prefix.as_deref());
        let mentions = self.mentions.for_event(event);
        let message = render::message(&view, &mentions, self.format, &self.overrides);
        let thread = match (&self.mode, event.correlation.as_deref()) {
            (Mode::Api(_), Some(c)) if self.threads && !c.trim().is_empty() => Some(ThreadKey {
                correlation: c.to_owned(),
                time: event.time,
                event_type: event.event_type.clone(),
            }),
            _ => None,
        };
        Ok(SlackRequest { message, thread })
    }

    async fn send(&self, payload: &SlackRequest, ctx: &DeliveryContext) -> Outcome {
        match &self.mode {
            Mode::Webhook(url) => send::send(&self.client, url, payload).await,
            Mode::Api(api) => thread::send(api, payload, ctx).await,
        }
    }

    fn preview(&self, payload: &SlackRequest) -> RequestPreview {
        let body = String::from_utf8_lossy(&payload.body()).into_owned();
        match &self.mode {
            Mode::Webhook(url) => RequestPreview {
                method: "POST".into(),
                target: redact_url(url.expose().as_str()),
                headers: vec![("content-type".into(), "application/json".into())],
                body,
            },
            Mode::Api(api) => RequestPreview {
                method: "POST".into(),
                target: api.url("chat.postMessage"),
                headers: vec![
                    ("authorization".into(), "Bearer <redacted>".into()),
                    (
                        "content-type".into(),
                        "application/json; charset=utf-8".into(),
                    ),
                ],
                body,
            },
        }
    }

    fn hosts(&self) -> Vec<String> {
        match &self.mode {
            Mode::Webhook(url) => url
                .expose()
                .host_str()
                .map(str::to_owned)
                .into_iter()
                .collect(),
            Mode::Api(api) => api.host().into_iter().collect(),
        }
    }
}

pub use herald_core::http::redact_url;

#[cfg(test)]
mod tests;
