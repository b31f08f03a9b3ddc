//! A rendered PagerDuty event.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The Events API v2 actions Herald sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventAction {
    /// Opens an alert, or adds to the open one with the same `dedup_key`.
    Trigger,
    /// Resolves the open alert with the same `dedup_key` (nothing if none is open).
    Resolve,
}

impl EventAction {
    /// `trigger` or `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Trigger => "trigger",
            EventAction::Resolve => "resolve",
        }
    }
}

impl fmt::Display for EventAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rendered event, ready to post. `Debug` leaves out the body, which holds
/// the routing key.
#[derive(Clone)]
pub struct PagerDutyRequest {
    /// `trigger` or `resolve`.
    pub action: EventAction,
    /// The alert's `dedup_key`.
    pub dedup_key: String,
    /// The Herald event's id.
    pub event_id: String,
    /// When the Herald event happened (orders lifecycle events; see `lifecycle`).
    pub event_time: DateTime<Utc>,
    /// The JSON body, exactly as sent (routing key included).
    pub body: bytes::Bytes,
}

impl fmt::Debug for PagerDutyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagerDutyRequest")
            .field("action", &self.action)
            .field("dedup_key", &self.dedup_key)
            .field("event_id", &self.event_id)
            .field("event_time", &self.event_time)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl PagerDutyRequest {
    /// The body as JSON.
    ///
    /// # Errors
    /// Never for a rendered request (the body is built from JSON).
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body with the routing key replaced by `<redacted>`.
    pub fn redacted_body(&self) -> String {
        match self.json() {
            Ok(mut v) => {
                if let Some(k) = v.get_mut("routing_key") {
                    *k = "<redacted>".into();
                }
                v.to_string()
            }
            Err(_) => "<unreadable>".to_owned(),
        }
    }
}
