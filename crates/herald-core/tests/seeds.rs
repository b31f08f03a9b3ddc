//! Every seed event (`tests/fixtures/events/`) goes through the real ingestion
//! path and comes out as an envelope that keeps what the publisher said and is
//! valid by the committed `schemas/envelope.schema.json`.

use chrono::{DateTime, TimeZone, Utc};
use herald_core::Envelope;
use herald_core::config::DEFAULT_SUBJECTS;
use herald_core::envelope::{IngestLimits, RawEvent, Severity, derive_severity, ingest};
use herald_core::routing::SubjectPattern;
use herald_testkit::{SeedEvent, seed_events};
use serde_json::Value;

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schemas/envelope.schema.json"
);

/// A publish time unlike any seed's own `time`, so a lost `time` shows.
fn published() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

fn ingest_seed(seed: &SeedEvent) -> Envelope {
    let payload = seed.payload();
    ingest(
        &RawEvent {
            subject: &seed.subject,
            payload: &payload,
            headers: None,
            published: published(),
        },
        IngestLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{}: not ingested: {e}", seed.name))
}

#[test]
fn every_seed_ingests_into_a_schema_valid_envelope() {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let seeds = seed_events();
    assert!(seeds.len() >= 26, "only {} seed events", seeds.len());
    for seed in &seeds {
        let e = ingest_seed(seed);
        let json = serde_json::to_value(&e).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", seed.name);
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, e, "{}: the envelope JSON round-trips", seed.name);
    }
}

#[test]
fn ingestion_keeps_what_the_publisher_said() {
    for seed in seed_events() {
        let e = ingest_seed(&seed);
        let src = &seed.json;
        let name = &seed.name;
        assert_eq!(e.id, src["id"].as_str().unwrap(), "{name}: id");
        assert_eq!(e.event_type, src["type"].as_str().unwrap(), "{name}: type");
        assert_eq!(
            e.source.as_deref(),
            src["source"].as_str(),
            "{name}: source"
        );
        assert_eq!(
            e.time,
            DateTime::parse_from_rfc3339(src["time"].as_str().unwrap()).unwrap(),
            "{name}: time"
        );
        assert_eq!(
            Some(e.severity),
            src["severity"].as_str().and_then(Severity::parse),
            "{name}: severity"
        );
        assert_eq!(e.title, src["title"].as_str().unwrap(), "{name}: title");
        assert_eq!(
            e.summary,
            src["summary"].as_str().unwrap(),
            "{name}: summary"
        );
        assert_eq!(
            e.resource.as_deref(),
            src["resource"].as_str(),
            "{name}: resource"
        );
        assert_eq!(
            e.environment.as_deref(),
            src["environment"].as_str(),
            "{name}: environment"
        );
        assert_eq!(
            e.correlation.as_deref(),
            src["correlation"].as_str(),
            "{name}: correlation"
        );
        let count = |key: &str| src[key].as_array().map_or(0, Vec::len);
        assert_eq!(e.fields.len(), count("fields"), "{name}: fields");
        assert_eq!(e.links.len(), count("links"), "{name}: links");
        assert_eq!(e.actions.len(), count("actions"), "{name}: actions");
        for (got, want) in e
            .fields
            .iter()
            .zip(src["fields"].as_array().into_iter().flatten())
        {
            assert_eq!(
                got.title,
                want["title"].as_str().unwrap(),
                "{name}: field order"
            );
            assert_eq!(
                got.value,
                want["value"].as_str().unwrap(),
                "{name}: field value"
            );
        }
        assert_eq!(e.data, src["data"], "{name}: data");
    }
}

/// A publisher that leaves `severity` out gets the same colour as the seed declares.
#[test]
fn declared_severities_agree_with_the_derived_ones() {
    for seed in seed_events().iter().filter(|s| s.system() != "hostile") {
        let e = ingest_seed(seed);
        assert_eq!(
            e.severity,
            derive_severity(&e.event_type),
            "{}: declared {} but {} derives {}",
            seed.name,
            e.severity,
            e.event_type,
            derive_severity(&e.event_type)
        );
    }
}

#[test]
fn every_seed_subject_is_in_the_default_stream() {
    let patterns: Vec<SubjectPattern> = DEFAULT_SUBJECTS
        .iter()
        .map(|s| SubjectPattern::parse(s).unwrap())
        .collect();
    for seed in seed_events() {
        assert!(
            patterns.iter().any(|p| p.matches(&seed.subject)),
            "{}: subject {} is outside {DEFAULT_SUBJECTS:?}",
            seed.name,
            seed.subject
        );
    }
}
