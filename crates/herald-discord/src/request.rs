//! The webhook endpoint and a rendered request.

use std::fmt;

use serde_json::Value;

/// Which of Discord's webhook endpoints a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `…/webhooks/<id>/<token>`: embeds.
    Native,
    /// `…/webhooks/<id>/<token>/slack`: Slack attachments.
    Slack,
}

/// The webhook URL with `wait=true` added (other query parameters, such as
/// `thread_id`, kept). Its `Debug` hides it: the URL carries the token.
#[derive(Clone)]
pub struct Endpoint {
    url: reqwest::Url,
    flavor: Flavor,
}

impl Endpoint {
    /// Reads a configured webhook URL.
    ///
    /// # Errors
    /// Why the URL cannot be used.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut url = reqwest::Url::parse(raw.trim()).map_err(|e| {
            format!("not a valid URL ({e}); expected https://discord.com/api/webhooks/<id>/<token>")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the URL must be http or https, not {}",
                url.scheme()
            ));
        }
        let flavor = if url.path().trim_end_matches('/').ends_with("/slack") {
            Flavor::Slack
        } else {
            Flavor::Native
        };
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "wait")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("wait", "true");
        Ok(Self { url, flavor })
    }

    /// The URL to post to. Do not log it.
    pub fn expose(&self) -> &reqwest::Url {
        &self.url
    }

    /// Native or Slack-compatible.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({:?}, <redacted>)", self.flavor)
    }
}

/// A rendered request: the JSON body for the destination's endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscordRequest {
    /// The body, as sent.
    pub body: Value,
}

impl DiscordRequest {
    /// The body as JSON bytes.
    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).unwrap_or_default()
    }
}

pub use herald_core::http::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_added_and_thread_id_kept() {
        let e = Endpoint::parse("https://discord.com/api/webhooks/1/tok?thread_id=42&wait=false")
            .unwrap();
        assert_eq!(e.flavor(), Flavor::Native);
        assert_eq!(
            e.expose().as_str(),
            "https://discord.com/api/webhooks/1/tok?thread_id=42&wait=true"
        );
        let s = Endpoint::parse("https://discord.com/api/webhooks/1/tok/slack").unwrap();
        assert_eq!(s.flavor(), Flavor::Slack);
        assert_eq!(s.expose().query(), Some("wait=true"));
        assert!(!format!("{s:?}").contains("tok"));
        assert!(Endpoint::parse("ftp://x").is_err());
        assert_eq!(redact_url(s.expose().as_str()), "https://discord.com/…");
    }
}
