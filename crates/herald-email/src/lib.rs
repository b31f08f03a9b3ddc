//! Herald's email channel: one mail per event, over SMTP or Microsoft Graph.
//!
//! Subjects read like dsops' (`[dsops] Rotation Completed: postgres-prod
//! (production)`); each mail has a plain-text and an HTML part (a table of the
//! event's facts, its links and action buttons), every piece of event text
//! escaped, and no CR or LF from an event ever reaches a header. The
//! `Message-ID` is derived from the event id and the destination, so a retry is
//! recognisably the same mail. `X-Priority` and `Importance` follow the outcome.
//!
//! When a destination configures both transports, Graph is used (MazeVault's
//! priority logic).
//!
//! With `batch: hourly | daily | weekly | <interval>` a destination sends one
//! mail per window instead: a digest of its events grouped by type and
//! severity, or with `report: expiry` the expiry report (certificates and
//! secrets expiring within `horizon`, sorted by date). The core keeps the
//! window's events in JetStream and has one replica send each window.
//!
//! # Layout
//! - `config`: the destination keys ([`EmailSettings`], [`SmtpSettings`],
//!   [`GraphSettings`]).
//! - `digest_mail`: the [`Mail`] for a digest and for the expiry report.
//! - `render`: the [`Mail`] for an event (subject, priority, Message-ID, limits),
//!   with `plain` (the text part) and `html` (the HTML part).
//! - `header`: header-safe text ([`header_text`]) and [`message_id`].
//! - `mime`: the SMTP wire form (lettre's MIME message and envelope).
//! - `graph_body`: the Graph wire form (the `sendMail` JSON).
//! - `payload`: a rendered mail with its wire form ([`EmailPayload`]) and its preview.
//! - `smtp`: connections, the pool, the transaction and its reply classes.
//! - `token`: OAuth2 client credentials and the token cache.
//! - `assertion`: the certificate credential ([`CertificateKey`], a JWT client assertion).
//! - `graph`: `sendMail`, the per-mailbox limit and Graph's answers.

mod assertion;
mod config;
mod digest_mail;
mod graph;
mod graph_body;
mod header;
mod html;
mod mime;
mod payload;
mod plain;
mod render;
mod smtp;
mod token;

pub use assertion::CertificateKey;
pub use config::{
    Batch, EmailSettings, GraphAuth, GraphSettings, Priority, PrioritySettings, Report,
    SmtpSettings, TlsMode,
};
pub use digest_mail::{DIGEST_MAX_EVENTS, DIGEST_SUMMARY_CHARS, REPORT_MAX_ROWS};
pub use graph::MAILBOX_CONCURRENCY;
pub use header::{header_text, message_id};
pub use payload::{EmailPayload, Wire};
pub use render::{
    FACT_TITLE_CHARS, FACT_VALUE_CHARS, HEADER_VALUE_CHARS, LINK_TITLE_CHARS, MAX_FACTS, MAX_LINKS,
    Mail, SUBJECT_TITLE_CHARS, SUMMARY_CHARS, URL_BYTES,
};

use std::str::FromStr as _;
use std::time::Duration;

use herald_core::channel::{BuildError, ChannelDefaults, RenderError, RequestPreview};
use herald_core::config::{Destination, RateLimitConfig, Secret, SecretRef};
use herald_core::digest::{Digest, Schedule};
use herald_core::outcome::{Failure, Outcome};
use herald_core::{Channel, DeliveryContext, Envelope};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use graph::GraphTransport;
use render::{Addresses, Composer};
use smtp::SmtpTransport;
use token::{Credential, TokenSource};

/// The transport a destination uses.
#[derive(Debug)]
enum Transport {
    Smtp(Box<SmtpTransport>),
    Graph(Box<GraphTransport>),
}

/// A built email destination.
#[derive(Debug)]
pub struct Email {
    composer: Composer,
    transport: Transport,
    /// The digest schedule, when `batch` is not `immediate`.
    schedule: Option<Schedule>,
    /// What a closed window sends.
    window: digest_mail::Kind,
}

