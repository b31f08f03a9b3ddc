//! OAuth2 client credentials against the tenant's token endpoint, with the
//! token cached until shortly before it expires.

use std::time::Duration;

use herald_core::config::Secret;
use herald_core::http::{BODY_LIMIT, HttpReply};
use herald_core::outcome::{Failure, Outcome};
use herald_core::text::truncate;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::assertion::CertificateKey;

/// A token is refreshed this long before it expires (or at half its life when
/// it lives shorter than twice this).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// How the application proves who it is.
#[derive(Debug)]
pub(crate) enum Credential {
    /// `client_secret`.
    Secret(Secret),
    /// A signed client assertion.
    Certificate(Box<CertificateKey>),
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// Fetches and caches tokens for one application.
#[derive(Debug)]
pub(crate) struct TokenSource {
    client: herald_core::http::HttpClient,
    endpoint: reqwest::Url,
    client_id: String,
    scope: String,
    credential: Credential,
    cache: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl TokenSource {
    /// The token endpoint.
    pub(crate) fn endpoint(&self) -> &reqwest::Url {
        &self.endpoint
    }

    pub(crate) fn new(
        client: herald_core::http::HttpClient,
        endpoint: reqwest::Url,
        client_id: String,
        scope: String,
        credential: Credential,
    ) -> Self {
        Self {
            client,
            endpoint,
            client_id,
            scope,
            credential,
            cache: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a new one.
    ///
    /// # Errors
    /// The outcome to report when no token can be had (retry, or a broken
    /// destination when the credentials are refused).
    pub(crate) async fn token(&self) -> Result<Secret, Outcome> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        let margin = if lifetime > REFRESH_MARGIN * 2 {
            REFRESH_MARGIN
        } else {
            lifetime / 2
        };
        *cache = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(token)
    }

    /// Forgets `stale` (Graph said it is expired or invalid), so the next
    /// [`TokenSource::token`] fetches a new one.
    pub(crate) async fn invalidate(&self, stale: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == stale) {
            *cache = None;
        }
    }

    async fn fetch(&self) -> Result<(Secret, Duration), Outcome> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        match &self.credential {
            Credential::Secret(s) => form.push(("client_secret", s.expose().to_owned())),
            Credential::Certificate(key) => {
                let assertion = key
                    .assertion(
                        &self.client_id,
                        self.endpoint.as_str(),
                        chrono::Utc::now().timestamp(),
                        &uuid::Uuid::now_v7().to_string(),
                    )
                    .map_err(|e| Outcome::Permanent(Failure::new(e).broken()))?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                form.push(("client_assertion", assertion));
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let request = self
            .client
            .post(self.endpoint.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let reply = match self.client.exchange(request, BODY_LIMIT).await {
            Ok(r) => r,
            Err(outcome) => {
                let named = |f: Failure| Failure {
                    reason: format!("token endpoint: {}", f.reason),
                    ..f
                };
                return Err(match outcome {
                    Outcome::Retry(f) => Outcome::Retry(named(f)),
                    Outcome::Permanent(f) => Outcome::Permanent(named(f)),
                    delivered @ Outcome::Delivered { .. } => delivered,
                });
            }
        };
        classify(&reply)
    }
}

/// The token in a token endpoint's answer, or what to do about its refusal.
fn classify(reply: &HttpReply) -> Result<(Secret, Duration), Outcome> {
    if (200..300).contains(&reply.status) {
        let Some(answer) = reply.json::<TokenAnswer>() else {
            return Err(Outcome::Retry(
                reply.failure("token endpoint: the answer has no access_token"),
            ));
        };
        let secs = match answer.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(3599),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(3599),
            _ => 3599,
        };
        return Ok((Secret::new(answer.access_token), Duration::from_secs(secs)));
    }
    let err = reply.json::<TokenError>();
    let what = err.as_ref().map_or_else(
        || format!("HTTP {}", reply.status),
        |e| {
            let first = e.error_description.lines().next().unwrap_or_default();
            format!("{}: {}", e.error, truncate(first, 200))
        },
    );
    let reason = format!("token endpoint refused the credentials ({what})");
    match reply.status {
        429 | 408 | 500..=599 => Err(Outcome::Retry(
            reply.failure(format!("token endpoint: HTTP {}", reply.status)),
        )),
        // invalid_client, unauthorized_client, an unknown tenant: the
        // configuration is wrong and every event will fail alike.
        400 | 401 | 403 | 404 => Err(Outcome::Permanent(reply.failure(reason).broken())),
        _ => Err(Outcome::Permanent(reply.failure(reason))),
    }
}
