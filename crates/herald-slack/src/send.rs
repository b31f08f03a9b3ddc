//! Incoming webhooks: the one HTTP call and how Slack's answer is classified.
//!
//! Slack answers `200 ok` on success and a plain-text error code otherwise
//! (`400 invalid_payload`, `404 channel_not_found`, `410 channel_is_archived`, ...).

use herald_core::http::{EXCERPT_BYTES, HttpReply};
use herald_core::outcome::Outcome;
use reqwest::header::CONTENT_TYPE;

use crate::request::{Endpoint, SlackRequest};

/// Answers that say the message itself is wrong: dead-letter it.
pub const WEBHOOK_PERMANENT: &[&str] = &[
    "invalid_payload",
    "no_text",
    "too_many_attachments",
    "user_not_found",
];

/// Answers that say the webhook itself is dead or misconfigured: dead-letter the
/// event and report the destination as broken.
pub const WEBHOOK_BROKEN: &[&str] = &[
    "channel_not_found",
    "channel_is_archived",
    "no_service",
    "no_service_id",
    "no_team",
    "team_disabled",
    "invalid_token",
    "action_prohibited",
    "posting_to_general_channel_denied",
    "no_active_hooks",
];

/// Posts the message to the webhook once.
pub(crate) async fn send(
    client: &herald_core::http::HttpClient,
    url: &Endpoint,
    req: &SlackRequest,
) -> Outcome {
    let builder = client
        .post(url.expose().clone())
        .header(CONTENT_TYPE, "application/json")
        .body(req.body());
    match client.exchange(builder, EXCERPT_BYTES).await {
        Ok(reply) => webhook_outcome(&reply),
        Err(outcome) => outcome,
    }
}

/// `200 ok` delivered; the documented error codes dead-lettered (and the
/// destination reported broken for the dead-webhook ones); 429 waits for
/// `Retry-After`; 5xx (`rollup_error`) retried; other statuses by the default table.
pub(crate) fn webhook_outcome(reply: &HttpReply) -> Outcome {
    let text = reply.text();
    let code = text.trim();
    let status = reply.status;
    if WEBHOOK_BROKEN.contains(&code) {
        return Outcome::Permanent(reply.failure(format!("Slack: {code}")).broken());
    }
    if WEBHOOK_PERMANENT.contains(&code) {
        return Outcome::Permanent(reply.failure(format!("Slack: {code}")));
    }
    match status {
        200..=299 => Outcome::delivered(Some(status)),
        429 => Outcome::Retry(reply.failure("Slack rate limit (429)")),
        500..=599 if !code.is_empty() && code.len() < 64 => {
            Outcome::Retry(reply.failure(format!("Slack: HTTP {status} {code}")))
        }
        _ => reply.default_outcome(),
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
            retry_after: (status == 429).then_some(Duration::from_secs(3)),
        }
    }

    #[test]
    fn webhook_answers_are_classified() {
        assert!(matches!(
            webhook_outcome(&reply(200, "ok")),
            Outcome::Delivered {
                status: Some(200),
                ..
            }
        ));
        for code in WEBHOOK_PERMANENT {
            let Outcome::Permanent(f) = webhook_outcome(&reply(400, code)) else {
                panic!("{code}")
            };
            assert!(!f.broken && f.reason.contains(code), "{f:?}");
            assert_eq!(f.status, Some(400));
        }
        for (status, code) in [
            (404, "channel_not_found"),
            (410, "channel_is_archived"),
            (403, "invalid_token"),
            (404, "no_team"),
            (403, "action_prohibited"),
        ] {
            let Outcome::Permanent(f) = webhook_outcome(&reply(status, code)) else {
                panic!("{code}")
            };
            assert!(f.broken, "{code}");
            assert_eq!(f.excerpt.as_deref(), Some(code));
        }
        let Outcome::Retry(f) = webhook_outcome(&reply(429, "")) else {
            panic!("429")
        };
        assert!(f.throttled);
        assert_eq!(f.retry_after, Some(Duration::from_secs(3)));
        let Outcome::Retry(f) = webhook_outcome(&reply(500, "rollup_error")) else {
            panic!("500")
        };
        assert!(f.reason.contains("rollup_error"));
        assert!(matches!(
            webhook_outcome(&reply(503, "")),
            Outcome::Retry(_)
        ));
        assert!(matches!(webhook_outcome(&reply(403, "nope")), Outcome::Permanent(f) if !f.broken));
    }
}
