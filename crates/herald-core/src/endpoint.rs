//! Provider endpoints in destination settings: a configured URL read the same
//! way, with the same error, by every HTTP channel, and kept out of logs.

use std::fmt;

use crate::channel::BuildError;

/// A provider URL that is itself a credential (a webhook URL carrying its
/// token). Its `Debug` hides it.
#[derive(Clone)]
pub struct Endpoint(reqwest::Url);

impl Endpoint {
    /// Wraps a URL that must not be logged.
    pub fn new(url: reqwest::Url) -> Self {
        Self(url)
    }

    /// The URL itself. Do not log it.
    pub fn expose(&self) -> &reqwest::Url {
        &self.0
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Endpoint(<redacted>)")
    }
}

/// The `http`/`https` URL configured under `field`.
///
/// # Errors
/// When `raw` is not a URL (`not a valid URL: …`) or not `http`/`https`.
pub fn web_url(field: &str, raw: &str) -> Result<reqwest::Url, BuildError> {
    let url = reqwest::Url::parse(raw)
        .map_err(|e| {
            BuildError::new(
                field,
                format!("not a valid URL ({e}); expected an absolute http or https URL such as https://hooks.example.com/path"),
            )
        })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(BuildError::new(
            field,
            format!("the URL must be http or https, not {}", url.scheme()),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hide_their_url() {
        let url = reqwest::Url::parse("https://hooks.example.com/T/SECRET").unwrap();
        let e = Endpoint::new(url.clone());
        assert_eq!(format!("{e:?}"), "Endpoint(<redacted>)");
        assert_eq!(e.expose(), &url);
    }

    #[test]
    fn only_web_urls_are_endpoints() {
        assert_eq!(
            web_url("url", "https://example.com/x").unwrap().as_str(),
            "https://example.com/x"
        );
        let e = web_url("url", "ftp://example.com").unwrap_err();
        assert_eq!(e.field, "url");
        assert_eq!(
            e.to_string(),
            BuildError::new("url", "the URL must be http or https, not ftp").to_string()
        );
        assert!(
            web_url("events_url", "not a url")
                .unwrap_err()
                .to_string()
                .contains("not a valid URL")
        );
    }
}
