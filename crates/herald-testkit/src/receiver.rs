//! A real HTTP server on loopback that records every request and answers from a script.
//!
//! Each request is answered by, in order: the next scripted [`Reply`] in the
//! queue, else the responder closure (when set and it returns `Some`), else the
//! default reply (`200 OK` unless changed). A reply may wait before answering,
//! to play a slow or hanging endpoint.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Largest request body recorded.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
    /// How long the server waits before answering.
    pub delay: Duration,
}

impl Reply {
    /// An answer with this status, no body, at once.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    /// `200 OK`.
    pub fn ok() -> Self {
        Self::status(200)
    }

    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the response body.
    #[must_use]
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }

    /// Waits this long before answering (a slow or hanging server).
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// 0-based arrival order.
    pub index: usize,
    /// `POST`, `PUT`, ...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers in arrival order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// When it arrived.
    pub arrived: Instant,
    /// When the server finished answering it (`None` while it waits, or when
    /// the client gave up first).
    pub answered: Option<Instant>,
    /// The status of the reply it was given, chosen on arrival (0 while the
    /// responder is still choosing it).
    pub status: u16,
}

impl Recorded {
    /// The first value of a header (name compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Errors
    /// When the body is not JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("request {} body is not JSON: {}", self.index, self.text()))
    }

    /// Herald's `X-Herald-Event-Id` header.
    pub fn event_id(&self) -> Option<&str> {
        self.header("x-herald-event-id")
    }

    /// True when the reply it was given is a success (2xx).
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Chooses a reply for a request, or `None` to fall through to the default.
pub type Responder = Arc<dyn Fn(&Recorded) -> Option<Reply> + Send + Sync>;

struct Shared {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
    responder: Mutex<Option<Responder>>,
    default: Mutex<Reply>,
    arrived: watch::Sender<usize>,
    /// When set, only these headers (lowercase) are recorded, and no body.
    lean: Mutex<Option<Vec<String>>>,
    /// Event ids given a 2xx reply at least once.
    accepted: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An HTTP server on `127.0.0.1:<free port>`, stopped on drop.
pub struct Receiver {
    port: u16,
    scheme: &'static str,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("port", &self.port)
            .field("requests", &self.count())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Starts a receiver answering `200 OK` to everything not scripted.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> Result<Self> {
        Self::start_with_default(Reply::ok()).await
    }

    /// Starts a receiver whose default answer is `default`.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start_with_default(default: Reply) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the receiver")?;
        let port = listener.local_addr()?.port();
        let (arrived, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            responder: Mutex::new(None),
            default: Mutex::new(default),
            arrived,
            lean: Mutex::new(None),
            accepted: Mutex::new(HashSet::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            port,
            scheme: "http",
            shared,
            server,
        })
    }

