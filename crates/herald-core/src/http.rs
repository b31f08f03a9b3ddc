//! The HTTP plumbing every HTTP channel shares: one client per destination, one
//! exchange per send, and the default classification of the answer.
//!
//! A channel builds its request, calls [`HttpClient::exchange`], and either accepts the
//! default verdict ([`HttpReply::default_outcome`]) or reads the status and body
//! itself when its provider answers in its own way (Slack's `200 ok`, a Teams
//! connector's `HTTP error 429` inside a 200).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::HeaderMap;

use crate::channel::BuildError;
use crate::config::Destination;
use crate::outbound::{OutboundPolicy, PolicyResolver, Refused};
use crate::outcome::{Failure, HttpClass, Outcome, classify_http, excerpt, parse_retry_after};

/// The most of a response body kept by default: enough for every provider's
/// error answer, small enough for a dead letter.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The part of a body copied into a dead letter.
pub const EXCERPT_BYTES: usize = 512;

/// The HTTP client of one destination: `timeout` per request, redirects not
/// followed (a 3xx is a failure), rustls verifying certificates against the
/// public roots plus the destination's `tls.ca_file`, the deployment's
/// outbound allow-list enforced on every URL and every resolved address, and
/// `User-Agent: herald-<channel>/<version>`.
///
/// Requests are made with [`HttpClient::request`] (or `get`, `post`, ...) and
/// sent with [`HttpClient::exchange`].
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    outbound: Arc<OutboundPolicy>,
}

/// Builds the HTTP client of `destination` for `channel`.
///
/// With `tls.insecure_skip_verify` it logs a warning naming the destination
/// each time (each start of a worker, each `herald` command).
///
/// # Errors
/// A [`BuildError`] naming `tls.ca_file` when the bundle cannot be read, or
/// when the TLS stack cannot be set up.
pub fn client(
    channel: &str,
    destination: &Destination,
    timeout: Duration,
) -> Result<HttpClient, BuildError> {
    let tls = &destination.tls.value;
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(format!("herald-{channel}/{}", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &tls.ca_file {
        for cert in read_ca_bundle(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    if tls.insecure_skip_verify {
        tracing::warn!(
            destination = destination.name(),
            channel,
            "TLS certificate verification is OFF for this destination (`tls.insecure_skip_verify: true`): \
             anyone on the path can read and change its requests. Use `tls.ca_file` instead."
        );
        builder = builder.danger_accept_invalid_certs(true);
    }
    if destination.outbound.is_restricted() {
        builder = builder.dns_resolver(Arc::new(PolicyResolver::new(destination.outbound.clone())));
    }
    let inner = builder
        .build()
        .map_err(|e| BuildError::new("", format!("cannot build the HTTP client: {e}")))?;
    Ok(HttpClient {
        inner,
        outbound: destination.outbound.clone(),
    })
}

/// The certificates of a PEM bundle.
fn read_ca_bundle(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, BuildError> {
    let field = "tls.ca_file";
    let pem = std::fs::read(path)
        .map_err(|e| BuildError::new(field, format!("cannot read {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        BuildError::new(
            field,
            format!("{} is not a PEM certificate bundle: {e}", path.display()),
        )
    })?;
    if certs.is_empty() {
        return Err(BuildError::new(
            field,
            format!(
                "{} holds no certificate; expected PEM `-----BEGIN CERTIFICATE-----` blocks",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

impl HttpClient {
    /// A request; send it with [`HttpClient::exchange`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
    ) -> reqwest::RequestBuilder {
        self.inner.request(method, url)
    }

    /// A GET request.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.inner.get(url)
    }

    /// A POST request.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.inner.post(url)
    }

    /// A PUT request.
    pub fn put(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.inner.put(url)
    }

    /// Sends one request and reads the answer (at most `body_limit` bytes of it).
    ///
    /// # Errors
    /// When no answer arrived: a retryable failure (timeouts, refused
    /// connections, broken transfers), or a permanent failure of a broken
    /// destination when retrying cannot help (the target is outside the
    /// outbound allow-list, its certificate is not trusted).
    pub async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        body_limit: usize,
    ) -> Result<HttpReply, Outcome> {
        let request = request.build().map_err(|e| {
            Outcome::Permanent(Failure::new(format!("invalid request: {}", describe(&e))))
        })?;
        if let Err(refused) = self.outbound.check_url(request.url()) {
            return Err(Outcome::Permanent(
                Failure::new(refused.to_string()).broken(),
            ));
        }
        exchange(self.inner.execute(request), body_limit).await
    }
}

/// What the provider answered.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, cut at the limit given to [`HttpClient::exchange`].
    pub body: Vec<u8>,
    /// `Retry-After`, read as seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
}

/// Awaits the response and reads at most `body_limit` bytes of its body.
async fn exchange(
    sent: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
    body_limit: usize,
) -> Result<HttpReply, Outcome> {
    let mut response = sent.await.map_err(|e| transport_failure(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    let mut body = Vec::new();
    while body.len() < body_limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) if (200..300).contains(&status) => {
                // The provider accepted the request; a broken body does not undo that.
                tracing::debug!(error = %e, "Response body cut short.");
                break;
            }
            Err(e) => return Err(transport_failure(&e)),
        }
    }
    body.truncate(body_limit);
    Ok(HttpReply {
        status,
        headers,
        body,
        retry_after,
    })
}

/// The outcome of a request that got no answer: retried, unless the target
/// was refused by the outbound allow-list or its certificate is not trusted
/// (permanent, and the destination is broken).
fn transport_failure(e: &reqwest::Error) -> Outcome {
    if let Some(refused) = find_in_chain::<Refused>(e) {
        return Outcome::Permanent(Failure::new(refused.to_string()).broken());
    }
    if let Some(tls) = find_in_chain::<rustls::Error>(e)
        && is_certificate_problem(tls)
    {
        return Outcome::Permanent(
            Failure::new(format!(
                "the server's TLS certificate is not trusted ({tls}); if the provider uses a private CA, set `tls.ca_file`"
            ))
            .broken(),
        );
    }
    let detail = describe(e);
    let reason = if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        format!("cannot connect: {detail}")
    } else {
        format!("request failed: {detail}")
    };
    Outcome::Retry(Failure::new(reason))
}

/// An error and its sources. reqwest names the full URL in its errors, and
/// webhook URLs carry their token: only scheme, host and port are kept.
fn describe(e: &reqwest::Error) -> String {
    let detail = error_chain(e);
    match e.url() {
        Some(url) => detail.replace(url.as_str(), &redact_url(url.as_str())),
        None => detail,
    }
}

/// Certificate errors, as opposed to a connection cut during the handshake.
fn is_certificate_problem(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::UnsupportedNameType
    )
}

/// The first error of type `T` in `e`'s chain, looking inside I/O errors
/// (whose `source` skips the error they wrap).
pub fn find_in_chain<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(found) = find_in_chain::<T>(inner) {
                return Some(found);
            }
        }
        next = err.source();
    }
    None
}

