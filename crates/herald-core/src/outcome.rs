//! What happened to one delivery attempt, as the channel reports it.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The classified result of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the message.
    Delivered {
        /// The provider's handle for it (Slack `ts`, Jira key, Message-ID), if any.
        handle: Option<String>,
        /// The HTTP (or SMTP) status.
        status: Option<u16>,
        /// Send nothing more to this destination for this long: the provider said
        /// its budget is spent (Discord's `X-RateLimit-Remaining: 0` with
        /// `X-RateLimit-Reset-After`).
        hold: Option<Duration>,
    },
    /// A transient failure: try again later.
    Retry(Failure),
    /// A failure that retrying cannot fix: dead-letter the event.
    Permanent(Failure),
}

/// Details of a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Failure {
    /// What went wrong, for the operator.
    pub reason: String,
    /// The HTTP (or SMTP) status, when the provider answered.
    pub status: Option<u16>,
    /// The start of the provider's answer.
    pub excerpt: Option<String>,
    /// How long the provider asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// True when the provider throttled us (429): every send to the destination pauses.
    pub throttled: bool,
    /// True when the destination itself is broken (revoked token, deleted
    /// channel or webhook): every event will fail the same way until someone fixes
    /// the configuration. Logged at error level and counted apart.
    pub broken: bool,
}

impl Outcome {
    /// Accepted, with this status and no handle.
    pub fn delivered(status: Option<u16>) -> Self {
        Outcome::Delivered {
            handle: None,
            status,
            hold: None,
        }
    }
}

impl Failure {
    /// A failure with only a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            ..Self::default()
        }
    }

    /// Adds the provider's status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds the start of the provider's answer.
    #[must_use]
    pub fn with_excerpt(mut self, excerpt: impl Into<String>) -> Self {
        self.excerpt = Some(excerpt.into());
        self
    }

    /// Marks the provider's answer as throttling, with its requested wait.
    #[must_use]
    pub fn throttled(mut self, retry_after: Option<Duration>) -> Self {
        self.throttled = true;
        self.retry_after = retry_after;
        self
    }

    /// Marks the destination as broken (see [`Failure::broken`]).
    #[must_use]
    pub fn broken(mut self) -> Self {
        self.broken = true;
        self
    }
}

/// How an HTTP status is treated by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpClass {
    /// 2xx.
    Success,
    /// 429.
    Throttled,
    /// 408 and 5xx.
    Retryable,
    /// 3xx (redirects are not followed) and other 4xx.
    Permanent,
}

/// The default classification of an HTTP status.
pub fn classify_http(status: u16) -> HttpClass {
    match status {
        200..=299 => HttpClass::Success,
        429 => HttpClass::Throttled,
        408 | 500..=599 => HttpClass::Retryable,
        _ => HttpClass::Permanent,
    }
}

/// Reads a `Retry-After` value: delay seconds (integer or fractional) or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The first `max` bytes of a response body as text, cut on a character boundary.
pub fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= max {
        return text.into_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify_http(204), HttpClass::Success);
        assert_eq!(classify_http(429), HttpClass::Throttled);
        assert_eq!(classify_http(408), HttpClass::Retryable);
        assert_eq!(classify_http(503), HttpClass::Retryable);
        assert_eq!(classify_http(410), HttpClass::Permanent);
        assert_eq!(classify_http(400), HttpClass::Permanent);
        assert_eq!(classify_http(301), HttpClass::Permanent);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .into();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn excerpts_cut_on_char_boundaries() {
        assert_eq!(excerpt("héllo".as_bytes(), 2), "h…");
        assert_eq!(excerpt(b"ok", 10), "ok");
    }
}
