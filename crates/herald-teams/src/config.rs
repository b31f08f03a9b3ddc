//! The keys of a `channel: teams` destination.

use herald_core::config::SecretRef;
use serde::Deserialize;

/// Settings of one Microsoft Teams destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsSettings {
    /// The webhook URL: a Workflows (Power Automate) "When a Teams webhook request
    /// is received" trigger URL, or a legacy Office 365 connector URL. The URL is
    /// the credential (`sig=` or the connector token): write it as a secret
    /// reference. Tests point it at a local server.
    pub url: SecretRef,
    /// The card format: `adaptive` (default; an Adaptive Card 1.5 in a
    /// `message` attachment, what Workflows expect) or `messagecard` (the legacy
    /// connector card, CertifyClouds' Teams format).
    #[serde(default)]
    pub format: Format,
    /// Who answers at `url`, which decides how a `2xx` is read: `auto` (default;
    /// from the host: `*.webhook.office.com` and `outlook.office.com` are
    /// connectors, anything else is a Workflows trigger), `workflows` (any 2xx
    /// is success) or `connector` (success only with the body `1`).
    #[serde(default)]
    pub webhook_type: WebhookType,
    /// Text put before every title (`[PROD]`), as dsops' `message_prefix`.
    #[serde(default)]
    pub message_prefix: Option<String>,
}

/// Card formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":<AdaptiveCard 1.5>}]}`.
    #[default]
    Adaptive,
    /// `{"@type":"MessageCard","@context":...,"summary","themeColor","title","text","sections":[{"facts":[...]}]}`.
    #[serde(rename = "messagecard")]
    MessageCard,
}

impl Format {
    /// The name used in configuration and golden-file directories.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Adaptive => "adaptive",
            Format::MessageCard => "messagecard",
        }
    }
}

/// The kind of endpoint behind the URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookType {
    /// Decided from the URL's host.
    #[default]
    Auto,
    /// A Workflows (Power Automate / Logic Apps) trigger: answers `202`, empty.
    Workflows,
    /// A legacy Office 365 connector: answers `200` with `1`, or with an error
    /// text (`... HTTP error 429 ...`) still under `200`.
    Connector,
}

impl WebhookType {
    /// Resolves `auto` for a URL with this host.
    pub fn resolve(self, host: &str) -> WebhookType {
        match self {
            WebhookType::Auto => {
                let host = host.to_ascii_lowercase();
                if host.ends_with(".webhook.office.com")
                    || host == "outlook.office.com"
                    || host == "outlook.office365.com"
                {
                    WebhookType::Connector
                } else {
                    WebhookType::Workflows
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_decides_auto() {
        let auto = WebhookType::Auto;
        assert_eq!(
            auto.resolve("contoso.webhook.office.com"),
            WebhookType::Connector
        );
        assert_eq!(auto.resolve("outlook.office.com"), WebhookType::Connector);
        assert_eq!(
            auto.resolve("prod-12.westeurope.logic.azure.com"),
            WebhookType::Workflows
        );
        assert_eq!(auto.resolve("127.0.0.1"), WebhookType::Workflows);
        assert_eq!(
            WebhookType::Connector.resolve("127.0.0.1"),
            WebhookType::Connector
        );
    }
}
