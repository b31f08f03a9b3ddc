//! The Jira Cloud REST v3 calls one delivery may make, all sharing one
//! deadline (the destination's timeout covers the whole delivery).
//!
//! Each call returns what it found, or the [`Outcome`] the delivery ends
//! with (a retry or a permanent failure, classified in [`crate::classify`]).

use herald_core::http::{BODY_LIMIT, HttpReply};
use herald_core::outcome::{Failure, Outcome};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::adf;
use crate::classify::{Blame, failure};

/// Comments read back when looking for a marker (the newest first).
const COMMENTS_READ: u32 = 100;

/// The least time worth starting a request with.
const MIN_REQUEST_TIME: std::time::Duration = std::time::Duration::from_millis(50);

/// An issue as Herald needs to see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issue {
    /// `SEC-42`.
    pub(crate) key: String,
    /// True once its status is in the Done category.
    pub(crate) done: bool,
    /// Its description (ADF), when asked for.
    pub(crate) description: Option<Value>,
}

impl Issue {
    fn from_json(v: &Value) -> Option<Self> {
        let key = v.get("key")?.as_str()?.to_owned();
        let fields = v.get("fields");
        let done = fields
            .and_then(|f| f.pointer("/status/statusCategory/key"))
            .and_then(Value::as_str)
            == Some("done");
        let description = fields
            .and_then(|f| f.get("description"))
            .filter(|d| !d.is_null())
            .cloned();
        Some(Self {
            key,
            done,
            description,
        })
    }

    /// True when its description carries `marker`.
    pub(crate) fn carries(&self, marker: &str) -> bool {
        self.description
            .as_ref()
            .is_some_and(|d| adf::plain_text(d).contains(marker))
    }
}

/// One delivery's view of the Jira site.
#[derive(Debug)]
pub(crate) struct Api<'a> {
    pub(crate) client: &'a herald_core::http::HttpClient,
    pub(crate) base: &'a reqwest::Url,
    pub(crate) auth: &'a HeaderValue,
    pub(crate) deadline: Instant,
    /// Fields the settings chose (a 400 naming only these is the settings').
    pub(crate) chosen: &'a [String],
}

