//! A local Jira Cloud (REST v3) on 127.0.0.1 that behaves like Jira for what
//! Herald uses: issues kept in memory; `POST /rest/api/3/search/jql` by
//! project, label and status category; `GET /rest/api/3/issue/{key}`; create
//! (`201 {"id","key","self"}`); comments (add, list newest first);
//! transitions (list, apply). Every request must carry the right basic auth;
//! errors come as Jira's `{"errorMessages": [...], "errors": {...}}`.
//!
//! Shared by the crate's tests and the end-to-end test
//! (`tests/e2e/tests/it/jira.rs` includes this file). Scripted replies
//! ([`FakeJira::push`]) are answered first and change nothing; slow answers
//! ([`FakeJira::slow_next_create`]) change the state at once and answer late,
//! like a Jira that created the issue but whose answer never reached the client.

#![allow(dead_code, reason = "each including test binary uses a different part")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_testkit::{Receiver, Recorded, Reply};
use serde_json::{Value, json};

/// The transitions every issue offers, as `(id, name, done)`.
const TRANSITIONS: &[(&str, &str, bool)] = &[
    ("11", "To Do", false),
    ("21", "In Progress", false),
    ("31", "Done", true),
];

/// One issue as the fake Jira holds it.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub(crate) id: String,
    pub(crate) key: String,
    /// The create body's `fields`.
    pub(crate) fields: Value,
    pub(crate) labels: Vec<String>,
    /// True once transitioned to Done.
    pub(crate) done: bool,
    /// Comment bodies (ADF), oldest first.
    pub(crate) comments: Vec<Value>,
}

#[derive(Debug, Default)]
struct State {
    issues: Vec<Issue>,
    comment_ids: u32,
    slow_creates: VecDeque<Duration>,
    slow_comments: VecDeque<Duration>,
}

/// The fake Jira.
#[derive(Debug)]
pub(crate) struct FakeJira {
    pub(crate) receiver: Receiver,
    state: Arc<Mutex<State>>,
    project: String,
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

fn json_reply(status: u16, body: &Value) -> Reply {
    Reply::status(status)
        .header("content-type", "application/json")
        .body(&body.to_string())
}

/// Jira's error body.
pub(crate) fn jira_error(status: u16, messages: &[&str], errors: &Value) -> Reply {
    json_reply(
        status,
        &json!({"errorMessages": messages, "errors": errors}),
    )
}

/// The value after `name = "` in a JQL query.
fn jql_value(jql: &str, name: &str) -> Option<String> {
    let start = jql.find(&format!("{name} = \""))? + name.len() + 4;
    let rest = &jql[start..];
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

impl FakeJira {
    /// Starts one for project `project`, accepting `email:token` basic auth.
    pub(crate) async fn start(email: &str, token: &str, project: &str) -> Result<Self> {
        let receiver = Receiver::start().await?;
        let state = Arc::new(Mutex::new(State::default()));
        let auth = format!("Basic {}", STANDARD.encode(format!("{email}:{token}")));
        let base = receiver.base_url();
        let shared = state.clone();
        let p = project.to_owned();
        receiver.respond_with(move |r| Some(answer(&shared, &auth, &base, &p, r)));
        Ok(Self {
            receiver,
            state,
            project: project.to_owned(),
        })
    }

    /// `http://127.0.0.1:<port>`: the `base_url` to configure.
    pub(crate) fn url(&self) -> String {
        self.receiver.base_url()
    }

    /// Every issue, in creation order.
    pub(crate) fn issues(&self) -> Vec<Issue> {
        lock(&self.state).issues.clone()
    }

    /// Issue `key`.
    pub(crate) fn issue(&self, key: &str) -> Option<Issue> {
        self.issues().into_iter().find(|i| i.key == key)
    }

    /// An open issue with these labels, made outside Herald; its key.
    pub(crate) fn seed_issue(&self, summary: &str, labels: &[&str]) -> String {
        let mut st = lock(&self.state);
        let n = st.issues.len() + 1;
        let key = format!("{}-{n}", self.project);
        st.issues.push(Issue {
            id: format!("{}", 10_000 + n),
            key: key.clone(),
            fields: json!({"summary": summary}),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            done: false,
            comments: Vec::new(),
        });
        key
    }

    /// The next create is carried out at once but answered after `delay`.
    pub(crate) fn slow_next_create(&self, delay: Duration) {
        lock(&self.state).slow_creates.push_back(delay);
    }

    /// The next comment is added at once but answered after `delay`.
    pub(crate) fn slow_next_comment(&self, delay: Duration) {
        lock(&self.state).slow_comments.push_back(delay);
    }

    /// Answers the next request with `reply` (before the fake's own logic).
    pub(crate) fn push(&self, reply: Reply) {
        self.receiver.push(reply);
    }

    /// Every request received, in order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.receiver.requests()
    }

    /// The requests that wrote (`POST`s other than searches).
    pub(crate) fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && !r.path.starts_with("/rest/api/3/search"))
            .collect()
    }
}

