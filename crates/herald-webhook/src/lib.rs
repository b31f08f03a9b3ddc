//! Herald's generic webhook channel: events as signed HTTP requests to any endpoint.
//!
//! Bodies come in four formats (`generic`, `envelope`, `subject-message`,
//! `template`); requests may be signed with Standard Webhooks or a Headwind-style
//! `sha256=<hex>` HMAC. The `webhook-id` is stable across every retry of one event
//! to one destination, so receivers can de-duplicate.
//!
//! # Layout
//! - `config`: the destination keys ([`WebhookSettings`]).
//! - `render`: the bodies.
//! - `sign`: the signatures ([`StandardWebhooksKey`], [`hmac_sha256_hex`]).
//! - `request`: a rendered request ([`WebhookRequest`]).
//! - `send`: the HTTP call and its classification.

mod config;
mod render;
mod request;
mod send;
mod sign;

pub use config::{Format, Method, SigningScheme, SigningSettings, WebhookSettings};
pub use request::{Endpoint, WebhookRequest};
pub use sign::{StandardWebhooksKey, hmac_sha256_hex};

use std::time::Duration;

use herald_core::channel::{BuildError, ChannelDefaults, RenderError, RequestPreview};
use herald_core::config::{Destination, Secret, SecretRef};
use herald_core::outcome::Outcome;
use herald_core::template::{Template, TemplateFormat};
use herald_core::{Channel, DeliveryContext, Envelope};

use render::BodyFormat;
use request::text_header;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

// Header names set on every request, parsed once.
static EVENT_ID: HeaderName = HeaderName::from_static("x-herald-event-id");
static EVENT_TYPE: HeaderName = HeaderName::from_static("x-herald-event-type");
static ATTEMPT: HeaderName = HeaderName::from_static("x-herald-attempt");
static WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
static WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
static WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

/// How a built destination signs.
#[derive(Debug)]
enum Signer {
    StandardWebhooks(Vec<StandardWebhooksKey>),
    Hmac { key: Secret, header: HeaderName },
}

/// A built webhook destination.
#[derive(Debug)]
pub struct Webhook {
    client: herald_core::http::HttpClient,
    method: reqwest::Method,
    url: Endpoint,
    headers: HeaderMap,
    content_type: HeaderValue,
    format: BodyFormat,
    signer: Option<Signer>,
}

/// Header names whose values are credentials even when written inline.
fn sensitive_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "token",
        "secret",
        "key",
        "password",
        "signature",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn resolve(field: &str, r: &SecretRef) -> Result<Secret, BuildError> {
    r.resolve()
        .map_err(|e| BuildError::new(field, e.to_string()))
}

impl Channel for Webhook {
    const NAME: &'static str = "webhook";
    const ENV_HINT: &'static str = " (or WEBHOOK_URL, with optional WEBHOOK_SECRET, WEBHOOK_TIMEOUT, WEBHOOK_MAX_RETRIES, WEBHOOK_FORMAT, HERALD_EVENTS)";

    type Settings = WebhookSettings;
    type Payload = WebhookRequest;

    fn defaults() -> ChannelDefaults {
        ChannelDefaults {
            timeout: Duration::from_secs(10),
            rate_limit: None,
        }
    }

    fn env_destination(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        get("WEBHOOK_URL")?;
        let mut d = herald_core::env::destination("webhook", get);
        d.insert("url".into(), herald_core::env::from_env("WEBHOOK_URL"));
        if get("WEBHOOK_SECRET").is_some() {
            d.insert(
                "signing".into(),
                serde_json::json!({"scheme": "hmac-sha256", "secret": {"from": {"env": "WEBHOOK_SECRET"}}}),
            );
        }
        if let Some(t) = get("WEBHOOK_TIMEOUT") {
            d.insert("timeout".into(), t.into());
        }
        if let Some(n) = get("WEBHOOK_MAX_RETRIES").and_then(|n| n.parse::<u32>().ok()) {
            d.insert("retry".into(), serde_json::json!({"max_attempts": n + 1}));
        }
        if let Some(f) = get("WEBHOOK_FORMAT") {
            d.insert("format".into(), f.into());
        }
        Some(d)
    }

