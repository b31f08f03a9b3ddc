//! The one HTTP call, and how Teams' answer is read.
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx from a Workflows trigger (`202`, empty) | delivered |
//! | 2xx from a connector with the body `1` | delivered |
//! | 2xx whose body says `HTTP error 429` | retried, the destination pauses (throttled) |
//! | 2xx whose body says `HTTP error 4xx` | dead-lettered (`404`/`410`: broken) |
//! | 2xx whose body says `HTTP error 5xx` | retried |
//! | 2xx from a connector with any other body | dead-lettered |
//! | 429 | retried after `Retry-After` (throttled) |
//! | 408, 5xx, timeouts, connection errors | retried |
//! | 401, 403, 404, 410 | dead-lettered, destination broken |
//! | other 3xx and 4xx (413: too large) | dead-lettered |

use herald_core::http::{BODY_LIMIT, HttpReply};
use herald_core::outcome::Outcome;
use reqwest::header::CONTENT_TYPE;

use crate::config::WebhookType;
use crate::request::{Endpoint, TeamsRequest};

/// Posts the card once and classifies the answer.
pub(crate) async fn send(
    client: &herald_core::http::HttpClient,
    url: &Endpoint,
    kind: WebhookType,
    req: &TeamsRequest,
) -> Outcome {
    let builder = client
        .post(url.expose().clone())
        .header(CONTENT_TYPE, "application/json")
        .body(req.body.clone());
    match client.exchange(builder, BODY_LIMIT).await {
        Ok(reply) => classify(&reply, kind),
        Err(outcome) => outcome,
    }
}

/// The verdict on one answer (see the module table).
pub(crate) fn classify(reply: &HttpReply, kind: WebhookType) -> Outcome {
    let status = reply.status;
    match status {
        200..=299 => classify_accepted(reply, kind),
        401 | 403 => Outcome::Permanent(
            reply
                .failure(format!(
                    "Teams refused the webhook's credentials ({status}); check the URL"
                ))
                .broken(),
        ),
        404 | 410 => Outcome::Permanent(
            reply
                .failure(format!(
                    "the webhook no longer exists ({status}); the workflow or connector was removed"
                ))
                .broken(),
        ),
        413 => Outcome::Permanent(reply.failure("Teams says the card is too large (413)")),
        _ => reply.default_outcome(),
    }
}

/// A 2xx: success, unless the body carries a connector error or a connector
/// did not say `1`.
fn classify_accepted(reply: &HttpReply, kind: WebhookType) -> Outcome {
    let status = reply.status;
    let text = reply.text();
    if let Some(code) = connector_error(&text) {
        let reason = format!("Teams answered {status} but the delivery failed: HTTP error {code}");
        return match code {
            429 => Outcome::Retry(reply.failure(reason).throttled(reply.retry_after)),
            404 | 410 => Outcome::Permanent(reply.failure(reason).broken()),
            500..=599 => Outcome::Retry(reply.failure(reason)),
            _ => Outcome::Permanent(reply.failure(reason)),
        };
    }
    match kind {
        WebhookType::Connector if !connector_success(&text) => Outcome::Permanent(reply.failure(
            format!("the connector answered {status} without `1`: the card was not posted"),
        )),
        _ => Outcome::delivered(Some(status)),
    }
}

/// The code in a connector's `... returned HTTP error 429 with ContextId ...`.
fn connector_error(body: &str) -> Option<u16> {
    const MARK: &str = "HTTP error ";
    let mut rest = body;
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() == 3 {
            return digits.parse().ok();
        }
        rest = after;
    }
    None
}

/// A connector's success: the number `1` (Microsoft: "successful only if it
/// returns a number"), or the JSON status some tenants send instead.
fn connector_success(body: &str) -> bool {
    let t = body.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    serde_json::from_str::<serde_json::Value>(t)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64))
        .is_some_and(|c| (200..300).contains(&c))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use herald_testkit::failure;

    fn reply(status: u16, body: &str) -> HttpReply {
        herald_testkit::http_reply(status, &[], body)
    }

    const THROTTLED: &str = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deadbeef.0..";

    #[test]
    fn workflows_success_is_any_2xx() {
        for (status, body) in [(202, ""), (200, ""), (200, "{\"ok\":true}")] {
            assert_eq!(
                classify(&reply(status, body), WebhookType::Workflows),
                Outcome::delivered(Some(status))
            );
        }
    }

    #[test]
    fn connector_success_needs_the_number() {
        let c = WebhookType::Connector;
        assert_eq!(classify(&reply(200, "1"), c), Outcome::delivered(Some(200)));
        assert_eq!(
            classify(
                &reply(200, r#"{"version":"1.1","statusCode":200,"x":1}"#),
                c
            ),
            Outcome::delivered(Some(200))
        );
        for body in ["", "ok", "Webhook message delivery failed"] {
            let o = classify(&reply(200, body), c);
            assert!(matches!(o, Outcome::Permanent(_)), "{body:?}: {o:?}");
        }
    }

    #[test]
    fn errors_inside_a_200_are_read() {
        for kind in [WebhookType::Connector, WebhookType::Workflows] {
            let mut r = reply(200, THROTTLED);
            r.retry_after = Some(Duration::from_secs(3));
            let o = classify(&r, kind);
            let f = failure(&o);
            assert!(matches!(o, Outcome::Retry(_)));
            assert!(f.throttled && f.retry_after == Some(Duration::from_secs(3)));
            assert!(
                f.excerpt
                    .as_deref()
                    .is_some_and(|e| e.contains("HTTP error 429"))
            );

            let bad = THROTTLED.replace("429", "400");
            let o = classify(&reply(200, &bad), kind);
            assert!(matches!(o, Outcome::Permanent(_)) && !failure(&o).broken);
            let gone = THROTTLED.replace("429", "404");
            assert!(failure(&classify(&reply(200, &gone), kind)).broken);
            let busy = THROTTLED.replace("429", "502");
            assert!(matches!(
                classify(&reply(200, &busy), kind),
                Outcome::Retry(_)
            ));
        }
    }

    #[test]
    fn http_statuses_follow_the_table() {
        let w = WebhookType::Workflows;
        let o = classify(&reply(429, ""), w);
        assert!(matches!(o, Outcome::Retry(_)) && failure(&o).throttled);
        for s in [408, 500, 502, 503] {
            assert!(
                matches!(classify(&reply(s, ""), w), Outcome::Retry(_)),
                "{s}"
            );
        }
        for s in [401, 403, 404, 410] {
            let o = classify(&reply(s, "gone"), w);
            assert!(
                matches!(o, Outcome::Permanent(_)) && failure(&o).broken,
                "{s}"
            );
        }
        for s in [400, 413, 301] {
            let o = classify(&reply(s, "bad"), w);
            assert!(
                matches!(o, Outcome::Permanent(_)) && !failure(&o).broken,
                "{s}"
            );
            assert_eq!(failure(&o).status, Some(s));
        }
    }

    #[test]
    fn connector_error_codes_are_found() {
        assert_eq!(connector_error(THROTTLED), Some(429));
        assert_eq!(
            connector_error("HTTP error 4 then HTTP error 413."),
            Some(413)
        );
        assert_eq!(connector_error("all good"), None);
    }
}
