//! The expiry report: which certificates and secrets expire within a horizon,
//! read from `cert.expiring` and `secret.expiring` events.
//!
//! Producers describe expiring items in several shapes; each is read:
//! - a list under `data.certificates`, `data.secrets` or `data.items`, each item
//!   with a name (`name`, `common_name`, `id`) and a date (`expires`,
//!   `expires_at`, `not_after`, `expiry`, `rotation_due`);
//! - one object under `data.certificate` or `data.secret` of the same shape;
//! - a date directly in `data`, named by `data.name` or the event's resource;
//! - else a field titled `Expires` (or `Expiry`, `Expires at`, `Not after`)
//!   holding one date, named by the event's resource.
//!
//! An item reported by several events appears once, as the latest event tells it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::Value;

use crate::envelope::Envelope;

/// What kind of item expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemKind {
    /// A certificate.
    Certificate,
    /// A secret (password, key, token).
    Secret,
}

impl ItemKind {
    /// `certificate` or `secret`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Certificate => "certificate",
            ItemKind::Secret => "secret",
        }
    }
}

/// One row of the expiry report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryItem {
    /// The certificate or secret.
    pub name: String,
    /// Certificate or secret.
    pub kind: ItemKind,
    /// The day it expires (or its rotation is due).
    pub expires: NaiveDate,
    /// Days from the report's day; negative when already expired.
    pub days_left: i64,
    /// Where it lives: the event's resource (a vault, a cluster), if any.
    pub container: Option<String>,
    /// The system that reported it.
    pub source: Option<String>,
    /// The event's environment.
    pub environment: Option<String>,
    /// The reporting event's first link, if any.
    pub link: Option<String>,
}

const DATE_KEYS: [&str; 5] = [
    "expires",
    "expires_at",
    "not_after",
    "expiry",
    "rotation_due",
];
const NAME_KEYS: [&str; 3] = ["name", "common_name", "id"];
const FIELD_TITLES: [&str; 4] = ["expires", "expiry", "expires at", "not after"];

/// A date (`2026-12-10`) or an RFC 3339 time, as a day.
fn date(v: &Value) -> Option<NaiveDate> {
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).date_naive());
    }
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

fn first_str<'a>(o: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| o.get(*k).and_then(Value::as_str))
}

fn first_date(o: &serde_json::Map<String, Value>) -> Option<NaiveDate> {
    DATE_KEYS.iter().find_map(|k| o.get(*k).and_then(date))
}

fn kind_of(text: &str) -> Option<ItemKind> {
    let t = text.to_ascii_lowercase();
    if t.starts_with("cert") {
        Some(ItemKind::Certificate)
    } else if t.starts_with("secret") || t.starts_with("key") || t.starts_with("password") {
        Some(ItemKind::Secret)
    } else {
        None
    }
}

/// The (name, kind, date) items one event reports.
fn items_of(e: &Envelope) -> Vec<(String, ItemKind, NaiveDate)> {
    let default_kind = kind_of(&e.event_type).unwrap_or(ItemKind::Secret);
    let mut out = Vec::new();
    let Value::Object(data) = &e.data else {
        return fallback(e, default_kind);
    };
    for (key, list_kind) in [
        ("certificates", Some(ItemKind::Certificate)),
        ("secrets", Some(ItemKind::Secret)),
        ("items", None),
    ] {
        for item in data
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Value::Object(o) = item else { continue };
            let (Some(name), Some(day)) = (first_str(o, &NAME_KEYS), first_date(o)) else {
                continue;
            };
            let kind = o
                .get("kind")
                .and_then(Value::as_str)
                .and_then(kind_of)
                .or(list_kind)
                .unwrap_or(default_kind);
            out.push((name.to_owned(), kind, day));
        }
    }
    for (key, kind) in [
        ("certificate", ItemKind::Certificate),
        ("secret", ItemKind::Secret),
    ] {
        if let Some(Value::Object(o)) = data.get(key)
            && let Some(day) = first_date(o)
        {
            let name = first_str(o, &NAME_KEYS)
                .map(str::to_owned)
                .or_else(|| e.resource.clone())
                .unwrap_or_else(|| e.title.clone());
            out.push((name, kind, day));
        }
    }
    if out.is_empty()
        && let Some(day) = first_date(data)
    {
        let name = first_str(data, &NAME_KEYS)
            .map(str::to_owned)
            .or_else(|| e.resource.clone())
            .unwrap_or_else(|| e.title.clone());
        out.push((name, default_kind, day));
    }
    if out.is_empty() {
        return fallback(e, default_kind);
    }
    out
}

