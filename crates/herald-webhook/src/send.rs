//! The one HTTP call, and how its result is classified.

use chrono::Utc;
use herald_core::outcome::{
    Failure, HttpClass, Outcome, classify_http, excerpt, parse_retry_after,
};

use crate::request::WebhookRequest;

/// Largest part of a response body kept for the dead-letter record.
const EXCERPT_BYTES: usize = 512;

/// Sends the request once. Redirects are not followed (a 3xx is a permanent
/// failure); 2xx succeeds; 408, 5xx, timeouts and connection errors are retried;
/// 429 is retried no sooner than its `Retry-After`; other 4xx (410 included)
/// are permanent.
pub(crate) async fn send(client: &reqwest::Client, req: &WebhookRequest) -> Outcome {
    let builder = client
        .request(req.method.clone(), req.url.expose().clone())
        .headers(req.headers.clone())
        .body(req.body.clone());
    let mut response = match builder.send().await {
        Ok(r) => r,
        Err(e) => {
            let reason = if e.is_timeout() {
                "the request timed out".to_string()
            } else if e.is_connect() {
                format!("cannot connect: {}", error_chain(&e))
            } else {
                format!("request failed: {}", error_chain(&e))
            };
            return Outcome::Retry(Failure::new(reason));
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    let class = classify_http(status);
    if class == HttpClass::Success {
        return Outcome::Delivered {
            handle: None,
            status: Some(status),
        };
    }
    let mut body = Vec::new();
    while body.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let failure = Failure {
        reason: match status {
            410 => "the endpoint is gone (410)".to_string(),
            300..=399 => format!("redirect ({status}) not followed"),
            _ => format!("HTTP {status}"),
        },
        status: Some(status),
        excerpt: (!body.is_empty()).then(|| excerpt(&body, EXCERPT_BYTES)),
        retry_after,
        throttled: class == HttpClass::Throttled,
    };
    match class {
        HttpClass::Throttled | HttpClass::Retryable => Outcome::Retry(failure),
        HttpClass::Permanent | HttpClass::Success => Outcome::Permanent(failure),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}
