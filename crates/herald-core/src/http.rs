//! The HTTP plumbing every HTTP channel shares: one client per destination, one
//! exchange per send, and the default classification of the answer.
//!
//! A channel builds its request, calls [`exchange`], and either accepts the
//! default verdict ([`HttpReply::default_outcome`]) or reads the status and body
//! itself when its provider answers in its own way (Slack's `200 ok`, a Teams
//! connector's `HTTP error 429` inside a 200).

use std::borrow::Cow;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::HeaderMap;

use crate::channel::BuildError;
use crate::outcome::{Failure, HttpClass, Outcome, classify_http, excerpt, parse_retry_after};

/// The most of a response body kept by default: enough for every provider's
/// error answer, small enough for a dead letter.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The part of a body copied into a dead letter.
pub const EXCERPT_BYTES: usize = 512;

/// An HTTP client for one destination: `timeout` per request, redirects not
/// followed (a 3xx is a failure), rustls, `User-Agent: herald-<channel>/<version>`.
///
/// # Errors
/// A [`BuildError`] when the TLS stack cannot be set up.
pub fn client(channel: &str, timeout: Duration) -> Result<reqwest::Client, BuildError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(format!("herald-{channel}/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| BuildError::new("", format!("cannot build the HTTP client: {e}")))
}

/// What the provider answered.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, cut at the limit given to [`exchange`].
    pub body: Vec<u8>,
    /// `Retry-After`, read as seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
}

/// Sends one request and reads the answer (at most `body_limit` bytes of it).
/// Timeouts, refused connections and broken transfers become a retryable
/// [`Failure`].
///
/// # Errors
/// The [`Failure`] to retry when no answer arrived.
pub async fn exchange(
    request: reqwest::RequestBuilder,
    body_limit: usize,
) -> Result<HttpReply, Failure> {
    let mut response = request.send().await.map_err(|e| transport_failure(&e))?;
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

/// The failure for a request that got no answer.
fn transport_failure(e: &reqwest::Error) -> Failure {
    let reason = if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        format!("cannot connect: {}", error_chain(e))
    } else {
        format!("request failed: {}", error_chain(e))
    };
    Failure::new(reason)
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