    fn build(
        destination: &Destination,
        settings: WebhookSettings,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let url = resolve("url", &settings.url)?;
        let parsed = herald_core::endpoint::web_url("url", url.expose())?;
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            let field = format!("headers.{name}");
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| BuildError::new(&field, "not a valid header name"))?;
            let resolved = resolve(&field, value)?;
            let mut header_value = HeaderValue::from_str(resolved.expose())
                .map_err(|_| BuildError::new(&field, "not a valid header value"))?;
            header_value
                .set_sensitive(sensitive_name(name) || matches!(value, SecretRef::From { .. }));
            headers.append(header_name, header_value);
        }
        let content_type = HeaderValue::from_str(&settings.content_type)
            .map_err(|_| BuildError::new("content_type", "not a valid header value"))?;
        let format = match settings.format {
            Format::Generic => BodyFormat::Generic {
                default_source: settings.default_source.clone(),
            },
            Format::Envelope => BodyFormat::Envelope,
            Format::SubjectMessage => BodyFormat::SubjectMessage,
            Format::Template => {
                let source = settings.template.as_deref().ok_or_else(|| {
                    BuildError::new("template", "`format: template` needs a `template`")
                })?;
                let kind = if settings.content_type.to_ascii_lowercase().contains("json") {
                    TemplateFormat::Json
                } else {
                    TemplateFormat::Text
                };
                let template = Template::compile(source, kind)
                    .map_err(|e| BuildError::new("template", e.0))?;
                BodyFormat::Template(Box::new(template))
            }
        };
        if settings.template.is_some() && format.kind() != Format::Template {
            return Err(BuildError::new(
                "template",
                "a `template` is only used with `format: template`",
            ));
        }
        let signer = match &settings.signing {
            None => None,
            Some(s) => {
                let keys: Vec<(String, Secret)> = match (&s.secret, s.secrets.as_slice()) {
                    (Some(one), []) => {
                        vec![("signing.secret".to_owned(), resolve("signing.secret", one)?)]
                    }
                    (None, many) if !many.is_empty() => many
                        .iter()
                        .enumerate()
                        .map(|(i, r)| {
                            let field = format!("signing.secrets[{i}]");
                            resolve(&field, r).map(|k| (field, k))
                        })
                        .collect::<Result<_, _>>()?,
                    (None, _) => {
                        return Err(BuildError::new(
                            "signing",
                            "a `secret` (or `secrets`, a list of keys active at once) is required",
                        ));
                    }
                    (Some(_), _) => {
                        return Err(BuildError::new(
                            "signing.secrets",
                            "write `secret` (one key) or `secrets` (several), not both",
                        ));
                    }
                };
                Some(match s.scheme {
                    SigningScheme::StandardWebhooks => {
                        if s.header.is_some() {
                            return Err(BuildError::new(
                                "signing.header",
                                "standard-webhooks always uses the webhook-* headers",
                            ));
                        }
                        Signer::StandardWebhooks(
                            keys.iter()
                                .map(|(field, k)| {
                                    StandardWebhooksKey::parse(k.expose())
                                        .map_err(|e| BuildError::new(field, e))
                                })
                                .collect::<Result<_, _>>()?,
                        )
                    }
                    SigningScheme::HmacSha256 => Signer::Hmac {
                        key: match <[_; 1]>::try_from(keys) {
                            Ok([(_, key)]) => key,
                            Err(_) => {
                                return Err(BuildError::new(
                                    "signing.secrets",
                                    "hmac-sha256 carries one signature: use one `secret` (several keys need `standard-webhooks`)",
                                ));
                            }
                        },
                        header: HeaderName::from_bytes(
                            s.header
                                .as_deref()
                                .unwrap_or("X-Herald-Signature")
                                .as_bytes(),
                        )
                        .map_err(|_| {
                            BuildError::new("signing.header", "not a valid header name")
                        })?,
                    },
                })
            }
        };
        let client = herald_core::http::client(Self::NAME, destination, timeout)?;
        let method = match settings.method {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
        };
        Ok(Self {
            client,
            method,
            url: Endpoint::new(parsed),
            headers,
            content_type,
            format,
            signer,
        })
    }

    fn render(
        &self,
        event: &Envelope,
        ctx: &DeliveryContext,
    ) -> Result<WebhookRequest, RenderError> {
        let body = render::body(&self.format, event, &ctx.destination).map_err(RenderError)?;
        let mut headers = self.headers.clone();
        headers.reserve(8);
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        headers.insert(EVENT_ID.clone(), text_header(&event.id));
        headers.insert(EVENT_TYPE.clone(), text_header(&event.event_type));
        headers.insert(ATTEMPT.clone(), HeaderValue::from(ctx.attempt));
        match &self.signer {
            None => {}
            Some(Signer::StandardWebhooks(keys)) => {
                let ts = ctx.now.timestamp();
                let signature = match keys.as_slice() {
                    [key] => key.sign(&ctx.idempotency_key, ts, &body),
                    _ => keys
                        .iter()
                        .map(|key| key.sign(&ctx.idempotency_key, ts, &body))
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                headers.insert(WEBHOOK_ID.clone(), text_header(&ctx.idempotency_key));
                headers.insert(WEBHOOK_TIMESTAMP.clone(), HeaderValue::from(ts));
                headers.insert(WEBHOOK_SIGNATURE.clone(), text_header(&signature));
            }
            Some(Signer::Hmac { key, header }) => {
                let signature = hmac_sha256_hex(key.expose().as_bytes(), &body);
                headers.insert(WEBHOOK_ID.clone(), text_header(&ctx.idempotency_key));
                headers.insert(header.clone(), text_header(&signature));
            }
        }
        Ok(WebhookRequest {
            method: self.method.clone(),
            url: self.url.clone(),
            headers,
            body: body.into(),
        })
    }

    async fn send(&self, payload: &WebhookRequest, _ctx: &DeliveryContext) -> Outcome {
        send::send(&self.client, payload).await
    }

    fn preview(&self, payload: &WebhookRequest) -> RequestPreview {
        RequestPreview {
            method: payload.method.to_string(),
            target: redact_url(payload.url.expose().as_str()),
            headers: payload
                .headers
                .iter()
                .map(|(name, value)| {
                    let shown = if value.is_sensitive() {
                        "<redacted>".to_string()
                    } else {
                        value.to_str().unwrap_or("<binary>").to_string()
                    };
                    (name.to_string(), shown)
                })
                .collect(),
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

pub use herald_core::http::redact_url;

#[cfg(test)]
mod tests;
