//! A rendered webhook request.

use reqwest::header::{HeaderMap, HeaderValue};

pub use herald_core::endpoint::Endpoint;

/// A rendered request, ready to send. Header values that are credentials are
/// marked sensitive (`HeaderValue::is_sensitive`) and never shown.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// HTTP method.
    pub method: reqwest::Method,
    /// The endpoint.
    pub url: Endpoint,
    /// Headers, signature headers included.
    pub headers: HeaderMap,
    /// The body, exactly as sent and signed.
    pub body: bytes::Bytes,
}

impl WebhookRequest {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A header value for text that may come from an event: kept as it is when it
/// is a valid header value, otherwise bytes outside visible ASCII are
/// percent-encoded, so a hostile id can neither break the request nor inject a header.
pub(crate) fn text_header(text: &str) -> HeaderValue {
    if let Ok(v) = HeaderValue::from_str(text) {
        return v;
    }
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_header_text_is_encoded() {
        assert_eq!(text_header("evt-1").to_str().unwrap(), "evt-1");
        assert_eq!(
            text_header("a\r\nX-Evil: 1 é").to_str().unwrap(),
            "a%0D%0AX-Evil: 1 %C3%A9"
        );
    }
}
