//! Herald's PagerDuty channel: events as Events API v2 alerts.
//!
//! Every event of one correlation shares a `dedup_key`, so retries and repeats
//! add to one alert; with `auto_resolve`, a later success resolves it with the
//! same key and routing key (dsops' auto-resolution). Because a failed trigger
//! may be retried after its resolve was delivered, the channel notes the last
//! action per key in the destination's memory and skips what a later event has
//! made stale.
//!
//! # Layout
//! - `config`: the destination keys ([`PagerDutySettings`]).
//! - `dedup`: the `dedup_key` ([`dedup_key`]).
//! - `render`: trigger and resolve bodies, within PagerDuty's limits.
//! - `lifecycle`: the per-key note that keeps stale events from reopening or
//!   resolving alerts ([`Note`]).
//! - `request`: a rendered event ([`PagerDutyRequest`]).
//! - `send`: the HTTP call and how PagerDuty's answers are read.

mod config;
mod dedup;
mod lifecycle;
mod render;
mod request;
mod send;

pub use config::{EU_EVENTS_URL, PagerDutySettings, PdSeverity, Region, US_EVENTS_URL};
pub use dedup::{MAX_DEDUP_KEY_CHARS, dedup_key};
pub use lifecycle::Note;
pub use render::{MAX_BODY_BYTES, MAX_SUMMARY_CHARS};
pub use request::{EventAction, PagerDutyRequest};
pub use send::THROTTLE_WAIT;

use std::time::Duration;

use herald_core::channel::{BuildError, ChannelDefaults, RenderError, RequestPreview};
use herald_core::config::{Destination, RateLimitConfig};
use herald_core::endpoint::web_url;
use herald_core::outcome::Outcome;
use herald_core::{Channel, DeliveryContext, Envelope};
use tracing::{info, warn};

use render::Renderer;

/// A built PagerDuty destination.
#[derive(Debug)]
pub struct PagerDuty {
    client: herald_core::http::HttpClient,
    url: reqwest::Url,
    renderer: Renderer,
}

impl PagerDuty {
    /// The Events API endpoint in use.
    pub fn events_url(&self) -> &reqwest::Url {
        &self.url
    }
}

impl Channel for PagerDuty {
    const NAME: &'static str = "pagerduty";
    const ENV_HINT: &'static str = " (or PAGERDUTY_ROUTING_KEY, with optional PAGERDUTY_SEVERITY, PAGERDUTY_AUTO_RESOLVE, PAGERDUTY_REGION, PAGERDUTY_EVENTS_URL, HERALD_EVENTS)";
    const TEST_NOTICE: &'static str = "opens a real PagerDuty incident on the service, which may page whoever is on call; resolve it in PagerDuty afterwards";

    type Settings = PagerDutySettings;
    type Payload = PagerDutyRequest;

    /// 10 s per request; about 120 events a minute per routing key (2 a second,
    /// one at a time), PagerDuty's documented limit.
    fn defaults() -> ChannelDefaults {
        ChannelDefaults {
            timeout: Duration::from_secs(10),
            rate_limit: Some(RateLimitConfig {
                per_second: 2.0,
                burst: 1,
            }),
        }
    }

