//! The Web API calls (`chat.postMessage`, `chat.update`) and how their answers
//! are classified.
//!
//! The Web API answers `200` with `{"ok": true, ...}` or `{"ok": false, "error":
//! "<code>"}`; throttling is `429` with `Retry-After` (and `"error": "ratelimited"`).

use herald_core::config::Secret;
use herald_core::http::{BODY_LIMIT, HttpReply};
use herald_core::outcome::{Failure, Outcome};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

/// Error codes that say the token, the app or the channel is wrong: the event is
/// dead-lettered and the destination reported broken.
pub const API_BROKEN: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "invalid_token",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "channel_is_archived",
    "team_disabled",
    "no_team",
    "team_access_not_granted",
    "access_denied",
    "ekm_access_denied",
    "org_login_required",
    "action_prohibited",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
    "posting_to_general_channel_denied",
];

/// Error codes worth another attempt later.
pub const API_RETRYABLE: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
];

/// Error codes of `chat.update` that leave a thread's first message as it is
/// (deleted, too old to edit): the reply was posted, so the event is delivered.
pub const UPDATE_SKIPPED: &[&str] = &[
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
];

/// A Web API client for one destination.
#[derive(Debug)]
pub(crate) struct Api {
    client: herald_core::http::HttpClient,
    base: String,
    token: Secret,
}

/// A call that did not succeed: the error code, when Slack gave one, and the verdict.
#[derive(Debug)]
pub(crate) struct CallFailure {
    pub(crate) code: Option<String>,
    pub(crate) outcome: Outcome,
}

impl Api {
    pub(crate) fn new(client: herald_core::http::HttpClient, base: &str, token: Secret) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The Web API's host.
    pub(crate) fn host(&self) -> Option<String> {
        reqwest::Url::parse(&self.base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    }

    /// `<base>/<method>`.
    pub(crate) fn url(&self, method: &str) -> String {
        format!("{}/{method}", self.base)
    }

    /// Calls `method` with a JSON body; the answer's JSON when `ok` is true.
    pub(crate) async fn call(&self, method: &str, body: &Value) -> Result<Value, CallFailure> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let builder = self
            .client
            .post(self.url(method))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
            .body(bytes);
        match self.client.exchange(builder, BODY_LIMIT).await {
            Ok(reply) => classify(method, &reply),
            Err(outcome) => Err(CallFailure {
                code: None,
                outcome,
            }),
        }
    }
}

/// The verdict on a Web API answer.
pub(crate) fn classify(method: &str, reply: &HttpReply) -> Result<Value, CallFailure> {
    let json: Option<Value> = reply.json();
    let code = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let fail = |outcome: Outcome| CallFailure {
        code: code.clone(),
        outcome,
    };
    let status = reply.status;
    if status == 429 || code.as_deref() == Some("ratelimited") {
        let f = reply
            .failure(format!("Slack {method}: rate limited"))
            .throttled(reply.retry_after);
        return Err(fail(Outcome::Retry(f)));
    }
    match (&json, code.as_deref()) {
        (Some(j), _) if (200..300).contains(&status) && j.get("ok") == Some(&Value::Bool(true)) => {
            Ok(j.clone())
        }
        (_, Some(c)) if API_BROKEN.contains(&c) => Err(fail(Outcome::Permanent(
            reply.failure(format!("Slack {method}: {c}")).broken(),
        ))),
        (_, Some(c)) if API_RETRYABLE.contains(&c) || status >= 500 => Err(fail(Outcome::Retry(
            reply.failure(format!("Slack {method}: {c}")),
        ))),
        (_, Some(c)) => Err(fail(Outcome::Permanent(
            reply.failure(format!("Slack {method}: {c}")),
        ))),
        _ if status >= 500 || (200..300).contains(&status) => Err(fail(Outcome::Retry(
            reply.failure(format!("Slack {method}: unexpected answer (HTTP {status})")),
        ))),
        _ => Err(fail(reply.default_outcome())),
    }
}

/// What `chat.postMessage` said about the posted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Posted {
    /// The channel id (`C0123ABCD`).
    pub(crate) channel: String,
    /// The message's timestamp, its id within the channel.
    pub(crate) ts: String,
}

impl Posted {
    /// Reads `channel` and `ts` from a `chat.postMessage` answer.
    ///
    /// # Errors
    /// A retryable failure when they are missing (the post may have gone through,
    /// but nothing can be threaded under it).
    pub(crate) fn from_answer(answer: &Value) -> Result<Self, Outcome> {
        let s = |k: &str| answer.get(k).and_then(Value::as_str).map(str::to_owned);
        match (s("channel"), s("ts")) {
            (Some(channel), Some(ts)) => Ok(Self { channel, ts }),
            _ => Err(Outcome::Retry(Failure::new(
                "Slack chat.postMessage: the answer has no channel or ts",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            headers: reqwest::header::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            retry_after: (status == 429).then_some(Duration::from_secs(7)),
        }
    }

    fn outcome(status: u16, body: &str) -> Outcome {
        classify("chat.postMessage", &reply(status, body))
            .err()
            .map(|f| f.outcome)
            .unwrap_or(Outcome::delivered(None))
    }

    #[test]
    fn api_answers_are_classified() {
        let ok = classify(
            "chat.postMessage",
            &reply(200, r#"{"ok":true,"channel":"C1","ts":"1.2"}"#),
        )
        .unwrap();
        assert_eq!(
            Posted::from_answer(&ok).unwrap(),
            Posted {
                channel: "C1".into(),
                ts: "1.2".into()
            }
        );
        let Outcome::Permanent(f) = outcome(200, r#"{"ok":false,"error":"channel_not_found"}"#)
        else {
            panic!()
        };
        assert!(f.broken && f.reason.contains("channel_not_found"), "{f:?}");
        assert!(
            matches!(outcome(200, r#"{"ok":false,"error":"invalid_auth"}"#), Outcome::Permanent(f) if f.broken)
        );
        assert!(
            matches!(outcome(200, r#"{"ok":false,"error":"invalid_blocks"}"#), Outcome::Permanent(f) if !f.broken)
        );
        assert!(
            matches!(outcome(200, r#"{"ok":false,"error":"msg_too_long"}"#), Outcome::Permanent(f) if !f.broken)
        );
        assert!(matches!(
            outcome(200, r#"{"ok":false,"error":"internal_error"}"#),
            Outcome::Retry(_)
        ));
        let Outcome::Retry(f) = outcome(429, r#"{"ok":false,"error":"ratelimited"}"#) else {
            panic!()
        };
        assert!(f.throttled);
        assert_eq!(f.retry_after, Some(Duration::from_secs(7)));
        assert!(matches!(outcome(502, "<html>"), Outcome::Retry(_)));
        assert!(matches!(outcome(404, "not found"), Outcome::Permanent(_)));
        assert!(matches!(outcome(200, "not json"), Outcome::Retry(_)));
    }
}
