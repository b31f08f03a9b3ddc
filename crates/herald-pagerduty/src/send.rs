//! The one HTTP call to the Events API, and how its answer is read.
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx (`202 {"status":"success","dedup_key":...}`) | delivered; the handle is the `dedup_key` |
//! | 400 (`{"status","message","errors":[...]}`) | dead-lettered with the errors; broken when they name the routing key |
//! | 401, 403, 404, 410 | dead-lettered, destination broken (wrong `events_url` or key) |
//! | 413 | dead-lettered (too large) |
//! | 429 | retried after `Retry-After`, or 30 s (PagerDuty's advice), the destination pausing |
//! | 408, 5xx, timeouts, connection errors | retried (the `dedup_key` makes a repeated trigger harmless) |
//! | other 3xx and 4xx | dead-lettered |

use std::time::Duration;

use herald_core::http::HttpReply;
use herald_core::outcome::{Failure, Outcome};
use reqwest::header::CONTENT_TYPE;

use crate::request::PagerDutyRequest;

/// How long to wait after a 429 that names no `Retry-After`: PagerDuty counts
/// events over a 60 s sliding window and suggests retrying 30 s apart.
pub const THROTTLE_WAIT: Duration = Duration::from_secs(30);

/// Posts the event once and classifies the answer.
pub(crate) async fn post(
    client: &herald_core::http::HttpClient,
    url: &reqwest::Url,
    req: &PagerDutyRequest,
) -> Outcome {
    let builder = client
        .post(url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(req.body.clone());
    match client.exchange(builder, 16 * 1024).await {
        Ok(reply) => classify(&reply, &req.dedup_key),
        Err(outcome) => outcome,
    }
}

/// The verdict on one answer (see the module table).
pub(crate) fn classify(reply: &HttpReply, dedup_key: &str) -> Outcome {
    let status = reply.status;
    match status {
        200..=299 => {
            let handle = reply
                .json::<serde_json::Value>()
                .and_then(|v| v.get("dedup_key")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| dedup_key.to_owned());
            Outcome::Delivered {
                handle: Some(handle),
                status: Some(status),
                hold: None,
            }
        }
        400 => Outcome::Permanent(rejected(reply)),
        401 | 403 | 404 | 410 => Outcome::Permanent(
            reply
                .failure(format!(
                    "PagerDuty answered {status}: check `events_url` and the routing key"
                ))
                .broken(),
        ),
        413 => Outcome::Permanent(reply.failure("PagerDuty says the event is too large (413)")),
        429 => Outcome::Retry(
            reply
                .failure("PagerDuty throttled the routing key (429)")
                .throttled(Some(reply.retry_after.unwrap_or(THROTTLE_WAIT))),
        ),
        _ => reply.default_outcome(),
    }
}

/// A 400: PagerDuty's `message` and `errors` in the reason (the excerpt keeps
/// the body); an invalid routing key breaks the destination.
fn rejected(reply: &HttpReply) -> Failure {
    let doc: Option<serde_json::Value> = reply.json();
    let message = doc
        .as_ref()
        .and_then(|d| d.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "the event was refused".to_owned());
    let errors: Vec<String> = doc
        .as_ref()
        .and_then(|d| d.get("errors")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
        .collect();
    let reason = if errors.is_empty() {
        format!("PagerDuty rejected the event (400): {message}")
    } else {
        format!(
            "PagerDuty rejected the event (400): {message}: {}",
            errors.join("; ")
        )
    };
    let failure = reply.failure(reason);
    let key_problem = errors.iter().chain([&message]).any(|e| {
        let e = e.to_lowercase();
        e.contains("routing key") || e.contains("routing_key")
    });
    if key_problem {
        failure.broken()
    } else {
        failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_testkit::failure;

    fn reply(status: u16, body: &str) -> HttpReply {
        herald_testkit::http_reply(status, &[], body)
    }

    #[test]
    fn accepted_events_carry_the_dedup_key() {
        let ok = r#"{"status":"success","message":"Event processed","dedup_key":"herald-rot-1"}"#;
        assert_eq!(
            classify(&reply(202, ok), "ours"),
            Outcome::Delivered {
                handle: Some("herald-rot-1".into()),
                status: Some(202),
                hold: None
            }
        );
        assert!(matches!(
            classify(&reply(202, ""), "ours"),
            Outcome::Delivered { handle: Some(h), .. } if h == "ours"
        ));
    }

    #[test]
    fn a_400_keeps_the_errors() {
        let body = r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}"#;
        let o = classify(&reply(400, body), "k");
        let f = failure(&o);
        assert!(matches!(o, Outcome::Permanent(_)));
        assert!(
            f.reason.contains("'payload.summary' is missing or blank"),
            "{}",
            f.reason
        );
        assert!(f.excerpt.as_deref().is_some_and(|x| x.contains("errors")));
        assert!(!f.broken);
        let key = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}"#;
        assert!(failure(&classify(&reply(400, key), "k")).broken);
        let parse = r#"{"status":"Unrecognized object","message":"Event object format is unrecognized","errors":["JSON parse error"]}"#;
        assert!(
            failure(&classify(&reply(400, parse), "k"))
                .reason
                .contains("JSON parse error")
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retried() {
        let o = classify(&reply(429, ""), "k");
        let f = failure(&o);
        assert!(matches!(o, Outcome::Retry(_)) && f.throttled);
        assert_eq!(f.retry_after, Some(THROTTLE_WAIT));
        let mut r = reply(429, "");
        r.retry_after = Some(Duration::from_secs(2));
        assert_eq!(
            failure(&classify(&r, "k")).retry_after,
            Some(Duration::from_secs(2))
        );
        for s in [408, 500, 502, 503] {
            assert!(
                matches!(classify(&reply(s, ""), "k"), Outcome::Retry(_)),
                "{s}"
            );
        }
        for s in [401, 403, 404] {
            let o = classify(&reply(s, ""), "k");
            assert!(
                matches!(o, Outcome::Permanent(_)) && failure(&o).broken,
                "{s}"
            );
        }
        assert!(matches!(
            classify(&reply(413, ""), "k"),
            Outcome::Permanent(_)
        ));
    }
}
