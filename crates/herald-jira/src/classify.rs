//! How Jira's answers are read: its error bodies, and which failures are the
//! destination's fault.

use chrono::{DateTime, NaiveDateTime, Utc};
use herald_core::http::HttpReply;
use herald_core::outcome::{Failure, Outcome};
use serde_json::Value;

/// Who is to blame when Jira answers 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blame<'a> {
    /// The request is built from the settings alone (a search): a 400 means
    /// the destination is broken (an unknown project, say).
    Settings,
    /// The request carries the event: a 400 is the event's, unless every field
    /// Jira names is one the settings chose (these names).
    Event(&'a [String]),
}

/// Jira's `{"errorMessages": [...], "errors": {"field": "message"}}`, as one
/// line (`Field 'x' is required; summary: too long`), and the fields named.
pub(crate) fn jira_errors(reply: &HttpReply) -> (String, Vec<String>) {
    let Some(body) = reply.json::<Value>() else {
        return (String::new(), Vec::new());
    };
    let mut parts: Vec<String> = body
        .get("errorMessages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut fields = Vec::new();
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        for (field, message) in errors {
            let text = message
                .as_str()
                .map_or_else(|| message.to_string(), str::to_owned);
            parts.push(format!("{field}: {text}"));
            fields.push(field.clone());
        }
    }
    (parts.join("; "), fields)
}

/// The outcome of a non-2xx answer to `what` (`creating the issue`).
pub(crate) fn failure(reply: &HttpReply, what: &str, blame: Blame<'_>) -> Outcome {
    let status = reply.status;
    let (said, fields) = jira_errors(reply);
    let reason = |lead: String| {
        if said.is_empty() {
            lead
        } else {
            format!("{lead}: {said}")
        }
    };
    match status {
        400 => {
            let f = reply.failure(reason(format!("Jira rejected {what} (400)")));
            let broken = match blame {
                Blame::Settings => true,
                Blame::Event(chosen) => {
                    !fields.is_empty() && fields.iter().all(|f| chosen.contains(f))
                }
            };
            Outcome::Permanent(if broken { f.broken() } else { f })
        }
        401 => Outcome::Permanent(
            reply
                .failure(reason(format!(
                    "Jira refused the credentials while {what} (401); check `email` and `api_token`"
                )))
                .broken(),
        ),
        403 => Outcome::Permanent(
            reply
                .failure(reason(format!(
                    "Jira forbids the account {what} (403); check its project permissions"
                )))
                .broken(),
        ),
        404 => Outcome::Permanent(
            reply
                .failure(reason(format!(
                    "Jira answered not found while {what} (404); check `base_url` and `project_key`"
                )))
                .broken(),
        ),
        429 => {
            let mut f: Failure = reply.failure(reason(format!("Jira is throttling ({what})")));
            if f.retry_after.is_none() {
                f.retry_after = reply
                    .header("X-RateLimit-Reset")
                    .and_then(|v| until(v, Utc::now()));
            }
            Outcome::Retry(f)
        }
        408 | 500..=599 => {
            Outcome::Retry(reply.failure(reason(format!("Jira failed while {what} ({status})"))))
        }
        _ => Outcome::Permanent(
            reply.failure(reason(format!("Jira answered {status} while {what}"))),
        ),
    }
}

/// The wait until `X-RateLimit-Reset` (`2024-06-01T10:15Z`, or full RFC 3339).
pub(crate) fn until(value: &str, now: DateTime<Utc>) -> Option<std::time::Duration> {
    let v = value.trim();
    let at = DateTime::parse_from_rfc3339(v)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%MZ")
                .ok()
                .map(|n| n.and_utc())
        })?;
    Some((at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> HttpReply {
        herald_testkit::http_reply(status, &[], body)
    }

    #[test]
    fn errors_are_read_into_the_reason() {
        let r = reply(
            400,
            r#"{"errorMessages":["Bad request"],"errors":{"summary":"You must specify a summary of the issue."}}"#,
        );
        let Outcome::Permanent(f) = failure(&r, "creating the issue", Blame::Event(&[])) else {
            panic!("400 is permanent");
        };
        assert_eq!(
            f.reason,
            "Jira rejected creating the issue (400): Bad request; summary: You must specify a summary of the issue."
        );
        assert!(!f.broken);
        assert!(f.excerpt.unwrap().contains("errorMessages"));
        let chosen = ["issuetype".to_owned()];
        let r = reply(
            400,
            r#"{"errorMessages":[],"errors":{"issuetype":"Specify a valid issue type"}}"#,
        );
        let Outcome::Permanent(f) = failure(&r, "creating the issue", Blame::Event(&chosen)) else {
            panic!("400 is permanent");
        };
        assert!(f.broken, "the settings chose the issue type");
    }

    #[test]
    fn statuses_are_classified() {
        for (status, broken) in [(401, true), (403, true), (404, true), (409, false)] {
            let Outcome::Permanent(f) = failure(&reply(status, "{}"), "x", Blame::Event(&[]))
            else {
                panic!("{status} is permanent");
            };
            assert_eq!(f.broken, broken, "{status}");
        }
        assert!(
            matches!(failure(&reply(400, "{}"), "x", Blame::Settings), Outcome::Permanent(f) if f.broken)
        );
        for status in [408, 500, 503] {
            assert!(matches!(
                failure(&reply(status, ""), "x", Blame::Event(&[])),
                Outcome::Retry(_)
            ));
        }
        assert!(
            matches!(failure(&reply(429, ""), "x", Blame::Event(&[])), Outcome::Retry(f) if f.throttled)
        );
    }

    #[test]
    fn rate_limit_reset_is_read() {
        let now = DateTime::parse_from_rfc3339("2024-06-01T10:14:30Z")
            .unwrap()
            .into();
        assert_eq!(
            until("2024-06-01T10:15Z", now),
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(until("soon", now), None);
    }
}
