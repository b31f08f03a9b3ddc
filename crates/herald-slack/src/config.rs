//! The keys of a `channel: slack` destination.

use herald_core::config::SecretRef;
use herald_core::present::Mentions;
use serde::Deserialize;

/// The Web API's address; `api_url` overrides it (tests, proxies, Slack GovSlack).
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Settings of one Slack destination: an incoming webhook (`webhook_url`) or the
/// Web API with a bot token (`token` and `slack_channel`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// The incoming-webhook URL (`https://hooks.slack.com/services/T…/B…/…`). The
    /// URL is the credential: write it as a secret reference. Set this or `token`.
    #[serde(default)]
    pub webhook_url: Option<SecretRef>,
    /// A bot token (`xoxb-…`, scope `chat:write`) for the Web API mode
    /// (`chat.postMessage` / `chat.update`), where lifecycle events that share a
    /// `correlation` are threaded. Set this or `webhook_url`.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// The Slack channel (the seeds' `channel`; `channel` itself names the Herald
    /// channel type). With `token`: required, the channel id (`C0123ABCD`) or name
    /// (`#ops-alerts`) to post in. With `webhook_url`: an override, honoured only by
    /// legacy webhooks (app webhooks always post to their own channel).
    #[serde(default)]
    pub slack_channel: Option<String>,
    /// The sender's display name (legacy webhooks; the Web API needs the
    /// `chat:write.customize` scope).
    #[serde(default)]
    pub username: Option<String>,
    /// The sender's icon as an emoji code (`:rocket:`), where allowed as `username`.
    #[serde(default)]
    pub icon_emoji: Option<String>,
    /// Who to mention: `on_failure`, `on_success`, and per event type (`events`).
    /// Each entry is `@here`, `@channel`, `@everyone`, a user id (`U0123ABCD`,
    /// `<@U0123ABCD>`) or a user-group id (`S0123ABCD`, `subteam:S0123ABCD`).
    #[serde(default)]
    pub mentions: Mentions,
    /// Put before every title (`[PROD]`).
    #[serde(default)]
    pub message_prefix: Option<String>,
    /// `blocks` (Block Kit, the default) or `attachments` (the CertifyClouds format).
    #[serde(default)]
    pub format: Format,
    /// The Web API base URL (default `https://slack.com/api`).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Web API mode: thread events that share a `correlation` under the first one
    /// and edit that first message to show the latest status (default `true`).
    #[serde(default = "default_threads")]
    pub threads: bool,
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_owned()
}

fn default_threads() -> bool {
    true
}

/// Message formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Block Kit: a header, the summary, the facts as section fields, the mentions,
    /// link buttons and a context line, with a `text` fallback.
    #[default]
    Blocks,
    /// A legacy attachment with a colour bar, title, text, short fields, footer
    /// and timestamp (CertifyClouds' Slack format).
    Attachments,
}
