//! Connecting to NATS and provisioning the streams, consumers and bucket Herald uses.
//!
//! Everything here works on nats-server 2.9: one `filter_subject` per consumer
//! (2.9 ignores `filter_subjects`), and the receipts bucket's stream is created
//! directly because async-nats cannot create a key-value bucket on 2.9.

use std::time::Duration;

use async_nats::jetstream::{
    self, consumer,
    stream::{self, DiscardPolicy, RetentionPolicy, StorageType},
};

use crate::config::{
    DigestConfig, DlqConfig, NatsAuth, NatsConfig, ReceiptsConfig, ReplayConfig, SecretRef,
    StatusConfig, StreamConfig,
};
use crate::routing::SubjectPattern;

mod retry;
mod transient;

pub use retry::Provisioning;
use transient::Transient;

/// A failure talking to NATS while setting up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The connection could not be made.
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        message: String,
    },
    /// A stream, consumer or bucket could not be created or read.
    #[error("cannot set up {what}: {message}")]
    Provision {
        /// What was being set up.
        what: String,
        /// Why.
        message: String,
        /// Whether it may succeed later unchanged (a timeout, a cluster
        /// electing its leaders), as opposed to a refusal.
        transient: bool,
    },
}

impl SetupError {
    /// True when retrying may help: JetStream did not answer in time or said
    /// it is not ready. A refused request or a failed connection is not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Provision {
                transient: true,
                ..
            }
        )
    }

    /// The same error, saying it was retried `retries` times for `took`.
    fn gave_up(self, retries: u32, took: Duration, limit: Duration) -> Self {
        match self {
            Self::Provision {
                what,
                message,
                transient,
            } => Self::Provision {
                what,
                message: format!(
                    "{message} (still failing after {retries} retries in {:.0} s; `worker.provision_timeout` is {})",
                    took.as_secs_f64(),
                    humantime::format_duration(limit)
                ),
                transient,
            },
            other @ Self::Connect { .. } => other,
        }
    }
}

/// A provisioning failure of a JetStream request, transient or not as the
/// error says.
fn provision<E>(what: impl Into<String>, e: &E) -> SetupError
where
    E: std::fmt::Display + Transient,
{
    SetupError::Provision {
        what: what.into(),
        message: e.to_string(),
        transient: e.is_transient(),
    }
}

/// A definite provisioning failure found by the worker itself.
fn refused(what: impl Into<String>, message: impl Into<String>) -> SetupError {
    SetupError::Provision {
        what: what.into(),
        message: message.into(),
        transient: false,
    }
}

