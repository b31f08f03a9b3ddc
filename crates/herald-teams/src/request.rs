//! A rendered Teams request, and how its URL is shown.

pub use herald_core::endpoint::Endpoint;

/// A rendered card, ready to post.
#[derive(Debug, Clone)]
pub struct TeamsRequest {
    /// The JSON body, exactly as sent.
    pub body: bytes::Bytes,
}

impl TeamsRequest {
    /// The body as JSON.
    ///
    /// # Errors
    /// Never for a rendered request (the body is built from JSON).
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// The URL for logs and previews: scheme, host and port only (the path and query
/// carry the webhook's signature).
pub fn redact_url(url: &reqwest::Url) -> String {
    herald_core::http::redact_url(url.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        let u = reqwest::Url::parse(
            "https://prod-1.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=SECRET",
        )
        .unwrap();
        assert_eq!(
            redact_url(&u),
            "https://prod-1.westeurope.logic.azure.com/…"
        );
        let local = reqwest::Url::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(redact_url(&local), "http://127.0.0.1:8080/");
        assert!(!format!("{:?}", Endpoint::new(u)).contains("SECRET"));
    }
}
