//! The demo's stand-in providers: one HTTP server on loopback that answers as
//! Slack, Microsoft Teams, Discord, PagerDuty, Opsgenie and Jira document, and a
//! mail catcher ([`super::mailbox`]), so the demo runs every chat, incident and
//! email worker with no account anywhere.
//!
//! Requests are routed by their first path segment (`/slack/...`, `/jira/...`);
//! each answer has the provider's documented status and body (`ok`, `202` with
//! a `dedup_key`, `201` with an issue key). Jira keeps its issues, so searches,
//! comments and transitions behave as they would. Every call is recorded as a
//! one-line [`Call`] for the demo's transcript.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::mailbox::Mailbox;

/// One request a stand-in provider answered.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// `slack`, `teams`, `discord`, `pagerduty`, `opsgenie`, `jira` or `email`.
    pub(crate) provider: String,
    /// What it was, in a few words (`post in thread 1.000001`, `create DEMO-1`).
    pub(crate) action: String,
    /// What it said (the headline, the incident summary).
    pub(crate) text: String,
    /// The status answered.
    pub(crate) status: u16,
}

/// A Jira issue the stand-in keeps.
#[derive(Debug)]
struct Issue {
    key: String,
    summary: String,
    labels: Vec<String>,
    done: bool,
    comments: Vec<Value>,
    description: Value,
}

#[derive(Debug, Default)]
struct Memory {
    slack_ts: u64,
    discord_id: u64,
    issues: Vec<Issue>,
    /// PagerDuty incidents and Opsgenie alerts by key: open or not.
    open: BTreeMap<String, bool>,
}

struct Shared {
    calls: watch::Sender<Vec<Call>>,
    memory: Mutex<Memory>,
}

