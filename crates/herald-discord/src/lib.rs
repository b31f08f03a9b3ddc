//! Herald's Discord channel: events as Discord webhook messages.
//!
//! Native webhooks get one embed (title, description with links, fields, footer,
//! timestamp, colour by severity) with the mentions in `content` and
//! `allowed_mentions` letting exactly those ping; event text is Markdown-escaped
//! and cut to Discord's embed limits. A webhook URL ending in `/slack` (Discord's
//! Slack-compatible endpoint, as CertifyClouds documents) gets the Slack
//! attachments format from [`herald_slack::attachments`] instead. Every request
//! waits for the message (`?wait=true`); a spent rate-limit budget
//! (`X-RateLimit-Remaining: 0`) holds the destination until
//! `X-RateLimit-Reset-After`, and a 429's JSON `retry_after` is honoured.
//!
//! # Layout
//! - `config`: the destination keys ([`DiscordSettings`]).
//! - [`mention`]: configured mentions and `allowed_mentions`.
//! - [`markdown`]: escaping and cutting event text.
//! - [`embed`]: the native body and Discord's limits.
//! - `request`: the endpoint ([`Endpoint`], [`Flavor`]) and a rendered request.
//! - `send`: the HTTP call and its classification.

mod config;
pub mod embed;
pub mod markdown;
pub mod mention;
mod request;
mod send;

pub use config::DiscordSettings;
pub use request::{DiscordRequest, Endpoint, Flavor, redact_url};

use std::time::Duration;

use herald_core::channel::{BuildError, ChannelDefaults, RenderError, RequestPreview};
use herald_core::config::{Destination, RateLimitConfig};
use herald_core::outcome::Outcome;
use herald_core::present::View;
use herald_core::{Channel, DeliveryContext, Envelope};
use herald_slack::attachments::{AttachmentLimits, attachment};
use serde_json::{Map, Value, json};

use embed::Sender;
use mention::{DiscordMention, DiscordMentions};

/// Discord's embed limits, for the Slack-compatible endpoint's attachment (which
/// Discord turns into an embed).
pub const SLACK_COMPATIBLE_LIMITS: AttachmentLimits = AttachmentLimits {
    title: embed::TITLE,
    text: embed::DESCRIPTION,
    fields: embed::FIELDS,
    field_title: embed::FIELD_NAME,
    field_value: embed::FIELD_VALUE,
    footer: embed::FOOTER,
    total: embed::EMBED_TOTAL,
};

/// A built Discord destination.
#[derive(Debug)]
pub struct Discord {
    client: herald_core::http::HttpClient,
    endpoint: Endpoint,
    sender: Sender,
    prefix: Option<String>,
    mentions: DiscordMentions,
}

impl Channel for Discord {
    const NAME: &'static str = "discord";
    const ENV_HINT: &'static str = " (or DISCORD_WEBHOOK_URL, with optional DISCORD_USERNAME, DISCORD_AVATAR_URL, DISCORD_MESSAGE_PREFIX, DISCORD_MENTIONS_ON_FAILURE, HERALD_EVENTS)";

    type Settings = DiscordSettings;
    type Payload = DiscordRequest;

    /// 10 s per request; half a message a second with bursts of five (the 30
    /// messages a minute Discord commonly allows a webhook's channel); the
    /// `X-RateLimit-*` headers of every answer pace the rest.
    fn defaults() -> ChannelDefaults {
        ChannelDefaults {
            timeout: Duration::from_secs(10),
            rate_limit: Some(RateLimitConfig {
                per_second: 0.5,
                burst: 5,
            }),
        }
    }

    fn env_destination(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        get("DISCORD_WEBHOOK_URL")?;
        let mut d = herald_core::env::destination("discord", get);
        d.insert(
            "webhook_url".into(),
            herald_core::env::from_env("DISCORD_WEBHOOK_URL"),
        );
        for (var, key) in [
            ("DISCORD_USERNAME", "username"),
            ("DISCORD_AVATAR_URL", "avatar_url"),
            ("DISCORD_MESSAGE_PREFIX", "message_prefix"),
        ] {
            if let Some(v) = get(var) {
                d.insert(key.into(), v.into());
            }
        }
        if let Some(v) = get("DISCORD_MENTIONS_ON_FAILURE") {
            d.insert(
                "mentions".into(),
                json!({"on_failure": herald_core::env::list(&v)}),
            );
        }
        Some(d)
    }