    fn env_destination(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        use serde_json::json;
        get("PAGERDUTY_ROUTING_KEY")?;
        let auto_resolve = get("PAGERDUTY_AUTO_RESOLVE").map(|v| {
            match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => json!(true),
                "0" | "false" | "no" | "off" => json!(false),
                // Left as text so the configuration check names the bad value.
                _ => json!(v),
            }
        });
        let resolving = auto_resolve.as_ref().is_some_and(|v| v == &json!(true));
        let mut d = herald_core::env::destination("pagerduty", get);
        // Page for problems only; with auto_resolve, successes pass to resolve.
        d.insert(
            "when".into(),
            if resolving {
                json!({"severity": ["success", "warning", "error", "critical"]})
            } else {
                json!({"severity_at_least": "warning"})
            },
        );
        d.insert(
            "routing_key".into(),
            herald_core::env::from_env("PAGERDUTY_ROUTING_KEY"),
        );
        if let Some(v) = auto_resolve {
            d.insert("auto_resolve".into(), v);
        }
        for (var, key) in [
            ("PAGERDUTY_SEVERITY", "severity"),
            ("PAGERDUTY_REGION", "region"),
            ("PAGERDUTY_EVENTS_URL", "events_url"),
        ] {
            if let Some(v) = get(var) {
                d.insert(key.into(), v.to_ascii_lowercase().into());
            }
        }
        Some(d)
    }

    fn build(
        destination: &Destination,
        s: PagerDutySettings,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        let routing_key = s
            .routing_key
            .resolve()
            .map_err(|e| BuildError::new("routing_key", e.to_string()))?;
        if routing_key.expose().trim() != routing_key.expose() {
            return Err(BuildError::new(
                "routing_key",
                "the routing key has leading or trailing white space",
            ));
        }
        let url = match (&s.events_url, s.region) {
            (Some(_), Some(_)) => {
                return Err(BuildError::new(
                    "region",
                    "set `events_url` or `region`, not both",
                ));
            }
            (Some(u), None) => web_url("events_url", u)?,
            (None, region) => web_url(
                "region",
                region.map_or(US_EVENTS_URL, config::Region::events_url),
            )?,
        };
        if let Some(u) = &s.client_url {
            web_url("client_url", u)?;
        }
        if s.resolve_on.iter().any(|t| t.trim().is_empty()) {
            return Err(BuildError::new(
                "resolve_on",
                "event types must not be empty",
            ));
        }
        Ok(Self {
            client: herald_core::http::client(Self::NAME, destination, timeout)?,
            url,
            renderer: Renderer {
                routing_key,
                severity: s.severity,
                auto_resolve: s.auto_resolve,
                resolve_on: s.resolve_on,
                custom_details: s.custom_details,
                source: s.source,
                component: s.component,
                group: s.group,
                class: s.class,
                client: s.client,
                client_url: s.client_url,
            },
        })
    }

    fn render(
        &self,
        event: &Envelope,
        ctx: &DeliveryContext,
    ) -> Result<PagerDutyRequest, RenderError> {
        let dedup_key = dedup::dedup_key(event, &ctx.idempotency_key);
        let action = self.renderer.action(event);
        let body = self
            .renderer
            .body(event, action, &dedup_key)
            .map_err(RenderError)?;
        Ok(PagerDutyRequest {
            action,
            dedup_key,
            event_id: event.id.clone(),
            event_time: event.time,
            body: body.into(),
        })
    }

    async fn send(&self, req: &PagerDutyRequest, ctx: &DeliveryContext) -> Outcome {
        let key = Note::key(&req.dedup_key);
        let note = match ctx.memory.recall(&key).await {
            Ok(text) => text.as_deref().and_then(Note::parse),
            Err(e) => {
                // Without the note a stale event cannot be recognised; sending
                // it is better than losing a page.
                warn!(destination = %ctx.destination, error = %e, "Cannot read the alert's note; sending without the staleness check.");
                None
            }
        };
        if let Some(newer) = lifecycle::superseded_by(note.as_ref(), req.action, req.event_time) {
            info!(
                destination = %ctx.destination, event = %req.event_id, dedup_key = %req.dedup_key,
                action = %req.action, event_time = %req.event_time,
                later_action = %newer.action, later_time = %newer.time, later_event = %newer.event,
                "Skipping a stale event: a later event of this alert was already sent."
            );
            return Outcome::Delivered {
                handle: Some(req.dedup_key.clone()),
                status: None,
                hold: None,
            };
        }
        let outcome = send::post(&self.client, &self.url, req).await;
        if matches!(outcome, Outcome::Delivered { .. })
            && herald_core::lifecycle::replaces(note.as_ref(), req.event_time)
        {
            let fresh = Note {
                action: req.action,
                time: req.event_time,
                event: req.event_id.clone(),
            };
            if let Err(e) = ctx.memory.remember(&key, &fresh.to_text()).await {
                warn!(destination = %ctx.destination, error = %e, "Delivered, but the alert's note was not written.");
            }
        }
        outcome
    }

    fn preview(&self, payload: &PagerDutyRequest) -> RequestPreview {
        RequestPreview {
            method: "POST".to_owned(),
            target: self.url.to_string(),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: payload.redacted_body(),
        }
    }

    fn hosts(&self) -> Vec<String> {
        self.url.host_str().map(str::to_owned).into_iter().collect()
    }
}

#[cfg(test)]
mod tests;
