//! How to reach NATS: servers, authentication and transport security.
//!
//! One authentication mode at most: `user` with `password`, `token`,
//! `nkey_seed`, or `credentials_file` (a JWT `.creds` file). Secrets are
//! written as [`SecretRef`]s and resolved when connecting. `tls` adds a
//! private CA, a client certificate (mutual TLS) and can require TLS.
//!
//! The environment overrides the file, with the `nats` command's variables:
//! `NATS_URL`; `NATS_USER` and `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_NKEY` (a
//! seed file) or `NATS_CREDS` (a credentials file), any of which replaces the
//! file's authentication; `NATS_CA`, `NATS_CERT` and `NATS_KEY` (PEM files).

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::duration::HumanDuration;
use super::secret::{SecretRef, SecretSource};

/// NATS connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated. The `NATS_URL` environment variable overrides it.
    #[serde(default = "default_nats_url")]
    pub url: String,
    /// A credentials file (`.creds`: a user JWT and its NKey seed) for
    /// decentralised (operator) authentication. `NATS_CREDS` overrides it.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// User name for user and password authentication (with `password`).
    /// `NATS_USER` overrides it.
    #[serde(default)]
    pub user: Option<SecretRef>,
    /// Password for user and password authentication (with `user`).
    /// `NATS_PASSWORD` overrides it.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Token authentication. `NATS_TOKEN` overrides it.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// NKey authentication: the user's seed (`SU...`), usually
    /// `{from: {file: /run/secrets/nats.nk}}`. `NATS_NKEY` (a seed file) overrides it.
    #[serde(default)]
    pub nkey_seed: Option<SecretRef>,
    /// Transport security.
    #[serde(default)]
    pub tls: Option<NatsTlsConfig>,
    /// How long to wait for the first connection.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
}

/// TLS to the NATS servers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsTlsConfig {
    /// PEM file of the CA(s) that signed the servers' certificates, when it is
    /// a private CA. `NATS_CA` overrides it.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (with `key_file`). `NATS_CERT` overrides it.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`. `NATS_KEY` overrides it.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Refuse to connect without TLS, even when the server does not ask for it.
    #[serde(default)]
    pub required: bool,
}

/// Reads the `nats` section and checks its keys fit together.
pub(super) fn checked<'de, D: Deserializer<'de>>(d: D) -> Result<NatsConfig, D::Error> {
    let config = NatsConfig::deserialize(d)?;
    match config.problem() {
        Some(problem) => Err(serde::de::Error::custom(problem)),
        None => Ok(config),
    }
}

fn default_nats_url() -> String {
    "nats://127.0.0.1:4222".to_string()
}

fn default_connect_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: default_nats_url(),
            credentials_file: None,
            user: None,
            password: None,
            token: None,
            nkey_seed: None,
            tls: None,
            connect_timeout: default_connect_timeout(),
        }
    }
}

