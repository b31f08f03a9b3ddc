//! The one HTTP call, and how its result is classified.

use herald_core::http::EXCERPT_BYTES;
use herald_core::outcome::Outcome;

use crate::request::WebhookRequest;

/// Sends the request once. Redirects are not followed (a 3xx is a permanent
/// failure); 2xx succeeds; 408, 5xx, timeouts and connection errors are retried;
/// 429 is retried no sooner than its `Retry-After`; other 4xx (410 included)
/// are permanent.
pub(crate) async fn send(client: &herald_core::http::HttpClient, req: &WebhookRequest) -> Outcome {
    let builder = client
        .request(req.method.clone(), req.url.expose().clone())
        .headers(req.headers.clone())
        .body(req.body.clone());
    match client.exchange(builder, EXCERPT_BYTES).await {
        Ok(reply) => reply.default_outcome(),
        Err(outcome) => outcome,
    }
}
