//! CloudEvents ingestion, binary and structured: any headers and body give
//! an envelope or a classified error.

use chrono::Utc;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::bounded::{bounded, corpus};
use crate::envelope::{hostile_text, json_value};

fn check(headers: Vec<(String, String)>, payload: Vec<u8>) {
    let what = format!("ingesting a CloudEvent with {} headers", headers.len());
    bounded(&what, move || {
        let mut map = async_nats::HeaderMap::new();
        for (k, v) in &headers {
            // Header names and values NATS cannot carry are not a case.
            if let (Ok(name), Ok(value)) = (
                k.parse::<async_nats::HeaderName>(),
                v.parse::<async_nats::HeaderValue>(),
            ) {
                map.append(name, value);
            }
        }
        let raw = RawEvent {
            subject: "rotation.failed",
            payload: &payload,
            headers: Some(&map),
            published: Utc::now(),
        };
        match ingest(&raw, IngestLimits::default()) {
            Ok(e) => {
                assert!(!e.id.is_empty());
                serde_json::to_string(&e).expect("the envelope serialises");
            }
            Err(err) => assert!(!err.detail.is_empty()),
        }
    });
}

const ATTRIBUTES: &[&str] = &[
    "ce-specversion",
    "ce-id",
    "ce-type",
    "ce-source",
    "ce-time",
    "ce-subject",
    "ce-datacontenttype",
    "ce-severity",
    "ce-environment",
    "ce-correlation",
    "content-type",
    "ce-title",
];

fn attribute_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1.0".to_owned()),
        Just("0.3".to_owned()),
        Just("2026-11-23T15:00:00Z".to_owned()),
        Just("application/json".to_owned()),
        Just("application/cloudevents+json".to_owned()),
        Just("%E2%9C%93%ZZ%".to_owned()),
        hostile_text(),
    ]
}

proptest! {
    #[test]
    fn binary_mode_with_any_attributes(
        attrs in prop::collection::vec((prop::sample::select(ATTRIBUTES), attribute_value()), 0..10),
        body in prop_oneof![prop::collection::vec(any::<u8>(), 0..512), json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default())],
    ) {
        let mut headers: Vec<(String, String)> = vec![("ce-specversion".into(), "1.0".into())];
        headers.extend(attrs.into_iter().map(|(k, v)| (k.to_owned(), v)));
        check(headers, body);
    }

    #[test]
    fn structured_mode_with_any_document(
        pairs in prop::collection::vec((prop::sample::select(&["specversion", "id", "type", "source", "time", "data", "data_base64", "datacontenttype", "severity", "subject"][..]), json_value()), 0..10),
    ) {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert(k.to_owned(), v);
        }
        let body = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
        check(vec![("content-type".into(), "application/cloudevents+json".into())], body);
    }
}

#[test]
fn the_cloudevents_corpus() {
    // Each file: first line `header: value` pairs separated by ` | `, then the body.
    for (name, bytes) in corpus("cloudevents") {
        eprintln!("corpus/cloudevents/{name}");
        let text = String::from_utf8_lossy(&bytes);
        let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
        let headers = head
            .split(" | ")
            .filter_map(|h| h.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        check(headers, body.as_bytes().to_vec());
    }
}