/// The running stand-in.
#[derive(Debug)]
pub(crate) struct Providers {
    addr: SocketAddr,
    mailbox: Mailbox,
    calls: watch::Receiver<Vec<Call>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Providers {
    /// Starts the server on a free loopback port.
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot open the demo's provider server")?;
        let addr = listener.local_addr()?;
        let (tx, calls) = watch::channel(Vec::new());
        let mailbox = Mailbox::start(tx.clone()).await?;
        let shared = Arc::new(Shared {
            calls: tx,
            memory: Mutex::default(),
        });
        let app = Router::new().fallback(answer).with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "The demo's provider server stopped.");
            }
        });
        Ok(Self {
            addr,
            mailbox,
            calls,
            stop,
            task,
        })
    }

    /// The base URL of one provider (`http://127.0.0.1:PORT/slack`).
    pub(crate) fn url(&self, provider: &str) -> String {
        format!("http://{}/{provider}", self.addr)
    }

    /// The port of the mail catcher (plain SMTP on 127.0.0.1).
    pub(crate) fn smtp_port(&self) -> u16 {
        self.mailbox.port()
    }

    /// Every call so far, live.
    pub(crate) fn calls(&self) -> watch::Receiver<Vec<Call>> {
        self.calls.clone()
    }

    /// Stops the server.
    pub(crate) async fn stop(self) {
        self.mailbox.stop();
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn s(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let provider = parts.next().unwrap_or_default().to_owned();
    let rest = format!("/{}", parts.next().unwrap_or_default());
    let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (action, text, response) = {
        let Ok(mut memory) = shared.memory.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        match provider.as_str() {
            "slack" => slack(&mut memory, &rest, &doc),
            "teams" => teams(&doc),
            "discord" => discord(&mut memory, &rest, &doc),
            "pagerduty" => pagerduty(&mut memory, &doc),
            "opsgenie" => opsgenie(&mut memory, &rest, &doc),
            "jira" => jira(&mut memory, &method, &rest, &headers, &doc),
            _ => (
                "unknown path".to_owned(),
                path.clone(),
                StatusCode::NOT_FOUND.into_response(),
            ),
        }
    };
    let call = Call {
        provider,
        action,
        text,
        status: response.status().as_u16(),
    };
    shared.calls.send_modify(|all| all.push(call));
    response
}

/// The words a chat message shows first: its fallback text, else its first block.
fn slack_text(doc: &Value) -> String {
    let text = s(doc, "/text");
    if !text.is_empty() {
        return text.lines().next().unwrap_or_default().to_owned();
    }
    let header = s(doc, "/blocks/0/text/text");
    if !header.is_empty() {
        return header;
    }
    s(doc, "/attachments/0/title")
}

fn slack(memory: &mut Memory, rest: &str, doc: &Value) -> (String, String, Response) {
    let text = slack_text(doc);
    if rest.ends_with("chat.postMessage") {
        memory.slack_ts += 1;
        let ts = format!("1700000000.{:06}", memory.slack_ts);
        let thread = s(doc, "/thread_ts");
        let action = if thread.is_empty() {
            format!("chat.postMessage → ts {ts}")
        } else {
            format!("chat.postMessage in thread {thread}")
        };
        let channel = s(doc, "/channel");
        let body =
            json!({"ok": true, "channel": channel, "ts": ts, "message": {"ts": ts, "text": text}});
        return (action, text, json_response(StatusCode::OK, &body));
    }
    if rest.ends_with("chat.update") {
        let ts = s(doc, "/ts");
        let body = json!({"ok": true, "channel": s(doc, "/channel"), "ts": ts, "text": text});
        return (
            format!("chat.update of {ts}"),
            text,
            json_response(StatusCode::OK, &body),
        );
    }
    (
        "incoming webhook".to_owned(),
        text,
        (StatusCode::OK, "ok").into_response(),
    )
}

fn teams(doc: &Value) -> (String, String, Response) {
    let card = doc.pointer("/attachments/0/content").unwrap_or(doc);
    let text = card
        .get("body")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|b| {
            // A TextBlock, or the first TextBlock of a Container.
            std::iter::once(b).chain(
                b.get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
        })
        .find_map(|b| b.get("text").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| s(doc, "/title"));
    (
        "Workflows webhook".to_owned(),
        text,
        StatusCode::ACCEPTED.into_response(),
    )
}

fn discord(memory: &mut Memory, rest: &str, doc: &Value) -> (String, String, Response) {
    if rest.ends_with("/slack") {
        return (
            "Slack-compatible webhook".to_owned(),
            slack_text(doc),
            (StatusCode::OK, "ok").into_response(),
        );
    }
    memory.discord_id += 1;
    let title = s(doc, "/embeds/0/title");
    let text = if title.is_empty() {
        s(doc, "/content")
    } else {
        title
    };
    let body = json!({
        "id": format!("1100000000000000{:03}", memory.discord_id),
        "type": 0,
        "channel_id": "1100000000000000000",
        "content": doc.get("content").cloned().unwrap_or(json!("")),
        "embeds": doc.get("embeds").cloned().unwrap_or(json!([])),
    });
    let mut response = json_response(StatusCode::OK, &body);
    for (k, v) in [
        ("x-ratelimit-limit", "5"),
        ("x-ratelimit-remaining", "4"),
        ("x-ratelimit-reset-after", "1"),
    ] {
        if let Ok(v) = v.parse() {
            response.headers_mut().insert(k, v);
        }
    }
    ("execute webhook".to_owned(), text, response)
}

fn pagerduty(memory: &mut Memory, doc: &Value) -> (String, String, Response) {
    let action = s(doc, "/event_action");
    let key = s(doc, "/dedup_key");
    let summary = s(doc, "/payload/summary");
    let word = match action.as_str() {
        "trigger" => {
            let reopened = memory.open.insert(key.clone(), true) == Some(true);
            if reopened {
                "trigger (incident already open: same incident)"
            } else {
                "trigger → incident opened"
            }
        }
        "resolve" => {
            memory.open.insert(key.clone(), false);
            "resolve → incident resolved"
        }
        other => {
            let body = json!({"status": "invalid event", "message": "Event object is invalid", "errors": [format!("unknown event_action {other}")]});
            return (
                other.to_owned(),
                summary,
                json_response(StatusCode::BAD_REQUEST, &body),
            );
        }
    };
    let body = json!({"status": "success", "message": "Event processed", "dedup_key": key});
    (
        format!("{word} ({})", short(&key)),
        summary,
        json_response(StatusCode::ACCEPTED, &body),
    )
}

fn opsgenie(memory: &mut Memory, rest: &str, doc: &Value) -> (String, String, Response) {
    let body = json!({"result": "Request will be processed", "took": 0.01, "requestId": uuid::Uuid::now_v7().to_string()});
    if let Some(id) = rest
        .strip_prefix("/v2/alerts/")
        .and_then(|r| r.strip_suffix("/close"))
    {
        let alias = percent_decode(id);
        memory.open.insert(format!("og:{alias}"), false);
        return (
            format!("close alert ({})", short(&alias)),
            s(doc, "/note"),
            json_response(StatusCode::ACCEPTED, &body),
        );
    }
    let alias = s(doc, "/alias");
    memory.open.insert(format!("og:{alias}"), true);
    (
        format!("create alert {} ({})", s(doc, "/priority"), short(&alias)),
        s(doc, "/message"),
        json_response(StatusCode::ACCEPTED, &body),
    )
}

fn jira(
    memory: &mut Memory,
    method: &Method,
    rest: &str,
    headers: &HeaderMap,
    doc: &Value,
) -> (String, String, Response) {
    if !headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Basic "))
    {
        let body = json!({"errorMessages": ["You are not authenticated."], "errors": {}});
        return (
            "unauthenticated".to_owned(),
            String::new(),
            json_response(StatusCode::UNAUTHORIZED, &body),
        );
    }
    let issue_json = |i: &Issue| {
        let category = if i.done { "done" } else { "new" };
        json!({"id": i.key.trim_start_matches("DEMO-"), "key": i.key, "fields": {
            "summary": i.summary, "labels": i.labels, "description": i.description,
            "status": {"name": if i.done {"Done"} else {"To Do"}, "statusCategory": {"key": category}},
            "comment": {"comments": i.comments, "total": i.comments.len()},
        }})
    };
    if rest == "/rest/api/3/search/jql" {
        let jql = s(doc, "/jql");
        let found: Vec<Value> = memory
            .issues
            .iter()
            .filter(|i| i.labels.iter().any(|l| jql.contains(&format!("\"{l}\""))))
            .filter(|i| !(jql.contains("statusCategory != Done") && i.done))
            .map(issue_json)
            .collect();
        let n = found.len();
        return (
            format!("search → {n} open"),
            jql,
            json_response(StatusCode::OK, &json!({"issues": found, "isLast": true})),
        );
    }
    if rest == "/rest/api/3/issue" && method == Method::POST {
        let key = format!("DEMO-{}", memory.issues.len() + 1);
        let summary = s(doc, "/fields/summary");
        let labels = doc
            .pointer("/fields/labels")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        memory.issues.push(Issue {
            key: key.clone(),
            summary: summary.clone(),
            labels,
            done: false,
            comments: Vec::new(),
            description: doc
                .pointer("/fields/description")
                .cloned()
                .unwrap_or(Value::Null),
        });
        let body = json!({"id": key.trim_start_matches("DEMO-"), "key": key, "self": format!("https://demo.atlassian.net/rest/api/3/issue/{key}")});
        return (
            format!("create issue {key}"),
            summary,
            json_response(StatusCode::CREATED, &body),
        );
    }
    let Some(tail) = rest.strip_prefix("/rest/api/3/issue/") else {
        return not_found(rest);
    };
    let (key, what) = tail.split_once('/').unwrap_or((tail, ""));
    let Some(issue) = memory.issues.iter_mut().find(|i| i.key == key) else {
        return not_found(rest);
    };
    match (method, what) {
        (&Method::POST, "comment") => {
            issue
                .comments
                .push(json!({"id": issue.comments.len() + 1, "body": doc.get("body")}));
            (
                format!("comment on {key}"),
                first_adf_text(doc.get("body").unwrap_or(&Value::Null)),
                json_response(
                    StatusCode::CREATED,
                    &json!({"id": issue.comments.len().to_string()}),
                ),
            )
        }
        (&Method::GET, "comment") => {
            let body = json!({"comments": issue.comments, "total": issue.comments.len(), "startAt": 0, "maxResults": 50});
            (
                "read comments".to_owned(),
                key.to_owned(),
                json_response(StatusCode::OK, &body),
            )
        }
        (&Method::GET, "transitions") => {
            let body = json!({"transitions": [
                {"id": "11", "name": "To Do", "to": {"name": "To Do", "statusCategory": {"key": "new"}}},
                {"id": "21", "name": "In Progress", "to": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}}},
                {"id": "31", "name": "Done", "to": {"name": "Done", "statusCategory": {"key": "done"}}},
            ]});
            (
                "list transitions".to_owned(),
                key.to_owned(),
                json_response(StatusCode::OK, &body),
            )
        }
        (&Method::POST, "transitions") => {
            let id = s(doc, "/transition/id");
            if id == "31" {
                issue.done = true;
            }
            (
                format!("transition {key}"),
                if id == "31" { "Done".to_owned() } else { id },
                StatusCode::NO_CONTENT.into_response(),
            )
        }
        (&Method::GET, "") => {
            let body = issue_json(issue);
            (
                "read issue".to_owned(),
                key.to_owned(),
                json_response(StatusCode::OK, &body),
            )
        }
        _ => not_found(rest),
    }
}

fn not_found(rest: &str) -> (String, String, Response) {
    let body = json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}});
    (
        "not found".to_owned(),
        rest.to_owned(),
        json_response(StatusCode::NOT_FOUND, &body),
    )
}

/// The first text node of an Atlassian Document Format document.
fn first_adf_text(doc: &Value) -> String {
    if let Some(t) = doc.get("text").and_then(Value::as_str) {
        return t.to_owned();
    }
    doc.get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(first_adf_text)
        .find(|t| !t.is_empty())
        .unwrap_or_default()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A long key shortened for the transcript.
fn short(key: &str) -> String {
    herald_core::text::truncate(key, 24).into_owned()
}