    fn build(
        destination: &Destination,
        settings: DiscordSettings,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let url = settings
            .webhook_url
            .resolve()
            .map_err(|e| BuildError::new("webhook_url", e.to_string()))?;
        let endpoint =
            Endpoint::parse(url.expose()).map_err(|e| BuildError::new("webhook_url", e))?;
        if let Some(name) = &settings.username {
            check_username(name).map_err(|e| BuildError::new("username", e))?;
        }
        if let Some(a) = &settings.avatar_url
            && markdown::safe_url(a).is_none()
        {
            return Err(BuildError::new(
                "avatar_url",
                "the avatar must be an http or https URL of at most 2,048 characters",
            ));
        }
        let mentions = DiscordMentions::new(&settings.mentions)?;
        Ok(Self {
            client: herald_core::http::client(Self::NAME, destination, timeout)?,
            endpoint,
            sender: Sender {
                username: settings.username,
                avatar_url: settings.avatar_url,
            },
            prefix: settings.message_prefix,
            mentions,
        })
    }

    fn render(
        &self,
        event: &Envelope,
        _ctx: &DeliveryContext,
    ) -> Result<DiscordRequest, RenderError> {
        let view = View::new(event, self.prefix.as_deref());
        let mentions = self.mentions.for_event(event);
        let body = match self.endpoint.flavor() {
            Flavor::Native => embed::native(&view, &mentions, &self.sender),
            Flavor::Slack => slack_compatible(&view, &mentions, &self.sender),
        };
        Ok(DiscordRequest { body })
    }

    async fn send(&self, payload: &DiscordRequest, _ctx: &DeliveryContext) -> Outcome {
        send::send(&self.client, &self.endpoint, payload).await
    }

    fn preview(&self, payload: &DiscordRequest) -> RequestPreview {
        RequestPreview {
            method: "POST".into(),
            target: redact_url(self.endpoint.expose().as_str()),
            headers: vec![("content-type".into(), "application/json".into())],
            body: String::from_utf8_lossy(&payload.bytes()).into_owned(),
        }
    }

    fn hosts(&self) -> Vec<String> {
        self.endpoint
            .expose()
            .host_str()
            .map(str::to_owned)
            .into_iter()
            .collect()
    }
}

/// The Slack-compatible body: one attachment within Discord's embed limits, and
/// the mentions (Discord syntax) as `text`, which becomes the message content.
/// That endpoint takes no `allowed_mentions`, so no event text goes in `text`;
/// Discord turns attachments into embeds, which never ping.
fn slack_compatible(view: &View<'_>, mentions: &[DiscordMention], sender: &Sender) -> Value {
    let mut body = Map::new();
    if !mentions.is_empty() {
        let text: Vec<String> = mentions.iter().map(DiscordMention::text).collect();
        body.insert(
            "text".into(),
            json!(markdown::clip(&text.join(" "), embed::CONTENT)),
        );
    }
    if let Some(u) = &sender.username {
        body.insert("username".into(), json!(u));
    }
    if let Some(a) = &sender.avatar_url {
        body.insert("icon_url".into(), json!(a));
    }
    body.insert(
        "attachments".into(),
        json!([attachment(view, &SLACK_COMPATIBLE_LIMITS)]),
    );
    Value::Object(body)
}

/// Discord's rules for webhook names: 1 to 80 characters, not `everyone` or
/// `here`, and without `discord`, `clyde`, `@`, `#`, `:` or three backticks.
fn check_username(name: &str) -> Result<(), String> {
    let n = name.trim();
    let lower = n.to_lowercase();
    let count = n.chars().count();
    if count == 0 || count > 80 {
        return Err("the name must be 1 to 80 characters".into());
    }
    if lower == "everyone" || lower == "here" {
        return Err(format!("Discord refuses the name `{n}`"));
    }
    for banned in ["discord", "clyde", "@", "#", ":", "```"] {
        if lower.contains(banned) {
            return Err(format!("Discord refuses names containing `{banned}`"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
