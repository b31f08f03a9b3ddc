//! A rendered Slack message, ready to send.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use herald_core::endpoint::Endpoint;

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