fn resolve(field: &str, r: &SecretRef) -> Result<Secret, BuildError> {
    r.resolve()
        .map_err(|e| BuildError::new(field, e.to_string()))
}

fn mailbox(field: &str, text: &str) -> Result<Mailbox, BuildError> {
    if text.contains(['\r', '\n']) {
        return Err(BuildError::new(
            field,
            "an address cannot contain a line break",
        ));
    }
    Mailbox::from_str(text.trim())
        .map_err(|e| {
            BuildError::new(
                field,
                format!("not a valid address `{text}` ({e}); expected ops@example.com or `Ops <ops@example.com>`"),
            )
        })
}

fn mailboxes(field: &str, list: &[String]) -> Result<Vec<Mailbox>, BuildError> {
    list.iter()
        .enumerate()
        .map(|(i, a)| mailbox(&format!("{field}[{i}]"), a))
        .collect()
}

/// A URL setting: http or https, no trailing slash.
fn base_url(field: &str, text: &str) -> Result<String, BuildError> {
    let u = url::Url::parse(text).map_err(|e| {
        BuildError::new(
            field,
            format!("not a valid URL ({e}); expected an absolute http or https URL"),
        )
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(BuildError::new(
            field,
            format!("the URL must be http or https, not {}", u.scheme()),
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn build_smtp(
    destination: &Destination,
    s: &SmtpSettings,
    timeout: Duration,
) -> Result<SmtpTransport, BuildError> {
    let host = s.host.trim().to_owned();
    if host.is_empty() || host.contains(['/', ' ', ':']) && !host.starts_with('[') {
        return Err(BuildError::new(
            "smtp.host",
            "a host name or address, without scheme or port",
        ));
    }
    let port = s.port.unwrap_or(match s.tls {
        TlsMode::Starttls => 587,
        TlsMode::Tls => 465,
        TlsMode::None => 25,
    });
    let credentials = match (&s.username, &s.password) {
        (Some(u), Some(p)) => Some(Credentials::new(
            resolve("smtp.username", u)?.expose().to_owned(),
            resolve("smtp.password", p)?.expose().to_owned(),
        )),
        (None, None) => None,
        (Some(_), None) => {
            return Err(BuildError::new(
                "smtp.password",
                "`username` needs a `password`",
            ));
        }
        (None, Some(_)) => {
            return Err(BuildError::new(
                "smtp.username",
                "`password` needs a `username`",
            ));
        }
    };
    if credentials.is_some() && s.tls == TlsMode::None {
        return Err(BuildError::new(
            "smtp.tls",
            "credentials are never sent without TLS: use `starttls` or `tls`",
        ));
    }
    let tls_parameters = if s.tls == TlsMode::None {
        None
    } else {
        let mut b = TlsParameters::builder(host.trim_matches(['[', ']']).to_owned());
        if let Some(path) = &s.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                BuildError::new(
                    "smtp.ca_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                BuildError::new("smtp.ca_file", format!("not a PEM certificate: {e}"))
            })?;
            b = b.add_root_certificate(cert);
        }
        if s.insecure_skip_verify {
            tracing::warn!(
                destination = destination.name(),
                "TLS certificate verification is OFF for this SMTP server (`smtp.insecure_skip_verify: true`): \
                 anyone on the path can read the mail and the SMTP password. Use `smtp.ca_file` instead."
            );
            b = b.dangerous_accept_invalid_certs(true);
        }
        Some(
            b.build_rustls()
                .map_err(|e| BuildError::new("smtp.tls", e.to_string()))?,
        )
    };
    let hello = match &s.hello_name {
        Some(name) if !name.trim().is_empty() => ClientId::Domain(name.trim().to_owned()),
        _ => ClientId::default(),
    };
    Ok(SmtpTransport::new(
        host,
        port,
        s.tls,
        tls_parameters,
        credentials,
        hello,
        timeout,
        s.pool_max_idle,
        s.pool_idle_timeout.into(),
        destination.outbound.clone(),
    ))
}

fn build_graph(
    destination: &Destination,
    g: &GraphSettings,
    from: &Mailbox,
    timeout: Duration,
) -> Result<GraphTransport, BuildError> {
    let plain = |field: &str, v: &str| -> Result<String, BuildError> {
        let v = v.trim();
        if v.is_empty()
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(BuildError::new(
                field,
                "letters, digits, `-`, `.` and `_` only",
            ));
        }
        Ok(v.to_owned())
    };
    let tenant = plain("graph.tenant_id", &g.tenant_id)?;
    let client_id = plain("graph.client_id", &g.client_id)?;
    let credential = match g.auth {
        GraphAuth::ClientSecret => {
            if g.certificate.is_some() || g.private_key.is_some() {
                return Err(BuildError::new(
                    "graph.certificate",
                    "set `auth: certificate` to use a certificate",
                ));
            }
            let secret = g.client_secret.as_ref().ok_or_else(|| {
                BuildError::new(
                    "graph.client_secret",
                    "`auth: client_secret` needs a `client_secret`",
                )
            })?;
            Credential::Secret(resolve("graph.client_secret", secret)?)
        }
        GraphAuth::Certificate => {
            if g.client_secret.is_some() {
                return Err(BuildError::new(
                    "graph.client_secret",
                    "not used with `auth: certificate`",
                ));
            }
            let cert = g.certificate.as_ref().ok_or_else(|| {
                BuildError::new(
                    "graph.certificate",
                    "`auth: certificate` needs a `certificate` (PEM)",
                )
            })?;
            let cert = resolve("graph.certificate", cert)?;
            let key = g
                .private_key
                .as_ref()
                .map(|k| resolve("graph.private_key", k))
                .transpose()?;
            let field = if key.is_some() {
                "graph.private_key"
            } else {
                "graph.certificate"
            };
            Credential::Certificate(Box::new(
                CertificateKey::from_pem(cert.expose(), key.as_ref().map(Secret::expose))
                    .map_err(|e| BuildError::new(field, e))?,
            ))
        }
    };
    let sender = match &g.sender {
        Some(s) => mailbox("graph.sender", s)?.email.to_string(),
        None => from.email.to_string(),
    };
    let authority = base_url("graph.authority_url", &g.authority_url)?;
    let graph_url = base_url("graph.graph_url", &g.graph_url)?;
    let token_url = reqwest::Url::parse(&format!("{authority}/{tenant}/oauth2/v2.0/token"))
        .map_err(|e| BuildError::new("graph.authority_url", e.to_string()))?;
    let encoded =
        percent_encoding::utf8_percent_encode(&sender, percent_encoding::NON_ALPHANUMERIC);
    let send_url = reqwest::Url::parse(&format!("{graph_url}/v1.0/users/{encoded}/sendMail"))
        .map_err(|e| BuildError::new("graph.graph_url", e.to_string()))?;
    let client = herald_core::http::client(Email::NAME, destination, timeout)?;
    let tokens = TokenSource::new(
        client.clone(),
        token_url,
        client_id.clone(),
        format!("{graph_url}/.default"),
        credential,
    );
    Ok(GraphTransport::new(
        client,
        send_url,
        sender,
        &client_id,
        g.save_to_sent_items,
        tokens,
    ))
}

/// Splits a comma-separated variable.
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Email {
    /// The wire form of a mail for this destination's transport.
    fn wire(&self, mail: Mail, ctx: &DeliveryContext) -> Result<EmailPayload, RenderError> {
        let wire = match &self.transport {
            Transport::Smtp(_) => {
                let (envelope, mime) =
                    mime::build(&mail, &ctx.idempotency_key).map_err(RenderError)?;
                Wire::Smtp { envelope, mime }
            }
            Transport::Graph(g) => {
                let body = graph_body::body(&mail, &g.sender, g.save_to_sent_items);
                Wire::Graph {
                    body: serde_json::to_vec(&body).map_err(|e| RenderError(e.to_string()))?,
                }
            }
        };
        Ok(EmailPayload { mail, wire })
    }
}

impl Channel for Email {
    const NAME: &'static str = "email";
    const ENV_HINT: &'static str = " (or EMAIL_TO with O365_EMAIL_ENABLED=true, O365_TENANT_ID, O365_CLIENT_ID, O365_CLIENT_SECRET, O365_SENDER_EMAIL; or with SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_FROM)";

    type Settings = EmailSettings;
    type Payload = EmailPayload;

    fn defaults() -> ChannelDefaults {
        ChannelDefaults {
            timeout: Duration::from_secs(30),
            // Exchange Online accepts 30 messages a minute per mailbox.
            rate_limit: Some(RateLimitConfig {
                per_second: 0.5,
                burst: 5,
            }),
        }
    }

    fn env_destination(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let to = get("EMAIL_TO").or_else(|| get("ADMIN_EMAIL"))?;
        let graph =
            get("O365_EMAIL_ENABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if !graph && get("SMTP_HOST").is_none() {
            return None;
        }
        let env = |name: &str| serde_json::json!({"from": {"env": name}});
        let events: Vec<String> = get("HERALD_EVENTS").map_or_else(
            || {
                herald_core::config::DEFAULT_SUBJECTS
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect()
            },
            |v| list(&v),
        );
        let mut d = serde_json::Map::new();
        d.insert("name".into(), "email".into());
        d.insert("channel".into(), "email".into());
        d.insert("events".into(), events.into());
        d.insert("to".into(), list(&to).into());
        if graph {
            let sender = get("O365_SENDER_EMAIL").unwrap_or_default();
            d.insert(
                "from".into(),
                get("EMAIL_FROM").unwrap_or_else(|| sender.clone()).into(),
            );
            let mut g = serde_json::Map::new();
            g.insert(
                "tenant_id".into(),
                get("O365_TENANT_ID").unwrap_or_default().into(),
            );
            g.insert(
                "client_id".into(),
                get("O365_CLIENT_ID").unwrap_or_default().into(),
            );
            g.insert("sender".into(), sender.into());
            if get("O365_AUTH_METHOD").is_some_and(|m| m.trim() == "certificate") {
                g.insert("auth".into(), "certificate".into());
                g.insert("certificate".into(), serde_json::json!({"from": {"file": get("O365_CERTIFICATE_PATH").unwrap_or_default()}}));
                if let Some(k) = get("O365_PRIVATE_KEY_PATH") {
                    g.insert(
                        "private_key".into(),
                        serde_json::json!({"from": {"file": k}}),
                    );
                }
            } else {
                g.insert("client_secret".into(), env("O365_CLIENT_SECRET"));
            }
            d.insert("graph".into(), g.into());
        } else {
            d.insert(
                "from".into(),
                get("SMTP_FROM")
                    .or_else(|| get("EMAIL_FROM"))
                    .unwrap_or_default()
                    .into(),
            );
            let mut s = serde_json::Map::new();
            s.insert("host".into(), get("SMTP_HOST").unwrap_or_default().into());
            if let Some(p) = get("SMTP_PORT").and_then(|p| p.trim().parse::<u16>().ok()) {
                s.insert("port".into(), p.into());
            }
            if let Some(t) = get("SMTP_TLS") {
                s.insert("tls".into(), t.trim().to_ascii_lowercase().into());
            }
            if get("SMTP_USERNAME").is_some() {
                s.insert("username".into(), env("SMTP_USERNAME"));
                s.insert("password".into(), env("SMTP_PASSWORD"));
            }
            d.insert("smtp".into(), s.into());
        }
        Some(d)
    }

    fn build(
        destination: &Destination,
        settings: EmailSettings,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let schedule = Schedule::new(
            settings.batch,
            settings.at.as_deref(),
            settings.weekday.as_deref(),
            settings.timezone.as_deref(),
        )
        .map_err(|e| BuildError::new(e.field, e.message))?;
        let window = match settings.report {
            Report::Digest => digest_mail::Kind::Digest,
            Report::Expiry => {
                if schedule.is_none() {
                    return Err(BuildError::new(
                        "report",
                        "the expiry report is sent when a window closes: set `batch` (e.g. `weekly` with `weekday: monday`, `at: \"07:00\"`)",
                    ));
                }
                let horizon = chrono::TimeDelta::from_std(settings.horizon.0)
                    .map_err(|e| BuildError::new("horizon", e.to_string()))?;
                digest_mail::Kind::Expiry { horizon }
            }
        };
        let from = mailbox("from", &settings.from)?;
        let addresses = Addresses {
            to: mailboxes("to", &settings.to)?,
            cc: mailboxes("cc", &settings.cc)?,
            bcc: mailboxes("bcc", &settings.bcc)?,
            reply_to: settings
                .reply_to
                .as_deref()
                .map(|r| mailbox("reply_to", r))
                .transpose()?,
            from,
        };
        if addresses.to.is_empty() && addresses.cc.is_empty() && addresses.bcc.is_empty() {
            return Err(BuildError::new(
                "to",
                "at least one recipient (`to`, `cc` or `bcc`)",
            ));
        }
        let transport = match (&settings.graph, &settings.smtp) {
            (Some(g), smtp) => {
                if smtp.is_some() {
                    tracing::info!("Both `graph` and `smtp` are configured; Graph is used.");
                }
                Transport::Graph(Box::new(build_graph(
                    destination,
                    g,
                    &addresses.from,
                    timeout,
                )?))
            }
            (None, Some(s)) => Transport::Smtp(Box::new(build_smtp(destination, s, timeout)?)),
            (None, None) => {
                return Err(BuildError::new(
                    "smtp",
                    "configure a transport: `smtp` or `graph`",
                ));
            }
        };
        Ok(Self {
            composer: Composer {
                addresses,
                subject_prefix: settings.subject_prefix,
                priority: settings.priority,
            },
            transport,
            schedule,
            window,
        })
    }

    fn render(&self, event: &Envelope, ctx: &DeliveryContext) -> Result<EmailPayload, RenderError> {
        self.wire(self.composer.compose(event, ctx), ctx)
    }

    fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    fn render_digest(
        &self,
        digest: &Digest,
        ctx: &DeliveryContext,
    ) -> Result<Option<EmailPayload>, RenderError> {
        let Some(schedule) = &self.schedule else {
            return Err(RenderError(
                "this destination sends one mail per event".into(),
            ));
        };
        self.composer
            .compose_window(
                digest,
                schedule.batch(),
                schedule.timezone(),
                self.window,
                ctx,
            )
            .map(|mail| self.wire(mail, ctx))
            .transpose()
    }

    async fn send(&self, payload: &EmailPayload, _ctx: &DeliveryContext) -> Outcome {
        let id = &payload.mail.message_id;
        match (&self.transport, &payload.wire) {
            (Transport::Smtp(t), Wire::Smtp { envelope, mime }) => t.send(envelope, mime, id).await,
            (Transport::Graph(g), Wire::Graph { body }) => g.send(body, id).await,
            _ => Outcome::Permanent(Failure::new("the mail was rendered for another transport")),
        }
    }

    fn preview(&self, payload: &EmailPayload) -> RequestPreview {
        let target = match &self.transport {
            Transport::Smtp(t) => t.target(),
            Transport::Graph(g) => g.send_url.to_string(),
        };
        payload.preview(target)
    }

    fn hosts(&self) -> Vec<String> {
        match &self.transport {
            Transport::Smtp(smtp) => vec![smtp.host.trim_matches(['[', ']']).to_owned()],
            Transport::Graph(graph) => graph.hosts(),
        }
    }
}

#[cfg(test)]
mod tests;