/// Connects, retrying in the background after the first connection is lost.
///
/// Authenticates as [`NatsConfig`] says (user and password, token, NKey or
/// credentials file) and sets up TLS (a private CA, a client certificate,
/// TLS required). Secrets are resolved here and never appear in errors.
///
/// # Errors
/// [`SetupError::Connect`] when a secret cannot be read or the first
/// connection fails within the timeout; the message names the cause
/// (authorization refused, TLS, timeout) and the server URL without credentials.
pub async fn connect(
    cfg: &NatsConfig,
    client_name: &str,
) -> Result<async_nats::Client, SetupError> {
    let fail = |message: String| SetupError::Connect {
        url: cfg.redacted_url(),
        message,
    };
    let mut opts = async_nats::ConnectOptions::new()
        .name(client_name)
        .connection_timeout(cfg.connect_timeout.0)
        .max_reconnects(None);
    let secret = |field: &str, r: &SecretRef| {
        r.resolve()
            .map_err(|e| fail(format!("`nats.{field}` ({}): {e}", r.describe())))
    };
    let mode = match cfg.auth().map_err(fail)? {
        NatsAuth::None => "no authentication",
        NatsAuth::UserPassword(user, password) => {
            let user = secret("user", user)?;
            let password = secret("password", password)?;
            opts = opts.user_and_password(user.expose().to_owned(), password.expose().to_owned());
            "user and password"
        }
        NatsAuth::Token(token) => {
            opts = opts.token(secret("token", token)?.expose().to_owned());
            "token"
        }
        NatsAuth::Nkey(seed) => {
            let seed = secret("nkey_seed", seed)?;
            let seed = seed.expose().trim();
            if !seed.starts_with("SU") || nkeys::KeyPair::from_seed(seed).is_err() {
                return Err(fail(
                    "`nats.nkey_seed` is not an NKey user seed (a line starting with `SU`)".into(),
                ));
            }
            opts = opts.nkey(seed.to_owned());
            "NKey"
        }
        NatsAuth::Credentials(path) => {
            opts = opts.credentials_file(path).await.map_err(|e| {
                fail(format!(
                    "`nats.credentials_file` {}: {}",
                    path.display(),
                    first_line_without_secrets(&e.to_string())
                ))
            })?;
            "credentials file"
        }
    };
    if let Some(tls) = &cfg.tls {
        for (field, path) in [
            ("ca_file", &tls.ca_file),
            ("cert_file", &tls.cert_file),
            ("key_file", &tls.key_file),
        ] {
            if let Some(p) = path
                && let Err(e) = std::fs::metadata(p)
            {
                return Err(fail(format!("`nats.tls.{field}` {}: {e}", p.display())));
            }
        }
        if let Some(ca) = &tls.ca_file {
            opts = opts.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        if tls.required {
            opts = opts.require_tls(true);
        }
    }
    tokio::time::timeout(cfg.connect_timeout.0, opts.connect(server_list(&cfg.url)))
        .await
        .map_err(|_| fail(format!("no answer within {}", cfg.connect_timeout)))?
        .map_err(|e| fail(connect_error(&e, mode)))
}

/// The servers of a comma-separated `nats.url` (async-nats parses one URL
/// per entry, not a comma-separated string).
fn server_list(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// Why a connection failed, in words an operator can act on.
fn connect_error(e: &async_nats::ConnectError, mode: &str) -> String {
    use async_nats::ConnectErrorKind as K;
    let detail = first_line_without_secrets(&crate::http::error_chain(e));
    let tls =
        crate::http::find_in_chain::<rustls::Error>(e).is_some() || detail.contains("certificate");
    match e.kind() {
        _ if tls => format!(
            "TLS failed: {detail}; check `nats.tls.ca_file` (the CA that signed the server's certificate), `cert_file` and `key_file`"
        ),
        K::AuthorizationViolation => format!(
            "the server refused the credentials (authorization violation, using {mode}); check `nats.user`/`password`, `token`, `nkey_seed` or `credentials_file`"
        ),
        K::Authentication => format!(
            "authentication failed before the server could check it (using {mode}): {detail}"
        ),
        K::Tls => format!(
            "TLS failed: {detail}; check `nats.tls.ca_file` (the CA that signed the server's certificate), `cert_file` and `key_file`"
        ),
        _ => detail,
    }
}

/// An error's first line, with anything shaped like an NKey seed or a JWT
/// replaced (library errors sometimes quote what they could not parse).
fn first_line_without_secrets(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.split(' ')
        .map(|word| {
            let token = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let seed = token.len() >= 56
                && token.starts_with('S')
                && token
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
            let jwt = token.starts_with("eyJ") && token.len() > 40;
            if seed || jwt { "<redacted>" } else { word }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Creates the event stream if it is missing, or checks it exists when `create` is off.
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses.
pub async fn ensure_event_stream(
    js: &jetstream::Context,
    cfg: &StreamConfig,
) -> Result<stream::Stream, SetupError> {
    if !cfg.create {
        return js
            .get_stream(&cfg.name)
            .await
            .map_err(|e| provision(format!("stream {}", cfg.name), &e));
    }
    js.get_or_create_stream(stream::Config {
        name: cfg.name.clone(),
        subjects: cfg
            .subjects
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        max_age: cfg.max_age.0,
        duplicate_window: cfg.duplicate_window.0,
        num_replicas: cfg.replicas,
        description: Some("Herald events".into()),
        ..Default::default()
    })
    .await
    .map_err(|e| provision(format!("stream {}", cfg.name), &e))
}

/// Creates the dead-letter stream if it is missing.
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses.
pub async fn ensure_dlq_stream(
    js: &jetstream::Context,
    cfg: &DlqConfig,
) -> Result<stream::Stream, SetupError> {
    js.get_or_create_stream(stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![format!("{}.>", cfg.subject_prefix)],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        max_age: cfg.max_age.0,
        duplicate_window: Duration::from_secs(120),
        num_replicas: cfg.replicas,
        description: Some("Herald dead letters".into()),
        ..Default::default()
    })
    .await
    .map_err(|e| provision(format!("stream {}", cfg.stream), &e))
}

/// Opens the receipts bucket, creating its stream first when missing.
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses.
pub async fn ensure_receipts_bucket(
    js: &jetstream::Context,
    cfg: &ReceiptsConfig,
) -> Result<jetstream::kv::Store, SetupError> {
    ensure_bucket(js, &cfg.bucket, cfg.max_age.0, cfg.replicas).await
}

/// Opens the status records bucket, creating its stream first when missing.
/// Records are kept until overwritten (no age limit).
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses.
pub async fn ensure_status_bucket(
    js: &jetstream::Context,
    cfg: &StatusConfig,
) -> Result<jetstream::kv::Store, SetupError> {
    ensure_bucket(js, &cfg.bucket, Duration::ZERO, cfg.replicas).await
}

/// Creates a key-value bucket's stream by hand when missing (async-nats cannot
/// create buckets on nats-server 2.9), then opens the bucket. A zero `max_age`
/// keeps entries until they are overwritten.
async fn ensure_bucket(
    js: &jetstream::Context,
    bucket: &str,
    max_age: Duration,
    replicas: usize,
) -> Result<jetstream::kv::Store, SetupError> {
    let stream_name = format!("KV_{bucket}");
    let window = Duration::from_secs(120);
    js.get_or_create_stream(stream::Config {
        name: stream_name.clone(),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        storage: StorageType::File,
        num_replicas: replicas,
        duplicate_window: if max_age.is_zero() {
            window
        } else {
            window.min(max_age)
        },
        ..Default::default()
    })
    .await
    .map_err(|e| provision(format!("stream {stream_name}"), &e))?;
    js.get_key_value(bucket)
        .await
        .map_err(|e| provision(format!("bucket {bucket}"), &e))
}

/// Creates the replay stream (`<prefix>.>`) if it is missing.
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses.
pub async fn ensure_replay_stream(
    js: &jetstream::Context,
    cfg: &ReplayConfig,
) -> Result<stream::Stream, SetupError> {
    js.get_or_create_stream(stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![format!("{}.>", cfg.subject_prefix)],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        max_age: cfg.max_age.0,
        duplicate_window: Duration::from_secs(120),
        num_replicas: cfg.replicas,
        description: Some("Herald replays of dead letters, one subject per destination".into()),
        ..Default::default()
    })
    .await
    .map_err(|e| provision(format!("stream {}", cfg.stream), &e))
}

/// Creates the digest stream (`<prefix>.>`) if it is missing. Its duplicate
/// window is an hour, so an event appended again after a crash is stored once.
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses.
pub async fn ensure_digest_stream(
    js: &jetstream::Context,
    cfg: &DigestConfig,
) -> Result<stream::Stream, SetupError> {
    js.get_or_create_stream(stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![format!("{}.>", cfg.subject_prefix)],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        max_age: cfg.max_age.0,
        duplicate_window: Duration::from_secs(3600).min(cfg.max_age.0),
        num_replicas: cfg.replicas,
        description: Some("Herald digest windows, one subject per destination and window".into()),
        ..Default::default()
    })
    .await
    .map_err(|e| provision(format!("stream {}", cfg.stream), &e))
}

/// Opens the digest claims bucket, creating its stream first when missing.
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses.
pub async fn ensure_digest_bucket(
    js: &jetstream::Context,
    cfg: &DigestConfig,
) -> Result<jetstream::kv::Store, SetupError> {
    ensure_bucket(js, &cfg.bucket, cfg.max_age.0, cfg.replicas).await
}

/// The subject replays for `destination` are published on: `<prefix>.<destination>`.
pub fn replay_subject(cfg: &ReplayConfig, destination: &str) -> String {
    format!("{}.{destination}", cfg.subject_prefix)
}

/// The durable consumer of a destination's replays (on the replay stream):
/// `herald_<channel>_<destination>_replay`.
pub fn replay_consumer_name(channel: &str, destination: &str) -> String {
    format!("herald_{channel}_{destination}_replay")
}

/// Gets or creates the durable consumer of a destination's replays. It starts
/// with every replay still stored, so a replay published before the worker
/// first ran is not missed (receipts keep a replay from being sent twice).
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses or changed the filter.
pub async fn ensure_replay_consumer(
    stream: &stream::Stream,
    name: &str,
    subject: &str,
    settings: ConsumerSettings,
) -> Result<consumer::Consumer<consumer::pull::Config>, SetupError> {
    ensure_pull_consumer(
        stream,
        name,
        subject,
        consumer::DeliverPolicy::All,
        settings,
    )
    .await
}

/// The durable consumer name for one destination and pattern:
/// `herald_<channel>_<destination>_<pattern token>`.
pub fn consumer_name(channel: &str, destination: &str, pattern: &SubjectPattern) -> String {
    format!(
        "herald_{channel}_{destination}_{}",
        pattern.consumer_token()
    )
}

/// Settings of a destination's durable pull consumers.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerSettings {
    /// How long before an unacknowledged event is redelivered.
    pub ack_wait: Duration,
    /// Events delivered but not yet acked, delayed retries included.
    pub max_ack_pending: i64,
}

/// Gets or creates the durable pull consumer for `pattern`, then checks that the
/// server kept its filter (a server that dropped it would deliver everything).
///
/// # Errors
/// [`SetupError::Provision`] when JetStream refuses or changed the filter.
pub async fn ensure_consumer(
    stream: &stream::Stream,
    name: &str,
    pattern: &SubjectPattern,
    settings: ConsumerSettings,
) -> Result<consumer::Consumer<consumer::pull::Config>, SetupError> {
    ensure_pull_consumer(
        stream,
        name,
        pattern.as_str(),
        consumer::DeliverPolicy::New,
        settings,
    )
    .await
}

async fn ensure_pull_consumer(
    stream: &stream::Stream,
    name: &str,
    filter: &str,
    deliver_policy: consumer::DeliverPolicy,
    settings: ConsumerSettings,
) -> Result<consumer::Consumer<consumer::pull::Config>, SetupError> {
    let config = consumer::pull::Config {
        durable_name: Some(name.to_string()),
        filter_subject: filter.to_string(),
        ack_policy: consumer::AckPolicy::Explicit,
        deliver_policy,
        ack_wait: settings.ack_wait,
        max_ack_pending: settings.max_ack_pending,
        description: Some(format!("Herald: {filter}")),
        ..Default::default()
    };
    let mut consumer = stream
        .get_or_create_consumer(name, config)
        .await
        .map_err(|e| provision(format!("consumer {name}"), &e))?;
    let info = consumer
        .info()
        .await
        .map_err(|e| provision(format!("consumer {name}"), &e))?;
    if info.config.filter_subject != filter {
        return Err(refused(
            format!("consumer {name}"),
            format!(
                "it filters `{}`, not `{filter}`; delete it so it can be recreated",
                info.config.filter_subject
            ),
        ));
    }
    Ok(consumer)
}

#[cfg(test)]
mod tests {
    use super::{first_line_without_secrets, server_list};

    #[test]
    fn a_comma_separated_url_is_a_list_of_servers() {
        assert_eq!(
            server_list("nats://a:4222, nats://b:4222,,nats://c:4222"),
            ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        );
        assert_eq!(server_list("nats://a:4222"), ["nats://a:4222"]);
    }

    #[test]
    fn seeds_and_jwts_are_cut_from_errors() {
        let seed = "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU";
        assert_eq!(
            first_line_without_secrets(&format!("bad key `{seed}` here\nnext")),
            "bad key <redacted> here"
        );
        assert_eq!(
            first_line_without_secrets(
                "jwt eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.x.y refused"
            ),
            "jwt <redacted> refused"
        );
        assert_eq!(
            first_line_without_secrets("SUCCESS is not an error"),
            "SUCCESS is not an error"
        );
    }
}
