//! A rendered webhook request.

use herald_core::config::Secret;

/// One header of a request.
#[derive(Debug, Clone)]
pub struct RequestHeader {
    /// Header name.
    pub name: String,
    /// Header value (printed redacted when `sensitive`).
    pub value: Secret,
    /// True when the value must not be shown (secret references, credentials).
    pub sensitive: bool,
}

/// A rendered request, ready to send.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// HTTP method.
    pub method: reqwest::Method,
    /// The endpoint (a secret: URLs often carry tokens).
    pub url: Secret,
    /// Headers, signature headers included.
    pub headers: Vec<RequestHeader>,
    /// The body, exactly as sent and signed.
    pub body: bytes::Bytes,
}

impl WebhookRequest {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.expose())
    }
}
