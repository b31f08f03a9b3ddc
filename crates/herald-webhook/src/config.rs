//! The keys of a `channel: webhook` destination.

use std::collections::BTreeMap;

use herald_core::config::SecretRef;
use serde::Deserialize;

/// Settings of one webhook destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The endpoint. May be a secret reference when the URL carries a token.
    pub url: SecretRef,
    /// HTTP method: `POST` (default), `PUT` or `PATCH`.
    #[serde(default)]
    pub method: Method,
    /// Extra request headers; values may be secret references.
    #[serde(default)]
    pub headers: BTreeMap<String, SecretRef>,
    /// Body format: `generic` (default), `envelope`, `subject-message` or `template`.
    #[serde(default)]
    pub format: Format,
    /// The MiniJinja body template, required with `format: template`
    /// (dsops-style `{{.EventType}}` placeholders work too).
    #[serde(default)]
    pub template: Option<String>,
    /// `Content-Type` of the body. With `format: template`, a JSON content type
    /// makes the template JSON-escape values and check its output is JSON.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Request signing, if any.
    #[serde(default)]
    pub signing: Option<SigningSettings>,
    /// The `source` written in `generic` bodies when the event has none.
    #[serde(default = "default_source")]
    pub default_source: String,
}

fn default_content_type() -> String {
    "application/json".to_string()
}

fn default_source() -> String {
    "Herald".to_string()
}

/// HTTP methods a webhook may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// POST.
    #[default]
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
}

impl Method {
    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// Body formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `{title, message, color, severity, type, id, timestamp, source, fields, links}`
    /// with CertifyClouds' colours.
    #[default]
    Generic,
    /// The Herald envelope as JSON.
    Envelope,
    /// `{subject, message}` (MazeVault).
    SubjectMessage,
    /// A MiniJinja template (`template`).
    Template,
}

/// How requests are signed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningSettings {
    /// `standard-webhooks` or `hmac-sha256`.
    pub scheme: SigningScheme,
    /// The key. For `standard-webhooks`, a `whsec_`-prefixed base64 secret.
    /// Write `secret` or `secrets`, not both.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    /// Several keys, all active at once (`standard-webhooks` only): every
    /// request carries one signature per key (`v1,<a> v1,<b>`), so a secret
    /// can be rotated without a moment when receivers reject requests. Put
    /// the new key first; remove the old one once every receiver has the new one.
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    /// With `hmac-sha256`: the header carrying `sha256=<hex>`
    /// (default `X-Herald-Signature`; Headwind receivers expect `X-Headwind-Signature`).
    #[serde(default)]
    pub header: Option<String>,
}

/// Signature schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningScheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
    StandardWebhooks,
    /// `sha256=<hex>` HMAC-SHA256 of the body in one header (Headwind, Flux).
    HmacSha256,
}
