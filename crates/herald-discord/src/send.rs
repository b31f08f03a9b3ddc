//! The one HTTP call, and how Discord's answer is classified.
//!
//! With `wait=true` Discord answers `200` and the message (its `id` becomes the
//! receipt's handle). Every answer carries `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset-After`: when the budget is spent the destination is held
//! until the reset, before Discord has to say 429. A 429 carries `retry_after`
//! (seconds, fractional) in its JSON body, which is honoured. 404 (`10015`,
//! unknown webhook), 401 and 403 mean the webhook is gone or its token wrong: the
//! destination is reported broken.

use std::time::Duration;

use herald_core::http::{BODY_LIMIT, HttpReply};
use herald_core::outcome::Outcome;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::request::{DiscordRequest, Endpoint};

/// Posts the request once.
pub(crate) async fn send(
    client: &herald_core::http::HttpClient,
    endpoint: &Endpoint,
    req: &DiscordRequest,
) -> Outcome {
    let builder = client
        .post(endpoint.expose().clone())
        .header(CONTENT_TYPE, "application/json")
        .body(req.bytes());
    match client.exchange(builder, BODY_LIMIT).await {
        Ok(reply) => classify(&reply),
        Err(outcome) => outcome,
    }
}

/// The verdict on Discord's answer.
pub(crate) fn classify(reply: &HttpReply) -> Outcome {
    let json: Option<Value> = reply.json();
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).cloned();
    let status = reply.status;
    let what = || {
        let message = field("message").and_then(|m| m.as_str().map(str::to_owned));
        let code = field("code").and_then(|c| c.as_u64());
        match (message, code) {
            (Some(m), Some(c)) => format!("Discord: {m} ({c})"),
            (Some(m), None) => format!("Discord: {m}"),
            (None, Some(c)) => format!("Discord: HTTP {status} ({c})"),
            (None, None) => format!("Discord: HTTP {status}"),
        }
    };
    match status {
        200..=299 => Outcome::Delivered {
            handle: field("id").and_then(|id| id.as_str().map(str::to_owned)),
            status: Some(status),
            hold: spent_budget(reply),
        },
        429 => {
            let wait = field("retry_after")
                .and_then(|r| r.as_f64())
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .or(reply.retry_after);
            let global = field("global").and_then(|g| g.as_bool()) == Some(true);
            let reason = if global {
                "Discord global rate limit (429)"
            } else {
                "Discord rate limit (429)"
            };
            Outcome::Retry(reply.failure(reason).throttled(wait))
        }
        404 => Outcome::Permanent(
            reply
                .failure(format!("{}: the webhook no longer exists", what()))
                .broken(),
        ),
        401 | 403 => Outcome::Permanent(reply.failure(what()).broken()),
        500..=599 => Outcome::Retry(reply.failure(what())),
        _ => Outcome::Permanent(reply.failure(what())),
    }
}

/// `X-RateLimit-Reset-After` when `X-RateLimit-Remaining` is `0`.
fn spent_budget(reply: &HttpReply) -> Option<Duration> {
    if reply.header("x-ratelimit-remaining")?.trim() != "0" {
        return None;
    }
    let secs: f64 = reply
        .header("x-ratelimit-reset-after")?
        .trim()
        .parse()
        .ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn reply(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> HttpReply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_static(v));
        }
        HttpReply {
            status,
            headers: h,
            body: body.as_bytes().to_vec(),
            retry_after: (status == 429).then_some(Duration::from_secs(2)),
        }
    }

    #[test]
    fn answers_are_classified() {
        let ok = classify(&reply(
            200,
            &[
                ("x-ratelimit-remaining", "4"),
                ("x-ratelimit-reset-after", "1.5"),
            ],
            r#"{"id":"1180000000000000001","channel_id":"9"}"#,
        ));
        assert_eq!(
            ok,
            Outcome::Delivered {
                handle: Some("1180000000000000001".into()),
                status: Some(200),
                hold: None
            }
        );
        let spent = classify(&reply(
            200,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset-after", "1.25"),
            ],
            "{}",
        ));
        assert!(
            matches!(spent, Outcome::Delivered { hold: Some(h), .. } if h == Duration::from_millis(1250))
        );
        let Outcome::Retry(f) = classify(&reply(
            429,
            &[("retry-after", "2")],
            r#"{"message":"You are being rate limited.","retry_after":0.64,"global":false}"#,
        )) else {
            panic!()
        };
        assert!(f.throttled);
        assert_eq!(f.retry_after, Some(Duration::from_millis(640)));
        let Outcome::Permanent(f) = classify(&reply(
            404,
            &[],
            r#"{"message":"Unknown Webhook","code":10015}"#,
        )) else {
            panic!()
        };
        assert!(f.broken, "{f:?}");
        assert_eq!(
            f.reason,
            "Discord: Unknown Webhook (10015): the webhook no longer exists"
        );
        assert!(matches!(
            classify(&reply(401, &[], r#"{"message":"Invalid Webhook Token","code":50027}"#)),
            Outcome::Permanent(f) if f.broken
        ));
        let Outcome::Permanent(f) = classify(&reply(
            400,
            &[],
            r#"{"message":"Invalid Form Body","code":50035}"#,
        )) else {
            panic!()
        };
        assert!(!f.broken && f.reason == "Discord: Invalid Form Body (50035)");
        assert!(matches!(
            classify(&reply(502, &[], "<html>")),
            Outcome::Retry(_)
        ));
    }
}
