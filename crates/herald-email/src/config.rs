//! The keys of a `channel: email` destination.

use herald_core::config::{HumanDuration, SecretRef};
use serde::Deserialize;

pub use herald_core::digest::Batch;

/// Settings of one email destination. Exactly one transport is used: `graph`
/// when it is configured (MazeVault's priority logic), else `smtp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The sender, `addr@example.com` or `Name <addr@example.com>`.
    pub from: String,
    /// Recipients (at least one of `to`, `cc`, `bcc` is required).
    #[serde(default)]
    pub to: Vec<String>,
    /// Copy recipients.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Blind-copy recipients: in the SMTP envelope, never in a header.
    #[serde(default)]
    pub bcc: Vec<String>,
    /// Where replies go, if not to `from`.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Put before the title in the subject (`[dsops]`). When absent, the event's
    /// source in brackets (`[dsops]`), or nothing when it has none. `""` turns it off.
    #[serde(default)]
    pub subject_prefix: Option<String>,
    /// `X-Priority` and `Importance` by outcome.
    #[serde(default)]
    pub priority: PrioritySettings,
    /// `immediate` (one mail per event, the default), `hourly`, `daily`,
    /// `weekly`, or an interval such as `15m`: a digest of the window's events,
    /// kept durably in JetStream until the window closes.
    #[serde(default)]
    pub batch: Batch,
    /// When daily and weekly windows close, `HH:MM` or `HH:MM:SS` in `timezone`
    /// (default `00:00`); for `hourly`, only the minutes count.
    #[serde(default)]
    pub at: Option<String>,
    /// The day weekly windows close, `monday` … `sunday` (default `monday`).
    #[serde(default)]
    pub weekday: Option<String>,
    /// The IANA time zone of `at` and `weekday` (default `UTC`), e.g. `Europe/Prague`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// What a closed window sends: `digest` (every event, grouped by type and
    /// severity; the default) or `expiry` (the certificates and secrets that
    /// expire within `horizon`, in one table sorted by date).
    #[serde(default)]
    pub report: Report,
    /// How far ahead the expiry report looks (default `60d`).
    #[serde(default = "default_horizon")]
    pub horizon: HumanDuration,
    /// SMTP transport.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
    /// Microsoft Graph `sendMail` transport; wins over `smtp` when both are set.
    #[serde(default)]
    pub graph: Option<GraphSettings>,
}

/// Message priority, as `X-Priority` and `Importance` (Graph: `importance`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// `X-Priority: 1 (Highest)`, `Importance: high`.
    High,
    /// `X-Priority: 3 (Normal)`, `Importance: normal`.
    #[default]
    Normal,
    /// `X-Priority: 5 (Lowest)`, `Importance: low`.
    Low,
}

impl Priority {
    /// The `X-Priority` value.
    pub fn x_priority(self) -> &'static str {
        match self {
            Priority::High => "1 (Highest)",
            Priority::Normal => "3 (Normal)",
            Priority::Low => "5 (Lowest)",
        }
    }

    /// The `Importance` value (and Graph's `importance`).
    pub fn importance(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

/// Priority by the event's outcome (dsops' `priority:` block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrioritySettings {
    /// For `error` and `critical` events (default `high`).
    #[serde(default = "high")]
    pub on_failure: Priority,
    /// For `success` events (default `normal`).
    #[serde(default)]
    pub on_success: Priority,
    /// For `info` and `warning` events (default `normal`).
    #[serde(default)]
    pub otherwise: Priority,
}

fn high() -> Priority {
    Priority::High
}

impl Default for PrioritySettings {
    fn default() -> Self {
        Self {
            on_failure: Priority::High,
            on_success: Priority::Normal,
            otherwise: Priority::Normal,
        }
    }
}

/// What a destination with a `batch` window sends when the window closes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Report {
    /// Every event of the window, grouped by type and severity, with counts.
    #[default]
    Digest,
    /// The expiry report: certificates and secrets expiring within `horizon`.
    Expiry,
}

fn default_horizon() -> HumanDuration {
    HumanDuration::from_secs(60 * 24 * 3600)
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with `STARTTLS`, which is required (port 587).
    #[default]
    Starttls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
    /// No encryption (a local relay only; credentials are refused).
    None,
}

/// The SMTP transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Server host name (also the name its certificate must carry).
    pub host: String,
    /// Server port; default 587 with `starttls`, 465 with `tls`, 25 with `none`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    pub tls: TlsMode,
    /// Login for `AUTH` (with `password`).
    #[serde(default)]
    pub username: Option<SecretRef>,
    /// Password for `AUTH` (with `username`).
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// A PEM file of extra trusted CA certificates (an internal relay).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Accept any certificate from the server: no verification at all. Only
    /// for tests against a stand-in relay; logged as a warning every time the
    /// worker starts. Prefer `ca_file`.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The name sent in `EHLO`; default this machine's host name.
    #[serde(default)]
    pub hello_name: Option<String>,
    /// Idle connections kept open for the next mail (default 2; 0 closes
    /// each connection after its mail).
    #[serde(default = "default_max_idle")]
    pub pool_max_idle: usize,
    /// How long an idle connection is kept (default `60s`).
    #[serde(default = "default_idle_timeout")]
    pub pool_idle_timeout: HumanDuration,
}

fn default_max_idle() -> usize {
    2
}

fn default_idle_timeout() -> HumanDuration {
    HumanDuration::from_secs(60)
}

/// How the Graph application proves who it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphAuth {
    /// `client_secret`.
    #[default]
    ClientSecret,
    /// A JWT client assertion signed with the certificate's private key.
    Certificate,
}

/// The Microsoft Graph `sendMail` transport (OAuth2 client credentials).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    /// The Entra ID (Azure AD) tenant id or domain.
    pub tenant_id: String,
    /// The app registration's client (application) id.
    pub client_id: String,
    /// `client_secret` (default) or `certificate`.
    #[serde(default)]
    pub auth: GraphAuth,
    /// The client secret, with `auth: client_secret`.
    #[serde(default)]
    pub client_secret: Option<SecretRef>,
    /// The certificate registered with the app (PEM), with `auth: certificate`.
    /// May hold the private key too.
    #[serde(default)]
    pub certificate: Option<SecretRef>,
    /// The certificate's RSA private key (PEM, PKCS#8 or PKCS#1) when
    /// `certificate` does not hold it.
    #[serde(default)]
    pub private_key: Option<SecretRef>,
    /// The mailbox sending (user or shared mailbox); default the `from` address.
    #[serde(default)]
    pub sender: Option<String>,
    /// Keep a copy in the sender's Sent Items (default `false`).
    #[serde(default)]
    pub save_to_sent_items: bool,
    /// The token authority (default `https://login.microsoftonline.com`).
    #[serde(default = "default_authority")]
    pub authority_url: String,
    /// The Graph API root (default `https://graph.microsoft.com`).
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".to_owned()
}

fn default_graph_url() -> String {
    "https://graph.microsoft.com".to_owned()
}
