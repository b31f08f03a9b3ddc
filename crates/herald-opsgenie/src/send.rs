//! The one HTTP call, how its answer is classified, and the alias notes that
//! keep late lifecycle events from undoing newer ones.

use std::time::Duration;

use herald_core::DeliveryContext;
use herald_core::http::{BODY_LIMIT, HttpReply};
use herald_core::lifecycle::LifecycleNote;
use herald_core::outcome::{Failure, Outcome};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tracing::{info, warn};

use crate::request::{Action, AlertRequest};
use crate::state::{self, AliasNote};

/// Sends one create or close, unless the alias' note says it is stale.
pub(crate) async fn send(
    client: &herald_core::http::HttpClient,
    auth: &HeaderValue,
    req: &AlertRequest,
    ctx: &DeliveryContext,
) -> Outcome {
    let key = state::key(&req.alias);
    let note = match ctx.memory.recall(&key).await {
        Ok(n) => n.as_deref().and_then(AliasNote::parse),
        Err(e) => {
            warn!(destination = %ctx.destination, error = %e, "Cannot read the alias note; sending anyway.");
            None
        }
    };
    if let Some(why) = state::stale(note.as_ref(), req.action, req.event_time) {
        info!(
            destination = %ctx.destination, alias = %req.alias, action = req.action.as_str(),
            reason = why, "Skipping a stale Opsgenie request."
        );
        return Outcome::delivered(None);
    }
    let builder = client
        .post(req.url.clone())
        .header(AUTHORIZATION, auth.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(req.body.clone());
    let outcome = match client.exchange(builder, BODY_LIMIT).await {
        Ok(reply) => classify(&reply, req.action),
        Err(outcome) => outcome,
    };
    if matches!(outcome, Outcome::Delivered { .. })
        && let Some(next) = AliasNote::after(note.as_ref(), req.action, req.event_time)
        && let Err(e) = ctx.memory.remember(&key, &next.encode()).await
    {
        warn!(destination = %ctx.destination, error = %e, "Delivered, but the alias note was not written.");
    }
    outcome
}

/// The verdict on Opsgenie's answer: 2xx (202) delivered, with the
/// `requestId` as handle; 429 throttled (`Retry-After`, else
/// `X-RateLimit-Period-In-Sec`); 408 and 5xx retried; 401, 402 and 403
/// permanent with the destination broken (key revoked, plan, permissions);
/// 404 permanent and broken for a create (wrong `api_url`), delivered for a
/// close (no such alert to close); 400, 422 and other answers permanent, with
/// Opsgenie's `message`.
pub(crate) fn classify(reply: &HttpReply, action: Action) -> Outcome {
    let status = reply.status;
    let message = reply
        .json::<serde_json::Value>()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned));
    let said = |what: &str| match &message {
        Some(m) => format!("{what} ({status}): {m}"),
        None => format!("{what} ({status})"),
    };
    match status {
        200..=299 => Outcome::Delivered {
            handle: reply.json::<serde_json::Value>().and_then(|v| {
                v.get("requestId")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned)
            }),
            status: Some(status),
            hold: None,
        },
        404 if action == Action::Close => {
            info!(status, "Opsgenie has no alert with this alias to close.");
            Outcome::delivered(Some(status))
        }
        401 => Outcome::Permanent(reply.failure(said("Opsgenie refused the API key")).broken()),
        402 => Outcome::Permanent(
            reply
                .failure(said("Opsgenie's plan does not allow this request"))
                .broken(),
        ),
        403 => Outcome::Permanent(
            reply
                .failure(said("Opsgenie forbids this API key to create alerts"))
                .broken(),
        ),
        404 => Outcome::Permanent(
            reply
                .failure(said(
                    "Opsgenie answered not found; check `api_url` and `region`",
                ))
                .broken(),
        ),
        429 => {
            let mut f: Failure = reply.failure(said("Opsgenie is throttling requests"));
            if f.retry_after.is_none() {
                f.retry_after = reply
                    .header("X-RateLimit-Period-In-Sec")
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .and_then(|s| Duration::try_from_secs_f64(s).ok());
            }
            Outcome::Retry(f)
        }
        408 | 500..=599 => Outcome::Retry(reply.failure(said("Opsgenie failed"))),
        _ => Outcome::Permanent(reply.failure(said(match action {
            Action::Create => "Opsgenie rejected the alert",
            Action::Close => "Opsgenie rejected the close",
        }))),
    }
}
