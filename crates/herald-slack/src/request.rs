//! A rendered Slack message, ready to send.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A webhook URL. Its `Debug` hides it: the URL is the credential.
#[derive(Clone)]
pub struct Endpoint(reqwest::Url);

impl Endpoint {
    pub(crate) fn new(url: reqwest::Url) -> Self {
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

/// A rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackRequest {
    /// The message: the webhook body, or the `chat.postMessage` arguments
    /// (`channel` included).
    pub message: Map<String, Value>,
    /// Web API threads: which thread the event belongs to, when it has one.
    pub thread: Option<ThreadKey>,
}

/// What a threaded event needs to find its thread and order its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadKey {
    /// The event's `correlation`.
    pub correlation: String,
    /// When the event happened: a parent never goes back to an older status.
    pub time: DateTime<Utc>,
    /// The event type (`rotation.completed`), for the logs.
    pub event_type: String,
}

impl SlackRequest {
    /// The message as JSON bytes, exactly as sent.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.message).unwrap_or_default()
    }
}