/// The authentication a [`NatsConfig`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatsAuth<'a> {
    /// None.
    None,
    /// `user` and `password`.
    UserPassword(&'a SecretRef, &'a SecretRef),
    /// `token`.
    Token(&'a SecretRef),
    /// `nkey_seed`.
    Nkey(&'a SecretRef),
    /// `credentials_file`.
    Credentials(&'a std::path::Path),
}

impl NatsConfig {
    /// The one authentication mode configured.
    ///
    /// # Errors
    /// A message naming the keys when several modes are set, or `user`
    /// without `password` (or the reverse).
    pub fn auth(&self) -> Result<NatsAuth<'_>, String> {
        let mut modes = Vec::new();
        match (&self.user, &self.password) {
            (Some(u), Some(p)) => modes.push(("user and password", NatsAuth::UserPassword(u, p))),
            (Some(_), None) => {
                return Err(
                    "`nats.user` needs `nats.password` (or NATS_PASSWORD) as well".to_string(),
                );
            }
            (None, Some(_)) => {
                return Err("`nats.password` needs `nats.user` (or NATS_USER) as well".to_string());
            }
            (None, None) => {}
        }
        if let Some(t) = &self.token {
            modes.push(("token", NatsAuth::Token(t)));
        }
        if let Some(n) = &self.nkey_seed {
            modes.push(("nkey_seed", NatsAuth::Nkey(n)));
        }
        if let Some(c) = &self.credentials_file {
            modes.push(("credentials_file", NatsAuth::Credentials(c)));
        }
        match modes.len() {
            0 => Ok(NatsAuth::None),
            1 => Ok(modes.remove(0).1),
            _ => Err(format!(
                "NATS authentication is set more than once ({}); use one of user and password, token, nkey_seed or credentials_file",
                modes.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Applies the `NATS_*` environment variables (see the module documentation).
    pub fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        let set = |k: &str| get(k).filter(|v| !v.is_empty());
        if let Some(url) = set("NATS_URL") {
            self.url = url;
        }
        let env_ref = |k: &str| SecretRef::From {
            from: SecretSource::Env(k.to_owned()),
        };
        let user = set("NATS_USER").map(|_| env_ref("NATS_USER"));
        let password = set("NATS_PASSWORD").map(|_| env_ref("NATS_PASSWORD"));
        let token = set("NATS_TOKEN").map(|_| env_ref("NATS_TOKEN"));
        let nkey = set("NATS_NKEY").map(|path| SecretRef::From {
            from: SecretSource::File(path.into()),
        });
        let creds = set("NATS_CREDS").map(PathBuf::from);
        if user.is_some()
            || password.is_some()
            || token.is_some()
            || nkey.is_some()
            || creds.is_some()
        {
            self.user = user;
            self.password = password;
            self.token = token;
            self.nkey_seed = nkey;
            self.credentials_file = creds;
        }
        let ca = set("NATS_CA");
        let cert = set("NATS_CERT");
        let key = set("NATS_KEY");
        if ca.is_some() || cert.is_some() || key.is_some() {
            let tls = self.tls.get_or_insert_with(NatsTlsConfig::default);
            if let Some(ca) = ca {
                tls.ca_file = Some(ca.into());
            }
            if let Some(cert) = cert {
                tls.cert_file = Some(cert.into());
            }
            if let Some(key) = key {
                tls.key_file = Some(key.into());
            }
        }
    }

    /// The first problem the types alone do not catch.
    fn problem(&self) -> Option<String> {
        if let Err(e) = self.auth() {
            return Some(e);
        }
        match &self.tls {
            Some(tls) if tls.cert_file.is_some() != tls.key_file.is_some() => Some(
                "`nats.tls.cert_file` and `nats.tls.key_file` go together (a client certificate and its key)"
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// The server URLs with any user and password in them hidden, for messages.
    pub fn redacted_url(&self) -> String {
        self.url
            .split(',')
            .map(|u| {
                let u = u.trim();
                match (u.find("://"), u.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => {
                        format!("{}<redacted>@{}", &u[..scheme + 3], &u[at + 1..])
                    }
                    (None, Some(at)) => format!("<redacted>@{}", &u[at + 1..]),
                    _ => u.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn one_authentication_mode_at_most() {
        let mut c = NatsConfig::default();
        assert_eq!(c.auth(), Ok(NatsAuth::None));
        c.token = Some(SecretRef::Inline("t".into()));
        assert!(matches!(c.auth(), Ok(NatsAuth::Token(_))));
        c.credentials_file = Some("x.creds".into());
        let e = c.auth().unwrap_err();
        assert!(e.contains("token, credentials_file"), "{e}");
        let mut c = NatsConfig {
            user: Some(SecretRef::Inline("u".into())),
            ..NatsConfig::default()
        };
        assert!(c.auth().unwrap_err().contains("nats.password"));
        c.password = Some(SecretRef::Inline("p".into()));
        assert!(matches!(c.auth(), Ok(NatsAuth::UserPassword(..))));
    }

    #[test]
    fn the_environment_replaces_the_files_authentication() {
        let mut c = NatsConfig {
            token: Some(SecretRef::Inline("file-token".into())),
            ..NatsConfig::default()
        };
        c.apply_env(&env(&[
            ("NATS_USER", "u"),
            ("NATS_PASSWORD", "p"),
            ("NATS_CA", "/ca.pem"),
        ]));
        assert!(c.token.is_none());
        assert!(matches!(c.auth(), Ok(NatsAuth::UserPassword(..))));
        assert_eq!(
            c.user.as_ref().map(SecretRef::describe).as_deref(),
            Some("env:NATS_USER")
        );
        assert_eq!(
            c.tls.and_then(|t| t.ca_file),
            Some(PathBuf::from("/ca.pem"))
        );
        let mut c = NatsConfig::default();
        c.apply_env(&env(&[("NATS_NKEY", "/run/user.nk")]));
        assert_eq!(
            c.nkey_seed.as_ref().map(SecretRef::describe).as_deref(),
            Some("file:/run/user.nk")
        );
    }

    #[test]
    fn urls_hide_their_credentials() {
        let c = NatsConfig {
            url: "nats://alice:s3cret@a:4222, tls://b:4222,tok@c:4222".into(),
            ..NatsConfig::default()
        };
        let shown = c.redacted_url();
        assert_eq!(
            shown,
            "nats://<redacted>@a:4222,tls://b:4222,<redacted>@c:4222"
        );
    }
}
