//! The JSON Schema of the envelope, generated from the types.
//!
//! The committed copy is `schemas/envelope.schema.json`; a test fails when the
//! types and the file drift apart (`HERALD_BLESS=1 cargo test -p herald-core
//! schema` rewrites it).

use super::Envelope;

/// The envelope's JSON Schema (draft 2020-12) as pretty-printed JSON.
pub fn envelope_schema() -> String {
    let schema = schemars::schema_for!(Envelope);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{IngestLimits, RawEvent, ingest};

    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/envelope.schema.json"
    );

    #[test]
    fn committed_schema_matches_the_types() {
        let generated = envelope_schema();
        if std::env::var_os("HERALD_BLESS").is_some() {
            std::fs::write(COMMITTED, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == generated,
            "schemas/envelope.schema.json is out of date; run HERALD_BLESS=1 cargo test -p herald-core schema"
        );
    }

    #[test]
    fn ingested_events_validate_against_the_schema() {
        let schema: serde_json::Value = serde_json::from_str(&envelope_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for body in [
            r#"{"id":"1"}"#,
            r#"{"id":"2","service":"pg","environment":"production","error":"x","fields":{"A":1},
                "links":[{"title":"Runbook","url":"https://r"}],"correlation":"rot-1"}"#,
        ] {
            let e = ingest(
                &RawEvent {
                    subject: "rotation.failed",
                    payload: body.as_bytes(),
                    headers: None,
                    published: chrono::Utc::now(),
                },
                IngestLimits::default(),
            )
            .unwrap();
            let json = serde_json::to_value(&e).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:?}");
        }
        let bad = serde_json::json!({"id": "1", "type": "x", "time": "now"});
        assert!(!validator.is_valid(&bad));
    }

    /// The structured-mode fixture is a valid CloudEvent by the official schema,
    /// and ingests into a valid envelope.
    #[test]
    fn cloudevents_fixture_is_valid_and_ingests() {
        let ce_schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../../tests/fixtures/cloudevents.json"))
                .unwrap();
        let ce_validator = jsonschema::validator_for(&ce_schema).unwrap();
        let event = serde_json::json!({
            "specversion": "1.0", "id": "ce-42", "source": "/certifyclouds/scanner",
            "type": "cert.expiring", "time": "2024-12-14T12:00:00Z", "subject": "api-cert",
            "datacontenttype": "application/json",
            "data": {"environment": "production", "fields": {"Vault": "kv-production"}}
        });
        assert!(ce_validator.is_valid(&event));
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Content-Type", "application/cloudevents+json");
        let payload = serde_json::to_vec(&event).unwrap();
        let e = ingest(
            &RawEvent {
                subject: "cert.expiring",
                payload: &payload,
                headers: Some(&headers),
                published: chrono::Utc::now(),
            },
            IngestLimits::default(),
        )
        .unwrap();
        assert_eq!(e.resource.as_deref(), Some("api-cert"));
        assert_eq!(e.field("vault"), Some("kv-production"));
    }
}
