//! The SMTP transport: connections (STARTTLS, implicit TLS or none; AUTH) kept
//! in a small pool, and one mail transaction per send, its replies classified.
//!
//! Replies: `250` after the data is success; `4yz` is retried; `5yz` is
//! permanent. Recipients are offered one by one: when some are refused and
//! others accepted, the mail goes to the accepted ones and the refused are
//! logged and kept in the receipt; when all are refused the event fails
//! (retried if any refusal was temporary). lettre's own transport stops at
//! the first refused recipient, so the transaction is driven here with
//! lettre's connection and commands.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_core::http::error_chain;
use herald_core::outbound::{OutboundPolicy, ResolveError};
use herald_core::outcome::{Failure, Outcome};
use herald_core::text::truncate;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailParameter};
use tokio::time::Instant;

use crate::config::TlsMode;

/// A pooled connection and when it was last used.
struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
}

/// A built SMTP transport.
pub(crate) struct SmtpTransport {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: TlsMode,
    pub(crate) tls_parameters: Option<TlsParameters>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) hello: ClientId,
    pub(crate) timeout: Duration,
    pub(crate) max_idle: usize,
    pub(crate) idle_timeout: Duration,
    /// The deployment's outbound allow-list.
    pub(crate) outbound: Arc<OutboundPolicy>,
    pool: Mutex<Vec<Idle>>,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("auth", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

/// The outcome for an SMTP error at `stage`: a reply code decides (`4yz`
/// retry, `5yz` permanent); no reply (network, timeout, TLS) is retried.
fn failure(stage: &str, e: &SmtpError) -> Outcome {
    let text = error_chain(e);
    let mut f = Failure::new(format!("SMTP {stage}: {}", truncate(&text, 300)));
    if let Some(code) = e.status() {
        f = f
            .with_status(u16::from(code))
            .with_excerpt(truncate(&text, 500));
    }
    if e.is_permanent() {
        Outcome::Permanent(f)
    } else {
        Outcome::Retry(f)
    }
}

/// Whether the server answered (the connection is still in step).
fn answered(e: &SmtpError) -> bool {
    e.status().is_some()
}

impl SmtpTransport {
    #[expect(clippy::too_many_arguments, reason = "built once, from the settings")]
    pub(crate) fn new(
        host: String,
        port: u16,
        tls: TlsMode,
        tls_parameters: Option<TlsParameters>,
        credentials: Option<Credentials>,
        hello: ClientId,
        timeout: Duration,
        max_idle: usize,
        idle_timeout: Duration,
        outbound: Arc<OutboundPolicy>,
    ) -> Self {
        Self {
            host,
            port,
            tls,
            tls_parameters,
            credentials,
            hello,
            timeout,
            max_idle,
            idle_timeout,
            outbound,
            pool: Mutex::new(Vec::new()),
        }
    }

    /// `host:port`, for logs and previews.
    pub(crate) fn target(&self) -> String {
        format!("smtp://{}:{}", self.host, self.port)
    }

    /// Sends one message to its envelope's recipients, within the timeout.
    pub(crate) async fn send(&self, envelope: &Envelope, mime: &[u8], message_id: &str) -> Outcome {
        match tokio::time::timeout(self.timeout, self.deliver(envelope, mime, message_id)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Retry(Failure::new(format!(
                "SMTP: no answer within {:?} (the message may have been delivered; a retry carries the same Message-ID)",
                self.timeout
            ))),
        }
    }

    async fn deliver(&self, envelope: &Envelope, mime: &[u8], message_id: &str) -> Outcome {
        let mut conn = match self.checkout().await {
            Ok(c) => c,
            Err(outcome) => return outcome,
        };
        let (outcome, reusable) = transaction(&mut conn, envelope, mime, message_id).await;
        if reusable && !conn.has_broken() {
            self.checkin(conn);
        } else {
            conn.abort().await;
        }
        outcome
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A live pooled connection, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, Outcome> {
        loop {
            let idle = self.lock().pop();
            let Some(mut idle) = idle else { break };
            if idle.since.elapsed() > self.idle_timeout {
                idle.conn.abort().await;
                continue;
            }
            if idle.conn.test_connected().await {
                return Ok(idle.conn);
            }
            idle.conn.abort().await;
        }
        self.connect().await
    }

    fn checkin(&self, conn: AsyncSmtpConnection) {
        let mut pool = self.lock();
        if pool.len() < self.max_idle {
            pool.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
        // Otherwise the connection is dropped, which closes it.
    }

    /// Where to connect: with an outbound allow-list, the first allowed
    /// address of the host (resolved here, so the connection goes exactly
    /// there; the certificate is still checked against the host name).
    async fn server_address(&self) -> Result<Vec<std::net::SocketAddr>, Outcome> {
        if !self.outbound.is_restricted() {
            return tokio::net::lookup_host((self.host.trim_matches(['[', ']']), self.port))
                .await
                .map(Iterator::collect)
                .map_err(|e| {
                    Outcome::Retry(Failure::new(format!(
                        "SMTP connect: cannot resolve {}: {e}",
                        self.host
                    )))
                });
        }
        self.outbound
            .resolve(&self.host, self.port)
            .await
            .map_err(|e| match e {
                ResolveError::Refused(r) => {
                    Outcome::Permanent(Failure::new(r.to_string()).broken())
                }
                ResolveError::Lookup(m) => {
                    Outcome::Retry(Failure::new(format!("SMTP connect: {m}")))
                }
            })
    }

    /// Connects, secures and authenticates a new connection.
    async fn connect(&self) -> Result<AsyncSmtpConnection, Outcome> {
        let implicit = match self.tls {
            TlsMode::Tls => self.tls_parameters.clone(),
            TlsMode::Starttls | TlsMode::None => None,
        };
        let server = self.server_address().await?;
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            &server[..],
            Some(self.timeout),
            &self.hello,
            implicit,
            None,
        )
        .await
        .map_err(|e| match failure("connect", &e) {
            // Implicit TLS with an untrusted certificate: a configuration
            // problem that retrying cannot fix (`smtp.ca_file`).
            Outcome::Retry(f) if f.reason.contains("certificate") => Outcome::Permanent(f.broken()),
            other => other,
        })?;
        if self.tls == TlsMode::Starttls {
            let Some(params) = self.tls_parameters.clone() else {
                conn.abort().await;
                return Err(Outcome::Retry(Failure::new("SMTP: no TLS parameters")));
            };
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(Outcome::Retry(
                    Failure::new(
                        "SMTP: the server does not offer STARTTLS, which `tls: starttls` requires",
                    )
                    .broken(),
                ));
            }
            if let Err(e) = conn.starttls(params, &self.hello).await {
                // Not `abort`: after a failed TLS upgrade lettre's stream is
                // gone, and writing QUIT to it panics. Dropping closes the socket.
                drop(conn);
                let outcome = failure("STARTTLS", &e);
                return Err(match outcome {
                    // The server's certificate is not trusted or not for this
                    // host: a configuration problem (`smtp.host`, `smtp.ca_file`).
                    Outcome::Retry(f) if e.is_tls() || f.reason.contains("certificate") => {
                        Outcome::Permanent(f.broken())
                    }
                    other => other,
                });
            }
        }
        if let Some(credentials) = &self.credentials {
            let mechanisms = [Mechanism::Plain, Mechanism::Login];
            if let Err(e) = conn.auth(&mechanisms, credentials).await {
                conn.abort().await;
                return Err(match failure("AUTH", &e) {
                    // 535 and friends: the credentials are wrong.
                    Outcome::Permanent(f) => Outcome::Permanent(f.broken()),
                    Outcome::Retry(f) if e.is_client() => Outcome::Permanent(f.broken()),
                    other => other,
                });
            }
        }
        Ok(conn)
    }
}

/// One mail transaction on an open connection. Returns the outcome and
/// whether the connection may be reused.
async fn transaction(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    mime: &[u8],
    message_id: &str,
) -> (Outcome, bool) {
    let mut params = Vec::new();
    let non_ascii = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|a: &Address| !a.to_string().is_ascii());
    if non_ascii && conn.server_info().supports_feature(Extension::SmtpUtfEight) {
        params.push(MailParameter::SmtpUtfEight);
    }
    if let Err(e) = conn
        .command(Mail::new(envelope.from().cloned(), params))
        .await
    {
        let reusable = answered(&e) && conn.command(Rset).await.is_ok();
        return match failure("MAIL FROM", &e) {
            Outcome::Permanent(f) => (
                Outcome::Permanent(
                    Failure {
                        reason: format!("{} (the sender was refused)", f.reason),
                        ..f
                    }
                    .broken(),
                ),
                reusable,
            ),
            other => (other, reusable),
        };
    }
    let mut accepted: Vec<&Address> = Vec::new();
    let mut refused: Vec<(&Address, SmtpError)> = Vec::new();
    for rcpt in envelope.to() {
        match conn.command(Rcpt::new(rcpt.clone(), vec![])).await {
            Ok(_) => accepted.push(rcpt),
            Err(e) if answered(&e) => refused.push((rcpt, e)),
            Err(e) => return (failure("RCPT TO", &e), false),
        }
    }
    let refusals: Vec<String> = refused
        .iter()
        .map(|(a, e)| format!("{a} ({})", truncate(&error_chain(e), 160)))
        .collect();
    if accepted.is_empty() {
        let reusable = conn.command(Rset).await.is_ok();
        let first = refused.first().and_then(|(_, e)| e.status()).map(u16::from);
        let mut f = Failure::new(format!(
            "SMTP RCPT TO: every recipient was refused: {}",
            truncate(&refusals.join("; "), 400)
        ))
        .with_excerpt(truncate(&refusals.join("\n"), 500));
        if let Some(code) = first {
            f = f.with_status(code);
        }
        let transient = refused.iter().any(|(_, e)| e.is_transient());
        return (
            if transient {
                Outcome::Retry(f)
            } else {
                Outcome::Permanent(f)
            },
            reusable,
        );
    }
    if let Err(e) = conn.command(Data).await {
        let reusable = answered(&e) && conn.command(Rset).await.is_ok();
        return (failure("DATA", &e), reusable);
    }
    match conn.message(mime).await {
        Ok(response) => {
            let status = u16::from(response.code());
            let handle = if refused.is_empty() {
                message_id.to_owned()
            } else {
                tracing::warn!(
                    accepted = accepted.len(),
                    refused = %refusals.join("; "),
                    "Some recipients were refused; the mail went to the others."
                );
                format!("{message_id} refused: {}", refusals.join("; "))
            };
            (
                Outcome::Delivered {
                    handle: Some(truncate(&handle, 1000).into_owned()),
                    status: Some(status),
                    hold: None,
                },
                true,
            )
        }
        Err(e) if answered(&e) => (failure("end of data", &e), true),
        Err(e) => (
            Outcome::Retry(Failure::new(format!(
                "SMTP: the connection was lost before the server confirmed the message ({}); it may have been delivered, and a retry carries the same Message-ID",
                truncate(&error_chain(&e), 200)
            ))),
            false,
        ),
    }
}
