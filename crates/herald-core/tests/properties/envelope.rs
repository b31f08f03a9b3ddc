//! Native event ingestion: any bytes give an envelope or a classified error.

use chrono::Utc;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::bounded::{bounded, corpus};

/// What must hold for any payload: no panic, no hang, and a usable answer.
pub(crate) fn check_native(subject: String, payload: Vec<u8>, limit: usize) {
    let what = format!("ingesting {} bytes on {subject:?}", payload.len());
    bounded(&what, move || {
        let raw = RawEvent {
            subject: &subject,
            payload: &payload,
            headers: None,
            published: Utc::now(),
        };
        match ingest(
            &raw,
            IngestLimits {
                max_event_bytes: limit,
            },
        ) {
            Ok(e) => {
                assert!(!e.id.is_empty(), "an envelope without an id");
                assert!(!e.event_type.is_empty(), "an envelope without a type");
                // Every envelope serialises (it is what templates and the
                // `envelope` format print).
                serde_json::to_string(&e).expect("the envelope serialises");
            }
            Err(err) => {
                assert!(!err.detail.is_empty(), "an error without a detail");
                assert!(payload.len() <= limit || err.kind.as_str() == "too_large");
            }
        }
    });
}

/// Text that tests escaping: markup, mentions, control characters, CR/LF,
/// bidirectional overrides and plain Unicode.
pub(crate) fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        Just("<!channel> <@U123> @everyone <script>alert(1)</script>".to_owned()),
        Just("[x](https://evil.example) *b* _i_ ~s~ `c` ```\n> q".to_owned()),
        Just("line\r\nBcc: victim@evil.example\r\nX-Injected: 1".to_owned()),
        Just("\u{0}\u{7}\u{1b}[31m\u{202e}\u{feff}\u{2028}".to_owned()),
        Just(String::new()),
    ]
}

/// JSON values of any shape, nested a few levels.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        hostile_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(hostile_text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "id",
    "type",
    "source",
    "time",
    "severity",
    "title",
    "summary",
    "message",
    "resource",
    "service",
    "deployment",
    "environment",
    "env",
    "fields",
    "links",
    "actions",
    "correlation",
    "data",
    "status",
    "error",
];

/// Objects using the envelope's own keys with values of any type.
fn envelope_like() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..12).prop_map(|pairs| {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert(k.to_owned(), v);
        }
        serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
    })
}

proptest! {
    #[test]
    fn any_bytes_are_an_envelope_or_a_reason(payload in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_native("rotation.failed".into(), payload, 1024);
    }

    #[test]
    fn any_envelope_shaped_json_is_an_envelope_or_a_reason(payload in envelope_like(), subject in "[a-z]{1,8}(\\.[a-z>*]{1,8}){0,3}") {
        check_native(subject, payload, 1024 * 1024);
    }
}

#[test]
fn the_envelope_corpus() {
    for (name, bytes) in corpus("envelope") {
        eprintln!("corpus/envelope/{name}");
        check_native("rotation.failed".into(), bytes, 64 * 1024);
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    for depth in [200, 10_000, 100_000] {
        let payload = format!(
            "{{\"id\":\"deep\",\"data\":{}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let raw = RawEvent {
            subject: "rotation.failed",
            payload: payload.as_bytes(),
            headers: None,
            published: Utc::now(),
        };
        let err = ingest(&raw, IngestLimits::default()).expect_err("too deep");
        assert_eq!(err.kind.as_str(), "not_json", "{err}");
        assert!(err.detail.contains("recursion limit"), "{err}");
    }
}
