//! Dead letters: browse by destination, replay one or all of a destination's,
//! purge a destination's (confirmed), as `herald dlq` does.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use tracing::info;

use super::Console;
use super::access::Who;
use super::error::{ApiError, ApiResult};
use crate::dlq::purge::{count, purge as purge_letters};
use crate::dlq::read::{self, LetterView};
use crate::dlq::replay::{Replayed, replay};

/// `?destination=`.
#[derive(Debug, Deserialize)]
pub(crate) struct Whose {
    #[serde(default)]
    destination: Option<String>,
}

impl Whose {
    /// The destination, when one is named; never a subject wildcard.
    fn optional(&self) -> Result<Option<&str>, ApiError> {
        match self.destination.as_deref().filter(|d| !d.is_empty()) {
            None => Ok(None),
            Some(d)
                if d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Ok(Some(d))
            }
            Some(d) => Err(ApiError::bad_request(format!(
                "`{d}` is not a destination name"
            ))),
        }
    }

    fn required(&self) -> Result<&str, ApiError> {
        self.optional()?
            .ok_or_else(|| ApiError::bad_request("name the destination: `?destination=`"))
    }
}

/// `GET /api/dlq`.
#[derive(Debug, Serialize)]
pub(crate) struct Letters {
    letters: Vec<LetterView>,
}

/// `GET /api/dlq?destination=`: dead letters, oldest first (all of them
/// without a destination). None when no worker has made the DLQ stream yet.
pub(crate) async fn list(
    State(console): State<Arc<Console>>,
    Query(whose): Query<Whose>,
) -> ApiResult<Letters> {
    let Ok(stream) = console.js.get_stream(&console.config.dlq.stream).await else {
        return Ok(Json(Letters {
            letters: Vec::new(),
        }));
    };
    let filter = read::filter(&console.config, whose.optional()?);
    let letters = read::all(&stream, &filter, None).await?;
    Ok(Json(Letters {
        letters: letters.iter().map(read::Letter::view).collect(),
    }))
}

/// What a replay did.
#[derive(Debug, Serialize)]
pub(crate) struct ReplayAnswer {
    replayed: Vec<Replayed>,
}

/// `POST /api/dlq/{seq}/replay`: one dead letter back to its destination.
pub(crate) async fn replay_one(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Who>,
    Path(seq): Path<u64>,
) -> ApiResult<ReplayAnswer> {
    let stream = read::dlq_stream(&console.js, &console.config).await?;
    let letter = read::one(&stream, &console.config, seq)
        .await
        .map_err(|e| ApiError::not_found(format!("{e:#}")))?;
    let replayed = replay(&console.js, &console.config, &[letter], false).await?;
    for r in &replayed {
        info!(%who, dead_letter = r.seq, destination = %r.destination, event = %r.event_id, duplicate = r.duplicate, "Console: dead letter replayed.");
    }
    Ok(Json(ReplayAnswer { replayed }))
}

/// `POST /api/dlq/replay?destination=`: every dead letter of a destination back to it.
pub(crate) async fn replay_destination(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Who>,
    Query(whose): Query<Whose>,
) -> ApiResult<ReplayAnswer> {
    let destination = whose.required()?;
    let stream = read::dlq_stream(&console.js, &console.config).await?;
    let letters = read::all(
        &stream,
        &read::filter(&console.config, Some(destination)),
        None,
    )
    .await?;
    let replayed = replay(&console.js, &console.config, &letters, false).await?;
    info!(%who, destination, count = replayed.len(), "Console: dead letters of a destination replayed.");
    Ok(Json(ReplayAnswer { replayed }))
}

/// The body of `POST /api/dlq/purge`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PurgeRequest {
    /// Really delete them.
    #[serde(default)]
    confirm: bool,
}

/// What a purge did.
#[derive(Debug, Serialize)]
pub(crate) struct PurgeAnswer {
    destination: String,
    purged: u64,
}

/// `POST /api/dlq/purge?destination=`: deletes a destination's dead letters
/// when confirmed; unconfirmed, answers 409 with how many would go.
pub(crate) async fn purge(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Who>,
    Query(whose): Query<Whose>,
    Json(body): Json<PurgeRequest>,
) -> ApiResult<PurgeAnswer> {
    let destination = whose.required()?;
    let stream = read::dlq_stream(&console.js, &console.config).await?;
    let filter = read::filter(&console.config, Some(destination));
    if !body.confirm {
        let n = count(&stream, &filter).await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{n} dead letter(s) of {destination} would be deleted; confirm to delete them"),
        )
        .with("needs_confirmation", true)
        .with("would_delete", n));
    }
    let purged = purge_letters(&stream, &filter).await?;
    info!(%who, destination, purged, "Console: dead letters purged.");
    Ok(Json(PurgeAnswer {
        destination: destination.to_owned(),
        purged,
    }))
}
