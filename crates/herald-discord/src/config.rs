//! The keys of a `channel: discord` destination.

use herald_core::config::SecretRef;
use herald_core::present::Mentions;
use serde::Deserialize;

/// Settings of one Discord destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// The webhook URL (`https://discord.com/api/webhooks/<id>/<token>`). The URL is
    /// the credential: write it as a secret reference. A URL ending in `/slack`
    /// selects Discord's Slack-compatible endpoint (Slack attachments format); a
    /// `thread_id` query parameter is kept. `?wait=true` is always added.
    pub webhook_url: SecretRef,
    /// The sender's display name (1 to 80 characters; Discord refuses names
    /// containing `discord` or `clyde`).
    #[serde(default)]
    pub username: Option<String>,
    /// The sender's avatar (an `http(s)` image URL).
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Who to mention: `on_failure`, `on_success`, and per event type (`events`).
    /// Each entry is `@everyone`, `@here`, a user (`<@123…>` or `user:123…`) or a
    /// role (`<@&456…>` or `role:456…`). Only these can ever be pinged.
    #[serde(default)]
    pub mentions: Mentions,
    /// Put before every title (`[PROD]`).
    #[serde(default)]
    pub message_prefix: Option<String>,
}