    /// Starts an HTTPS receiver answering `200 OK`, serving the PEM
    /// certificate chain `cert` with its key `key` (see [`crate::TestCa`]).
    /// Connections whose handshake fails are closed without a request.
    ///
    /// # Errors
    /// When the files cannot be read or no loopback port can be bound.
    pub async fn start_tls(cert: &Path, key: &Path) -> Result<Self> {
        use rustls_pki_types::pem::PemObject as _;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("reading {}", cert.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading {}", cert.display()))?;
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("reading {}", key.display()))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the receiver's certificate")?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the receiver")?;
        let port = listener.local_addr()?.port();
        let (arrived, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            responder: Mutex::new(None),
            default: Mutex::new(Reply::ok()),
            arrived,
            lean: Mutex::new(None),
            accepted: Mutex::new(HashSet::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(Self {
            port,
            scheme: "https",
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:<port>/hook`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.base_url())
    }

    /// `http://127.0.0.1:<port>` (`https://` for [`Receiver::start_tls`]).
    pub fn base_url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// Queues one scripted reply (used before the responder and the default).
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
    }

    /// Queues several scripted replies, in order.
    pub fn push_all(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// Sets the answer used when the queue is empty and the responder declines.
    pub fn set_default(&self, reply: Reply) {
        *lock(&self.shared.default) = reply;
    }

    /// Sets a closure that picks the reply per request (after the queue).
    /// It runs while the request log is locked: it must not call the receiver.
    pub fn respond_with(&self, f: impl Fn(&Recorded) -> Option<Reply> + Send + Sync + 'static) {
        *lock(&self.shared.responder) = Some(Arc::new(f));
    }

    /// Records only these headers of each request and no body, so that a
    /// receiver taking millions of requests stays small.
    pub fn keep_only(&self, headers: &[&str]) {
        *lock(&self.shared.lean) = Some(headers.iter().map(|h| h.to_ascii_lowercase()).collect());
    }

    /// How many distinct events (`X-Herald-Event-Id`) were given a 2xx reply.
    pub fn accepted_events(&self) -> usize {
        lock(&self.shared.accepted).len()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// How many requests each `X-Herald-Event-Id` had.
    pub fn by_event(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in lock(&self.shared.requests).iter() {
            if let Some(id) = r.event_id() {
                *out.entry(id.to_string()).or_insert(0) += 1;
            }
        }
        out
    }

    /// Waits until at least `n` requests arrived, then returns them all.
    ///
    /// # Errors
    /// When fewer than `n` arrived within `deadline`.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> Result<Vec<Recorded>> {
        let mut rx = self.shared.arrived.subscribe();
        let reached = tokio::time::timeout(deadline, rx.wait_for(|c| *c >= n)).await;
        match reached {
            Ok(Ok(_)) => Ok(self.requests()),
            Ok(Err(_)) => Err(anyhow!("the receiver stopped")),
            Err(_) => Err(anyhow!(
                "timed out after {deadline:?}: {} of {n} requests arrived at {}",
                self.count(),
                self.url()
            )),
        }
    }

    /// Waits until every one of `ids` was received at least once.
    ///
    /// # Errors
    /// When some are still missing after `deadline`.
    pub async fn wait_for_events(&self, ids: &[String], deadline: Duration) -> Result<()> {
        let mut rx = self.shared.arrived.subscribe();
        let all_seen = |_: &usize| {
            let seen = self.by_event();
            ids.iter().all(|id| seen.contains_key(id))
        };
        match tokio::time::timeout(deadline, rx.wait_for(all_seen)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(anyhow!("the receiver stopped")),
            Err(_) => {
                let seen = self.by_event();
                let missing: Vec<&String> =
                    ids.iter().filter(|id| !seen.contains_key(*id)).collect();
                Err(anyhow!(
                    "timed out after {deadline:?}: {} of {} events still missing at {} (first: {:?})",
                    missing.len(),
                    ids.len(),
                    self.url(),
                    missing.iter().take(5).collect::<Vec<_>>()
                ))
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let arrived = Instant::now();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let lean = lock(&shared.lean).clone();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| {
            lean.as_ref()
                .is_none_or(|keep| keep.iter().any(|h| h == k.as_str()))
        })
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let (index, reply) = {
        let mut requests = lock(&shared.requests);
        let index = requests.len();
        let recorded = Recorded {
            index,
            method: parts.method.as_str().to_string(),
            path,
            headers,
            body: if lean.is_some() { Bytes::new() } else { body },
            arrived,
            answered: None,
            status: 0,
        };
        let scripted = lock(&shared.script).pop_front();
        let reply = scripted
            .or_else(|| {
                let responder = lock(&shared.responder).clone();
                responder.and_then(|f| f(&recorded))
            })
            .unwrap_or_else(|| lock(&shared.default).clone());
        let mut recorded = recorded;
        recorded.status = reply.status;
        if recorded.accepted()
            && let Some(id) = recorded.event_id()
        {
            lock(&shared.accepted).insert(id.to_string());
        }
        requests.push(recorded);
        (index, reply)
    };
    // Never lowered: a later request may publish its count first.
    shared.arrived.send_modify(|c| *c = (*c).max(index + 1));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if let Some(r) = lock(&shared.requests).get_mut(index) {
        r.answered = Some(Instant::now());
    }
    build(&reply)
}

fn build(reply: &Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body.clone()));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &reply.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            response.headers_mut().append(k, v);
        }
    }
    response
}