fn fallback(e: &Envelope, kind: ItemKind) -> Vec<(String, ItemKind, NaiveDate)> {
    let day = e
        .fields
        .iter()
        .find(|f| FIELD_TITLES.contains(&f.title.trim().to_ascii_lowercase().as_str()))
        .and_then(|f| date(&Value::String(f.value.clone())));
    match day {
        Some(day) => vec![(
            e.resource.clone().unwrap_or_else(|| e.title.clone()),
            kind,
            day,
        )],
        None => Vec::new(),
    }
}

/// An item's identity: its kind, name and where it lives.
type ItemKey = (ItemKind, String, Option<String>);

/// The items of `events` expiring by `now + horizon` (and those already
/// expired), each once, sorted by date then name.
pub fn expiry_items(
    events: &[Envelope],
    now: DateTime<Utc>,
    horizon: TimeDelta,
) -> Vec<ExpiryItem> {
    let today = now.date_naive();
    let last = (now + horizon).date_naive();
    let mut latest: BTreeMap<ItemKey, (DateTime<Utc>, ExpiryItem)> = BTreeMap::new();
    for e in events {
        let container = match &e.data {
            Value::Object(d) => d
                .get("vault")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| e.resource.clone()),
            _ => e.resource.clone(),
        };
        for (name, kind, expires) in items_of(e) {
            let container = container.clone().filter(|c| *c != name);
            let key = (kind, name.clone(), container.clone());
            let item = ExpiryItem {
                name,
                kind,
                expires,
                days_left: (expires - today).num_days(),
                container,
                source: e.source.clone(),
                environment: e.environment.clone(),
                link: e.links.first().map(|l| l.url.clone()),
            };
            match latest.get(&key) {
                Some((t, _)) if *t > e.time => {}
                _ => {
                    latest.insert(key, (e.time, item));
                }
            }
        }
    }
    let mut rows: Vec<ExpiryItem> = latest
        .into_values()
        .map(|(_, i)| i)
        .filter(|i| i.expires <= last)
        .collect();
    rows.sort_by(|a, b| a.expires.cmp(&b.expires).then_with(|| a.name.cmp(&b.name)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(v: Value) -> Envelope {
        serde_json::from_value(v).unwrap()
    }

    fn base(id: &str, kind: &str, time: &str, data: Value) -> Value {
        let mut v = serde_json::json!({
            "id": id, "type": kind, "source": "vault", "time": time,
            "severity": "warning", "title": "t", "summary": "s", "resource": "kv-prod"
        });
        v["data"] = data;
        v
    }

    #[test]
    fn reads_every_shape_sorts_by_date_and_keeps_the_latest_report() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let events = vec![
            event(base(
                "a",
                "secret.expiring",
                "2026-11-20T00:00:00Z",
                serde_json::json!({
                "secrets": [
                    {"name": "api-key", "expires": "2026-11-29"},
                    {"name": "cert-primary", "kind": "certificate", "expires": "2026-12-18"},
                    {"name": "far", "expires": "2027-06-01"}
                ]}),
            )),
            event(base(
                "b",
                "cert.expiring",
                "2026-11-21T00:00:00Z",
                serde_json::json!({
                "certificate": {"common_name": "api.example.com", "not_after": "2026-12-10T00:00:00Z"}}),
            )),
            // A later report of the same secret moves its date.
            event(base(
                "c",
                "secret.expiring",
                "2026-11-22T00:00:00Z",
                serde_json::json!({
                "secrets": [{"name": "api-key", "expires": "2026-11-27"}]}),
            )),
            event(base(
                "d",
                "secret.expired",
                "2026-11-22T00:00:00Z",
                serde_json::json!({
                "name": "old-token", "expires_at": "2026-11-20T10:00:00Z"}),
            )),
            event(base(
                "e",
                "rotation.completed",
                "2026-11-22T00:00:00Z",
                serde_json::json!({}),
            )),
        ];
        let rows = expiry_items(&events, now, TimeDelta::days(60));
        let names: Vec<(&str, i64)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.days_left))
            .collect();
        assert_eq!(
            names,
            vec![
                ("old-token", -3),
                ("api-key", 4),
                ("api.example.com", 17),
                ("cert-primary", 25)
            ]
        );
        assert_eq!(rows[2].kind, ItemKind::Certificate);
        assert_eq!(rows[3].kind, ItemKind::Certificate);
        assert_eq!(rows[1].container.as_deref(), Some("kv-prod"));
    }

    #[test]
    fn a_field_titled_expires_is_read_when_data_says_nothing() {
        let mut v = base(
            "f",
            "cert.expiring",
            "2026-11-22T00:00:00Z",
            serde_json::json!({}),
        );
        v["fields"] = serde_json::json!([{"title": "Expires", "value": "2026-12-01"}]);
        let now = DateTime::parse_from_rfc3339("2026-11-23T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let rows = expiry_items(&[event(v)], now, TimeDelta::days(60));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "kv-prod");
        assert_eq!(rows[0].container, None);
    }
}