impl Api<'_> {
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, Outcome> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Outcome::Permanent(Failure::new("`base_url` cannot take a path").broken())
            })?
            .pop_if_empty()
            .extend(["rest", "api", "3"])
            .extend(segments);
        Ok(url)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<&Value>,
    ) -> Result<HttpReply, Outcome> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left < MIN_REQUEST_TIME {
            return Err(Outcome::Retry(Failure::new(
                "the delivery ran out of time between Jira requests",
            )));
        }
        let mut builder = self
            .client
            .request(method, url)
            .timeout(left)
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json");
        if let Some(b) = body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(b).unwrap_or_default());
        }
        self.client.exchange(builder, BODY_LIMIT).await
    }

    /// The oldest issue of `project` with `label` that is not done
    /// (`POST /rest/api/3/search/jql`), with its description when `describe`.
    pub(crate) async fn search_open(
        &self,
        project: &str,
        label: &str,
        describe: bool,
    ) -> Result<Option<Issue>, Outcome> {
        let mut fields = vec!["summary", "status"];
        if describe {
            fields.push("description");
        }
        let body = json!({
            "jql": format!(
                "project = {} AND labels = {} AND statusCategory != Done ORDER BY created ASC",
                jql_string(project),
                jql_string(label)
            ),
            "fields": fields,
            "maxResults": 1,
        });
        let reply = self
            .call(
                reqwest::Method::POST,
                self.url(&["search", "jql"])?,
                Some(&body),
            )
            .await?;
        if !(200..300).contains(&reply.status) {
            return Err(failure(
                &reply,
                "searching for the open issue",
                Blame::Settings,
            ));
        }
        let found = reply
            .json::<Value>()
            .ok_or_else(|| Outcome::Retry(reply.failure("Jira's search answer is not JSON")))?;
        Ok(found
            .get("issues")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Issue::from_json))
    }

    /// Issue `key` read directly (consistent, unlike the search); `None` when
    /// it no longer exists.
    pub(crate) async fn get_issue(
        &self,
        key: &str,
        describe: bool,
    ) -> Result<Option<Issue>, Outcome> {
        let mut url = self.url(&["issue", key])?;
        url.query_pairs_mut().append_pair(
            "fields",
            if describe {
                "status,description"
            } else {
                "status"
            },
        );
        let reply = self.call(reqwest::Method::GET, url, None).await?;
        match reply.status {
            200..=299 => Ok(reply.json::<Value>().as_ref().and_then(Issue::from_json)),
            404 => Ok(None),
            _ => Err(failure(
                &reply,
                "reading the issue",
                Blame::Event(self.chosen),
            )),
        }
    }

    /// Creates an issue; its key.
    pub(crate) async fn create(&self, body: &Value) -> Result<Option<String>, Outcome> {
        let reply = self
            .call(reqwest::Method::POST, self.url(&["issue"])?, Some(body))
            .await?;
        if !(200..300).contains(&reply.status) {
            return Err(failure(
                &reply,
                "creating the issue",
                Blame::Event(self.chosen),
            ));
        }
        Ok(reply
            .json::<Value>()
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_owned)))
    }

    /// Adds a comment to issue `key`.
    pub(crate) async fn comment(&self, key: &str, body: &Value) -> Result<(), Outcome> {
        let reply = self
            .call(
                reqwest::Method::POST,
                self.url(&["issue", key, "comment"])?,
                Some(body),
            )
            .await?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(failure(
                &reply,
                "commenting on the issue",
                Blame::Event(self.chosen),
            ))
        }
    }

    /// True when one of the newest comments of issue `key` carries `marker`.
    pub(crate) async fn has_comment_with(&self, key: &str, marker: &str) -> Result<bool, Outcome> {
        let mut url = self.url(&["issue", key, "comment"])?;
        url.query_pairs_mut()
            .append_pair("orderBy", "-created")
            .append_pair("maxResults", &COMMENTS_READ.to_string());
        let reply = self.call(reqwest::Method::GET, url, None).await?;
        if !(200..300).contains(&reply.status) {
            return Err(failure(
                &reply,
                "reading the issue's comments",
                Blame::Event(self.chosen),
            ));
        }
        Ok(reply
            .json::<Value>()
            .as_ref()
            .and_then(|v| v.get("comments"))
            .and_then(Value::as_array)
            .is_some_and(|comments| {
                comments.iter().any(|c| {
                    c.get("body")
                        .is_some_and(|b| adf::plain_text(b).contains(marker))
                })
            }))
    }

    /// Applies the transition called `name` (case does not matter) to issue `key`.
    pub(crate) async fn transition(&self, key: &str, name: &str) -> Result<(), Outcome> {
        let url = self.url(&["issue", key, "transitions"])?;
        let reply = self.call(reqwest::Method::GET, url.clone(), None).await?;
        if !(200..300).contains(&reply.status) {
            return Err(failure(
                &reply,
                "reading the issue's transitions",
                Blame::Event(self.chosen),
            ));
        }
        let listed = reply.json::<Value>().unwrap_or_default();
        let available: Vec<(&str, &str)> = listed
            .get("transitions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| Some((t.get("id")?.as_str()?, t.get("name")?.as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        let Some((id, _)) = available
            .iter()
            .find(|(_, n)| n.trim().eq_ignore_ascii_case(name.trim()))
        else {
            let names: Vec<&str> = available.iter().map(|(_, n)| *n).collect();
            return Err(Outcome::Permanent(
                Failure::new(format!(
                    "the transition `{name}` is not available for {key} (available: {})",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ))
                .with_status(reply.status),
            ));
        };
        let body = json!({"transition": {"id": id}});
        let reply = self.call(reqwest::Method::POST, url, Some(&body)).await?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(failure(
                &reply,
                "transitioning the issue",
                Blame::Event(self.chosen),
            ))
        }
    }
}

/// A JQL string literal: `"…"` with `"` and `\` escaped.
pub(crate) fn jql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
