//! Destinations (the rows of `herald status`), test sends (`herald test`) and
//! previews (`herald render`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use herald_core::channel::RequestPreview;
use herald_core::config::{ConfigErrors, Destination};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::info;

use super::Console;
use super::access::Who;
use super::error::{ApiError, ApiResult};
use super::seeds::{self, Seed};
use crate::channels::facts;
use crate::render::{Problem, read_event, render};
use crate::send_test::{Verdict, send_test};
use crate::status::{Row, rows};

/// What the page needs to know once.
#[derive(Debug, Serialize)]
pub(crate) struct Info {
    /// The configuration file.
    file: String,
    version: &'static str,
    /// Who the console takes the caller for.
    who: String,
    /// Whether the workers publish the live feed.
    feed: bool,
    /// Jaeger's UI, when traces are linked.
    jaeger_url: Option<String>,
    /// The built-in sample events.
    seeds: Vec<Seed>,
}

/// `GET /api/info`.
pub(crate) async fn info(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Who>,
) -> ApiResult<Info> {
    Ok(Json(Info {
        file: console.file.clone(),
        version: env!("CARGO_PKG_VERSION"),
        who: who.0,
        feed: console.config.status.feed,
        jaeger_url: console.jaeger_url.clone(),
        seeds: seeds::all(),
    }))
}

/// One destination as the page shows it.
#[derive(Debug, Serialize)]
pub(crate) struct DestinationView {
    #[serde(flatten)]
    row: Row,
    /// What a test send does beyond a message (the page asks first), if anything.
    test_notice: Option<&'static str>,
}

/// `GET /api/destinations`.
#[derive(Debug, Serialize)]
pub(crate) struct Destinations {
    /// When this was read.
    time: DateTime<Utc>,
    destinations: Vec<DestinationView>,
}

/// `GET /api/destinations`: every destination with its state, as `herald status`.
pub(crate) async fn destinations(State(console): State<Arc<Console>>) -> ApiResult<Destinations> {
    let rows = rows(&console.js, &console.config).await?;
    let destinations = rows
        .into_iter()
        .map(|row| DestinationView {
            test_notice: facts(&row.channel)
                .map(|f| f.test_notice)
                .filter(|n| !n.is_empty()),
            row,
        })
        .collect();
    Ok(Json(Destinations {
        time: Utc::now(),
        destinations,
    }))
}

fn destination<'a>(console: &'a Console, name: &str) -> Result<&'a Destination, ApiError> {
    console
        .config
        .destinations
        .iter()
        .map(|d| &d.value)
        .find(|d| d.name() == name)
        .ok_or_else(|| ApiError::not_found(format!("no destination `{name}`")))
}

/// A request as the page shows it (secrets already redacted by the channel).
#[derive(Debug, Serialize)]
pub(crate) struct RequestView {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl From<RequestPreview> for RequestView {
    fn from(p: RequestPreview) -> Self {
        Self {
            method: p.method,
            target: p.target,
            headers: p.headers,
            body: p.body,
        }
    }
}

/// The body of `POST /api/destinations/{name}/test`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestRequest {
    /// Send even though the test has effects beyond a message (a Jira issue).
    #[serde(default)]
    confirm: bool,
}

/// What a test send did.
#[derive(Debug, Serialize)]
pub(crate) struct TestAnswer {
    destination: String,
    /// True when the provider accepted it.
    delivered: bool,
    /// The provider's answer, or why it failed.
    message: String,
    /// The request that was sent.
    request: Option<RequestView>,
}

/// `POST /api/destinations/{name}/test`: sends a test notification now.
pub(crate) async fn test(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Who>,
    Path(name): Path<String>,
    Json(body): Json<TestRequest>,
) -> ApiResult<TestAnswer> {
    let d = destination(&console, &name)?;
    let sent = send_test(
        &console.config,
        &console.file,
        d,
        body.confirm,
        Box::new(|_| {}),
    )
    .await
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            crate::channels::unknown_channel_message(d.channel()),
        )
    })?;
    let request = sent.request.map(RequestView::from);
    let (delivered, message) = match sent.verdict {
        Verdict::Sent(s) => (true, s),
        Verdict::Failed(s) => (false, s),
        Verdict::NeedsConfirmation => {
            let notice = facts(d.channel())
                .map(|f| f.test_notice)
                .unwrap_or_default();
            info!(%who, destination = %name, "Console: test send not confirmed; nothing sent.");
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "a test of a {} destination {notice}; confirm to send it",
                    d.channel()
                ),
            )
            .with("needs_confirmation", true));
        }
        Verdict::NotBuilt(errors) => {
            info!(%who, destination = %name, "Console: test send refused: the destination cannot be built.");
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, errors));
        }
    };
    info!(%who, destination = %name, delivered, answer = %message, "Console: test notification sent.");
    Ok(Json(TestAnswer {
        destination: name,
        delivered,
        message,
        request,
    }))
}

