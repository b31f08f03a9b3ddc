//! Templates: any template text compiles or fails with a message; any
//! compiled template renders any event or fails with a message, within the
//! deadline (runaway loops are stopped by the fuel limit).

use chrono::Utc;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::template::{Template, TemplateFormat};
use proptest::prelude::*;
use serde_json::Value;

use crate::bounded::{bounded, corpus};
use crate::envelope::json_value;

fn check(source: String, json: bool, event: Value) {
    bounded("compiling and rendering a template", move || {
        let format = if json {
            TemplateFormat::Json
        } else {
            TemplateFormat::Text
        };
        let Ok(template) = Template::compile(&source, format).map_err(|e| assert!(!e.0.is_empty()))
        else {
            return;
        };
        let mut doc = match event {
            Value::Object(m) => m,
            other => [("data".to_owned(), other)].into_iter().collect(),
        };
        doc.insert("id".into(), "prop-1".into());
        let payload = serde_json::to_vec(&doc).unwrap_or_default();
        let Ok(envelope) = ingest(
            &RawEvent {
                subject: "rotation.failed",
                payload: &payload,
                headers: None,
                published: Utc::now(),
            },
            IngestLimits::default(),
        ) else {
            return;
        };
        match template.render(&envelope, "dest") {
            Ok(out) if json => {
                serde_json::from_str::<serde::de::IgnoredAny>(&out)
                    .expect("a JSON template renders JSON");
            }
            Ok(_) => {}
            Err(e) => assert!(!e.0.is_empty()),
        }
    });
}

const PIECES: &[&str] = &[
    "{{ ",
    " }}",
    "{% ",
    " %}",
    "{# ",
    " #}",
    "title",
    "summary",
    "data",
    "fields",
    "links",
    "id",
    "type",
    "severity",
    "destination",
    "EventType",
    "ServiceName",
    "Error",
    "{{.Status}}",
    "{{.EventType}}",
    "| upper",
    "| tojson",
    "| length",
    "| default('x')",
    "| join(',')",
    "for f in fields",
    "endfor",
    "if severity == 'error'",
    "else",
    "endif",
    "range(100000)",
    "for i in range(100000)",
    "for j in range(100000)",
    "loop.index",
    "f.title",
    "f.value",
    ".",
    "[0]",
    "\"",
    "'",
    ",",
    ":",
    "{",
    "}",
    "[",
    "]",
    "~",
    "+",
    "*",
    "\n",
    "\\",
    "set x = ",
    "x",
    "macro m()",
    "endmacro",
    "m()",
    "caller()",
    "raw",
    "endraw",
    "include 'payload'",
];

fn template_source() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|p| p.concat()),
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn any_template_against_any_event(source in template_source(), json in any::<bool>(), event in json_value()) {
        check(source, json, event);
    }
}

#[test]
fn the_template_corpus() {
    for (name, bytes) in corpus("template") {
        eprintln!("corpus/template/{name}");
        let source = String::from_utf8_lossy(&bytes).into_owned();
        for json in [false, true] {
            check(
                source.clone(),
                json,
                serde_json::json!({"title": "t", "fields": [{"title": "a", "value": "b"}]}),
            );
        }
    }
}
