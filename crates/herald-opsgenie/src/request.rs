//! A rendered Opsgenie request.

use chrono::{DateTime, Utc};

/// What a request does to the alert of its alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `POST /v2/alerts`: opens the alert, or counts a repeat of the open one.
    Create,
    /// `POST /v2/alerts/{alias}/close?identifierType=alias`.
    Close,
}

impl Action {
    /// `create` or `close`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Close => "close",
        }
    }
}

/// A rendered request, ready to send.
#[derive(Debug, Clone)]
pub struct AlertRequest {
    /// Create or close.
    pub action: Action,
    /// The alert's alias.
    pub alias: String,
    /// The full URL (`…/v2/alerts` or `…/v2/alerts/<alias>/close?identifierType=alias`).
    pub url: reqwest::Url,
    /// The JSON body, exactly as sent.
    pub body: bytes::Bytes,
    /// When the event happened: orders lifecycle events that arrive out of turn.
    pub event_time: DateTime<Utc>,
}

impl AlertRequest {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}
