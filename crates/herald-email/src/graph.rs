//! The Microsoft Graph transport: `POST {graph_url}/v1.0/users/{sender}/sendMail`
//! with an application token, at most four requests at once per mailbox
//! (Graph's limit per app and mailbox), and Graph's answers classified.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use herald_core::http::{EXCERPT_BYTES, HttpReply};
use herald_core::outcome::{Failure, Outcome};
use herald_core::text::truncate;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::token::TokenSource;

/// Concurrent requests Graph allows per application and mailbox.
pub const MAILBOX_CONCURRENCY: usize = 4;

/// The permits of one (application, mailbox) pair, shared by every destination
/// of this process that sends from it.
fn mailbox_permits(client_id: &str, sender: &str) -> Arc<Semaphore> {
    static PERMITS: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let key = format!("{client_id}/{}", sender.to_ascii_lowercase());
    let map = PERMITS.get_or_init(Mutex::default);
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(key)
        .or_insert_with(|| Arc::new(Semaphore::new(MAILBOX_CONCURRENCY)))
        .clone()
}

/// A built Graph transport.
#[derive(Debug)]
pub(crate) struct GraphTransport {
    pub(crate) client: herald_core::http::HttpClient,
    pub(crate) send_url: reqwest::Url,
    pub(crate) sender: String,
    pub(crate) save_to_sent_items: bool,
    pub(crate) tokens: TokenSource,
    pub(crate) permits: Arc<Semaphore>,
}

impl GraphTransport {
    pub(crate) fn new(
        client: herald_core::http::HttpClient,
        send_url: reqwest::Url,
        sender: String,
        client_id: &str,
        save_to_sent_items: bool,
        tokens: TokenSource,
    ) -> Self {
        let permits = mailbox_permits(client_id, &sender);
        Self {
            client,
            send_url,
            sender,
            save_to_sent_items,
            tokens,
            permits,
        }
    }

    /// The hosts of the token endpoint and of Graph.
    pub(crate) fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = [self.tokens.endpoint(), &self.send_url]
            .iter()
            .filter_map(|u| u.host_str().map(str::to_owned))
            .collect();
        hosts.dedup();
        hosts
    }

    /// Sends one `sendMail` body. A 401 (an expired or revoked token) fetches a
    /// new token and tries once more.
    pub(crate) async fn send(&self, body: &[u8], message_id: &str) -> Outcome {
        let Ok(_permit) = self.permits.acquire().await else {
            return Outcome::Retry(Failure::new("the mailbox limiter is closed"));
        };
        let mut refreshed = false;
        loop {
            let token = match self.tokens.token().await {
                Ok(t) => t,
                Err(outcome) => return outcome,
            };
            let request = self
                .client
                .post(self.send_url.clone())
                .bearer_auth(token.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
            let reply = match self.client.exchange(request, EXCERPT_BYTES * 8).await {
                Ok(r) => r,
                Err(outcome) => return outcome,
            };
            if reply.status == 401 && !refreshed {
                tracing::info!(
                    code = graph_code(&reply).as_deref().unwrap_or(""),
                    "Graph refused the token; fetching a new one."
                );
                self.tokens.invalidate(&token).await;
                refreshed = true;
                continue;
            }
            return classify(&reply, message_id);
        }
    }
}

#[derive(Deserialize)]
struct GraphError {
    error: GraphErrorBody,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// `code: message` of a Graph error body.
fn graph_code(reply: &HttpReply) -> Option<String> {
    let e = reply.json::<GraphError>()?;
    if e.error.code.is_empty() {
        return None;
    }
    Some(if e.error.message.is_empty() {
        e.error.code
    } else {
        format!("{}: {}", e.error.code, truncate(&e.error.message, 200))
    })
}

/// Graph's answer to `sendMail`: 202 accepted; 429 throttled (after
/// `Retry-After`); 408 and 5xx retried; 401 (after one refresh), 403 and 404
/// mean the destination is broken (no `Mail.Send`, no such mailbox); other 4xx
/// are permanent. Graph's `error.code` goes in the reason.
pub(crate) fn classify(reply: &HttpReply, message_id: &str) -> Outcome {
    let status = reply.status;
    let code = graph_code(reply).unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        200..=299 => Outcome::Delivered {
            handle: Some(message_id.to_owned()),
            status: Some(status),
            hold: None,
        },
        429 => Outcome::Retry(reply.failure(format!("Graph throttled the mailbox ({code})"))),
        408 | 500..=599 => Outcome::Retry(reply.failure(format!("Graph {status} ({code})"))),
        401 => Outcome::Permanent(
            reply
                .failure(format!("Graph refused a fresh token ({code})"))
                .broken(),
        ),
        403 => Outcome::Permanent(
            reply
                .failure(format!(
                    "Graph denied sendMail ({code}); does the app have Mail.Send with admin consent?"
                ))
                .broken(),
        ),
        404 => Outcome::Permanent(
            reply
                .failure(format!("Graph does not know the sender mailbox ({code})"))
                .broken(),
        ),
        _ => Outcome::Permanent(reply.failure(format!("Graph {status} ({code})"))),
    }
}