/// The body of `POST /api/preview`: a destination and an event, either a
/// built-in seed or pasted JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewRequest {
    destination: String,
    /// A built-in seed's name.
    #[serde(default)]
    seed: Option<String>,
    /// The event itself (a Herald envelope or a structured CloudEvent).
    #[serde(default)]
    event: Option<Value>,
    /// The subject; defaults to the seed's, else the event's `type`.
    #[serde(default)]
    subject: Option<String>,
}

/// What a destination would send.
#[derive(Debug, Serialize)]
pub(crate) struct PreviewAnswer {
    destination: String,
    channel: String,
    subject: String,
    request: RequestView,
    /// Why the destination would not in fact receive it, if so.
    note: Option<String>,
}

/// The line a MiniJinja message names (`... (in payload:3)`).
fn template_line(message: &str) -> Option<u64> {
    let (_, rest) = message.rsplit_once("(in payload:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn config_problem(errors: &ConfigErrors) -> ApiError {
    let text = errors.to_string();
    let mut e =
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, text.clone()).with("kind", "config");
    if let Some(line) = template_line(&text) {
        e = e.with("template_line", line);
    }
    if let Some(first) = errors.0.first().filter(|c| c.line > 0) {
        e = e.with("config_line", first.line);
    }
    e
}

/// `POST /api/preview`: renders an event for a destination, sending nothing.
pub(crate) async fn preview(
    State(console): State<Arc<Console>>,
    Json(body): Json<PreviewRequest>,
) -> ApiResult<PreviewAnswer> {
    let d = destination(&console, &body.destination)?;
    let (payload, subject) = match (&body.seed, &body.event) {
        (Some(name), None) => {
            let seed = seeds::find(name)
                .ok_or_else(|| ApiError::not_found(format!("no sample event `{name}`")))?;
            (
                seed.event.to_string(),
                body.subject.clone().or(Some(seed.subject)),
            )
        }
        (None, Some(event)) => (event.to_string(), body.subject.clone()),
        _ => return Err(ApiError::bad_request("give either `seed` or `event`")),
    };
    let now = Utc::now();
    let (event, subject) = read_event(&console.config, payload.as_bytes(), subject.as_deref(), now)
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("not a usable event: {e:#}"),
            )
            .with("kind", "event")
        })?;
    match render(&console.config, &console.file, d, &event, &subject, now) {
        Ok(r) => Ok(Json(PreviewAnswer {
            destination: d.name().to_owned(),
            channel: d.channel().to_owned(),
            subject,
            request: r.request.into(),
            note: r.note,
        })),
        Err(Problem::Config(errors)) => Err(config_problem(&errors)),
        Err(Problem::UnknownChannel(e)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string(),
        )
        .with("kind", "config")),
        Err(Problem::Nothing(why)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`{}`: {why}", d.name()),
        )
        .with("kind", "nothing")),
        Err(Problem::Render(e)) => {
            let message = format!(
                "`{}` cannot render this event (it would be dead-lettered): {e}",
                d.name()
            );
            let mut err =
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message).with("kind", "render");
            if let Some(line) = template_line(&e.0) {
                err = err.with("template_line", line);
            }
            Err(err)
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn template_lines_are_read_from_minijinja_messages() {
        assert_eq!(
            template_line("template error: undefined value (in payload:3)"),
            Some(3)
        );
        assert_eq!(
            template_line("syntax error: unexpected end of input (in payload:12): more"),
            Some(12)
        );
        assert_eq!(template_line("HTTP 400"), None);
    }
}
