//! One delivery: find the open issue of the label, then create, comment or
//! resolve, without ever writing twice for one event.
//!
//! Issue creation is not idempotent, and a request that timed out may still
//! have been carried out. So on a retry (attempt 2 and later) Herald first
//! looks for what an earlier attempt wrote: the issue found for the label is
//! this event's own when its description carries the delivery's marker; a
//! comment is when one of the issue's newest comments carries it. Only what is
//! missing is written.

use herald_core::DeliveryContext;
use herald_core::lifecycle::LifecycleNote;
use herald_core::outcome::Outcome;
use tracing::{info, warn};

use crate::api::{Api, Issue};
use crate::request::{IssuePlan, Kind};
use crate::state::{self, IssueNote};

/// What the settings say about repeats and resolves.
#[derive(Debug, Clone)]
pub(crate) struct Policy<'a> {
    pub(crate) project_key: &'a str,
    pub(crate) comment_on_repeat: bool,
    pub(crate) resolve_transition: Option<&'a str>,
}

fn delivered(key: Option<String>) -> Outcome {
    Outcome::Delivered {
        handle: key,
        status: None,
        hold: None,
    }
}

/// Carries out `plan`.
pub(crate) async fn send(
    api: &Api<'_>,
    policy: &Policy<'_>,
    plan: &IssuePlan,
    ctx: &DeliveryContext,
) -> Outcome {
    let memory_key = state::key(&plan.label);
    let note = match ctx.memory.recall(&memory_key).await {
        Ok(n) => n.as_deref().and_then(IssueNote::parse),
        Err(e) => {
            warn!(destination = %ctx.destination, error = %e, "Cannot read the issue note; searching Jira only.");
            None
        }
    };
    if let Some(why) = state::stale(note.as_ref(), plan.kind, plan.event_time) {
        info!(
            destination = %ctx.destination, label = %plan.label, kind = plan.kind.as_str(),
            reason = why, "Skipping a stale Jira event."
        );
        return delivered(None);
    }
    let retry = ctx.attempt > 1;
    let result = match find_open(api, policy, plan, note.as_ref(), retry).await {
        Ok(open) => act(api, policy, plan, open, retry, ctx).await,
        Err(outcome) => Err(outcome),
    };
    match result {
        Ok(key) => {
            if let Some(next) =
                IssueNote::after(note.as_ref(), plan.kind, plan.event_time, key.as_deref())
                && let Err(e) = ctx.memory.remember(&memory_key, &next.encode()).await
            {
                warn!(destination = %ctx.destination, error = %e, "Delivered, but the issue note was not written.");
            }
            delivered(key)
        }
        Err(outcome) => outcome,
    }
}

/// The open issue of the label: the noted key read back directly when it is
/// still open (the search index may not list a fresh issue yet), else the search.
async fn find_open(
    api: &Api<'_>,
    policy: &Policy<'_>,
    plan: &IssuePlan,
    note: Option<&IssueNote>,
    describe: bool,
) -> Result<Option<Issue>, Outcome> {
    if let Some(key) = note.and_then(IssueNote::open_key)
        && let Some(issue) = api.get_issue(key, describe).await?
        && !issue.done
    {
        return Ok(Some(issue));
    }
    api.search_open(policy.project_key, &plan.label, describe)
        .await
}

/// Writes what the event needs; the issue key it concerned.
async fn act(
    api: &Api<'_>,
    policy: &Policy<'_>,
    plan: &IssuePlan,
    open: Option<Issue>,
    retry: bool,
    ctx: &DeliveryContext,
) -> Result<Option<String>, Outcome> {
    match (plan.kind, open) {
        (Kind::Raise, None) => {
            let key = api.create(&plan.create).await?;
            info!(destination = %ctx.destination, issue = key.as_deref().unwrap_or("?"), label = %plan.label, "Created a Jira issue.");
            Ok(key)
        }
        (Kind::Raise, Some(issue)) => {
            if retry && issue.carries(&plan.marker) {
                info!(destination = %ctx.destination, issue = %issue.key, "An earlier attempt created this event's issue.");
            } else if policy.comment_on_repeat {
                comment_once(api, plan, &issue.key, retry).await?;
            }
            Ok(Some(issue.key))
        }
        (Kind::Resolve, None) => {
            info!(destination = %ctx.destination, label = %plan.label, "No open Jira issue to resolve.");
            Ok(None)
        }
        (Kind::Resolve, Some(issue)) => {
            if policy.comment_on_repeat {
                comment_once(api, plan, &issue.key, retry).await?;
            }
            if let Some(name) = policy.resolve_transition {
                api.transition(&issue.key, name).await?;
                info!(destination = %ctx.destination, issue = %issue.key, transition = name, "Resolved a Jira issue.");
            }
            Ok(Some(issue.key))
        }
    }
}

/// Comments, unless (on a retry) an earlier attempt already did.
async fn comment_once(
    api: &Api<'_>,
    plan: &IssuePlan,
    key: &str,
    retry: bool,
) -> Result<(), Outcome> {
    if retry && api.has_comment_with(key, &plan.marker).await? {
        return Ok(());
    }
    api.comment(key, &plan.comment).await
}