fn issue_json(i: &Issue, fields: &[&str]) -> Value {
    let mut f = serde_json::Map::new();
    for name in fields {
        match *name {
            "summary" => {
                f.insert("summary".into(), i.fields["summary"].clone());
            }
            "status" => {
                let (name, key) = if i.done {
                    ("Done", "done")
                } else {
                    ("To Do", "new")
                };
                f.insert(
                    "status".into(),
                    json!({"name": name, "statusCategory": {"key": key}}),
                );
            }
            "description" => {
                f.insert(
                    "description".into(),
                    i.fields.get("description").cloned().unwrap_or(Value::Null),
                );
            }
            "labels" => {
                f.insert("labels".into(), json!(i.labels));
            }
            _ => {}
        }
    }
    json!({"id": i.id, "key": i.key, "fields": f})
}

fn answer(state: &Mutex<State>, auth: &str, base: &str, project: &str, r: &Recorded) -> Reply {
    if r.header("authorization") != Some(auth) {
        return jira_error(
            401,
            &["Client must be authenticated to access this resource."],
            &json!({}),
        );
    }
    let (path, query) = r.path.split_once('?').unwrap_or((r.path.as_str(), ""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let body = serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null);
    let mut st = lock(state);
    match (r.method.as_str(), segments.as_slice()) {
        ("POST", ["rest", "api", "3", "search", "jql"]) => {
            let jql = body["jql"].as_str().unwrap_or_default();
            match jql_value(jql, "project") {
                Some(p) if p == project => {}
                Some(p) => {
                    return jira_error(
                        400,
                        &[&format!(
                            "The value '{p}' does not exist for the field 'project'."
                        )],
                        &json!({}),
                    );
                }
                None => return jira_error(400, &["Error in the JQL Query."], &json!({})),
            }
            let label = jql_value(jql, "labels");
            let open_only = jql.contains("statusCategory != Done");
            let fields: Vec<&str> = body["fields"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let max = body["maxResults"].as_u64().unwrap_or(50);
            let found: Vec<Value> = st
                .issues
                .iter()
                .filter(|i| label.as_ref().is_none_or(|l| i.labels.contains(l)))
                .filter(|i| !(open_only && i.done))
                .take(usize::try_from(max).unwrap_or(50))
                .map(|i| issue_json(i, &fields))
                .collect();
            json_reply(200, &json!({"issues": found, "isLast": true}))
        }
        ("POST", ["rest", "api", "3", "issue"]) => {
            let f = &body["fields"];
            if f["project"]["key"] != project {
                return jira_error(
                    400,
                    &[],
                    &json!({"project": "Specify a valid project ID or key"}),
                );
            }
            if !matches!(
                f["issuetype"]["name"].as_str(),
                Some("Task" | "Bug" | "Incident")
            ) {
                return jira_error(
                    400,
                    &[],
                    &json!({"issuetype": "Specify a valid issue type"}),
                );
            }
            let summary = f["summary"].as_str().unwrap_or_default();
            if summary.trim().is_empty() {
                return jira_error(
                    400,
                    &[],
                    &json!({"summary": "You must specify a summary of the issue."}),
                );
            }
            if summary.chars().count() > 255 || summary.contains('\n') {
                return jira_error(
                    400,
                    &[],
                    &json!({"summary": "Summary must be less than 255 characters."}),
                );
            }
            if f["description"]["type"] != "doc" {
                return jira_error(
                    400,
                    &[],
                    &json!({"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}),
                );
            }
            let labels: Vec<String> = f["labels"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if labels.iter().any(|l| l.contains(' ')) {
                return jira_error(
                    400,
                    &[],
                    &json!({"labels": "The label 'x y' contains spaces which is invalid."}),
                );
            }
            let n = st.issues.len() + 1;
            let issue = Issue {
                id: format!("{}", 10_000 + n),
                key: format!("{project}-{n}"),
                fields: f.clone(),
                labels,
                done: false,
                comments: Vec::new(),
            };
            let reply = json_reply(
                201,
                &json!({"id": issue.id, "key": issue.key, "self": format!("{base}/rest/api/3/issue/{}", issue.id)}),
            );
            st.issues.push(issue);
            match st.slow_creates.pop_front() {
                Some(delay) => reply.after(delay),
                None => reply,
            }
        }
        (method, ["rest", "api", "3", "issue", key, rest @ ..]) => {
            let Some(pos) = st.issues.iter().position(|i| i.key == *key) else {
                return jira_error(
                    404,
                    &["Issue does not exist or you do not have permission to see it."],
                    &json!({}),
                );
            };
            match (method, rest) {
                ("GET", []) => {
                    let fields: Vec<&str> = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("fields="))
                        .map(|f| f.split("%2C").flat_map(|x| x.split(',')).collect())
                        .unwrap_or_else(|| vec!["summary", "status", "description", "labels"]);
                    json_reply(200, &issue_json(&st.issues[pos], &fields))
                }
                ("POST", ["comment"]) => {
                    if body["body"]["type"] != "doc" {
                        return jira_error(
                            400,
                            &[],
                            &json!({"comment": "Comment body can not be empty!"}),
                        );
                    }
                    st.comment_ids += 1;
                    let id = 20_000 + st.comment_ids;
                    st.issues[pos].comments.push(body["body"].clone());
                    let reply =
                        json_reply(201, &json!({"id": id.to_string(), "body": body["body"]}));
                    match st.slow_comments.pop_front() {
                        Some(delay) => reply.after(delay),
                        None => reply,
                    }
                }
                ("GET", ["comment"]) => {
                    let mut comments: Vec<Value> = st.issues[pos]
                        .comments
                        .iter()
                        .enumerate()
                        .map(|(i, b)| json!({"id": i.to_string(), "body": b}))
                        .collect();
                    if query.contains("orderBy=-created") {
                        comments.reverse();
                    }
                    let total = comments.len();
                    json_reply(
                        200,
                        &json!({"startAt": 0, "maxResults": 100, "total": total, "comments": comments}),
                    )
                }
                ("GET", ["transitions"]) => {
                    let list: Vec<Value> = TRANSITIONS
                        .iter()
                        .map(|(id, name, _)| json!({"id": id, "name": name}))
                        .collect();
                    json_reply(200, &json!({"transitions": list}))
                }
                ("POST", ["transitions"]) => {
                    let id = body["transition"]["id"].as_str().unwrap_or_default();
                    match TRANSITIONS.iter().find(|(t, _, _)| *t == id) {
                        Some((_, _, done)) => {
                            st.issues[pos].done = *done;
                            Reply::status(204)
                        }
                        None => jira_error(
                            400,
                            &[&format!(
                                "Transition id '{id}' is not valid for this issue."
                            )],
                            &json!({}),
                        ),
                    }
                }
                _ => jira_error(405, &["Method not allowed"], &json!({})),
            }
        }
        _ => jira_error(404, &["Not found"], &json!({})),
    }
}