impl HttpReply {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A failure carrying this answer's status, excerpt and `Retry-After`.
    pub fn failure(&self, reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            status: Some(self.status),
            excerpt: (!self.body.is_empty()).then(|| excerpt(&self.body, EXCERPT_BYTES)),
            retry_after: self.retry_after,
            throttled: self.status == 429,
            broken: false,
        }
    }

    /// The default verdict: 2xx delivered; 429 throttled (waits for
    /// `Retry-After`); 408 and 5xx retried; redirects and other 4xx permanent.
    pub fn default_outcome(&self) -> Outcome {
        let status = self.status;
        match classify_http(status) {
            HttpClass::Success => Outcome::delivered(Some(status)),
            HttpClass::Throttled | HttpClass::Retryable => {
                Outcome::Retry(self.failure(format!("HTTP {status}")))
            }
            HttpClass::Permanent => Outcome::Permanent(self.failure(match status {
                410 => "the endpoint is gone (410)".to_owned(),
                300..=399 => format!("redirect ({status}) not followed"),
                _ => format!("HTTP {status}"),
            })),
        }
    }
}

/// An error and its sources, each said once.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

/// A URL fit for logs and previews: scheme, host and port only. Path, query and
/// credentials are hidden because webhook URLs carry their token there
/// (`https://hooks.slack.com/…`, `https://x.logic.azure.com/…`).
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or_default();
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if u.path() == "/" && u.query().is_none() {
                "/"
            } else {
                "/…"
            };
            format!("{}://{host}{port}{rest}", u.scheme())
        }
        Err(_) => "<redacted>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_only_scheme_host_and_port() {
        assert_eq!(
            redact_url("https://user:pw@hooks.slack.com/services/T0/B0/XXXX?x=1"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(redact_url("not a url"), "<redacted>");
    }
}
