//! A local Opsgenie Alert API on 127.0.0.1 that answers as Opsgenie documents:
//! `202 {"result","took","requestId"}` for creates and closes (checked against
//! `Authorization: GenieKey <key>`), one open alert per alias (a repeat raises
//! its count), closes by alias, `ErrorResponse` bodies for bad requests.
//!
//! Shared by the crate's tests and the end-to-end test
//! (`tests/e2e/tests/it/opsgenie.rs` includes this file). Scripted replies
//! ([`FakeOpsgenie::push`]) are answered first and change nothing.

#![allow(dead_code, reason = "each including test binary uses a different part")]

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Result;
use herald_testkit::{Receiver, Recorded, Reply};
use serde_json::{Value, json};

/// One alert as the fake Opsgenie holds it.
#[derive(Debug, Clone)]
pub(crate) struct Alert {
    /// Its alias.
    pub(crate) alias: String,
    /// The first create's body.
    pub(crate) body: Value,
    /// How many creates it absorbed.
    pub(crate) count: u32,
    /// False once closed.
    pub(crate) open: bool,
    /// The close's body, once closed.
    pub(crate) close: Option<Value>,
}

#[derive(Debug, Default)]
struct State {
    alerts: Vec<Alert>,
    requests: u32,
}

/// The fake Opsgenie.
#[derive(Debug)]
pub(crate) struct FakeOpsgenie {
    pub(crate) receiver: Receiver,
    state: Arc<Mutex<State>>,
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

fn error(status: u16, message: &str) -> Reply {
    Reply::status(status)
        .header("content-type", "application/json")
        .body(&json!({"message": message, "took": 0.001, "requestId": "err-0"}).to_string())
}

/// `%XX` sequences decoded (the alias in a close URL).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeOpsgenie {
    /// Starts one that accepts `GenieKey <key>`.
    pub(crate) async fn start(key: &str) -> Result<Self> {
        let receiver = Receiver::start().await?;
        let state = Arc::new(Mutex::new(State::default()));
        let expected = format!("GenieKey {key}");
        let shared = state.clone();
        receiver.respond_with(move |r| Some(answer(&shared, &expected, r)));
        Ok(Self { receiver, state })
    }

    /// `http://127.0.0.1:<port>`: the `api_url` to configure.
    pub(crate) fn url(&self) -> String {
        self.receiver.base_url()
    }

    /// Every alert, in creation order.
    pub(crate) fn alerts(&self) -> Vec<Alert> {
        lock(&self.state).alerts.clone()
    }

    /// Answers the next request with `reply` (before the fake's own logic).
    pub(crate) fn push(&self, reply: Reply) {
        self.receiver.push(reply);
    }

    /// Every request received, in order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.receiver.requests()
    }
}

fn answer(state: &Mutex<State>, expected_auth: &str, r: &Recorded) -> Reply {
    if r.header("authorization") != Some(expected_auth) {
        return error(401, "Could not authenticate");
    }
    let (path, query) = r.path.split_once('?').unwrap_or((r.path.as_str(), ""));
    let mut st = lock(state);
    st.requests += 1;
    let accepted = || {
        Reply::status(202)
            .header("content-type", "application/json")
            .body(
                &json!({
                    "result": "Request will be processed",
                    "took": 0.012,
                    "requestId": format!("req-{:04}", st.requests),
                })
                .to_string(),
            )
    };
    if r.method != "POST" {
        return error(405, "Method not allowed");
    }
    if path == "/v2/alerts" {
        let Ok(body) = serde_json::from_slice::<Value>(&r.body) else {
            return error(400, "Could not parse the request body");
        };
        let message = body.get("message").and_then(Value::as_str).unwrap_or("");
        if message.trim().is_empty() {
            return error(422, "Message can not be empty.");
        }
        if message.chars().count() > 130 {
            return error(422, "Message can not be longer than 130 characters.");
        }
        let alias = body
            .get("alias")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let reply = accepted();
        if let Some(open) = st.alerts.iter_mut().find(|a| a.open && a.alias == alias) {
            open.count += 1;
        } else {
            st.alerts.push(Alert {
                alias,
                body,
                count: 1,
                open: true,
                close: None,
            });
        }
        return reply;
    }
    if let Some(rest) = path.strip_prefix("/v2/alerts/")
        && let Some(identifier) = rest.strip_suffix("/close")
    {
        if query != "identifierType=alias" {
            return error(400, "identifierType must be alias here");
        }
        let alias = percent_decode(identifier);
        let body = serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null);
        let reply = accepted();
        if let Some(open) = st.alerts.iter_mut().find(|a| a.open && a.alias == alias) {
            open.open = false;
            open.close = Some(body);
        }
        return reply;
    }
    error(404, "Not found")
}
