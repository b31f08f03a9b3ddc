//! The sample events the preview offers: a curated set of the seed events
//! (`tests/fixtures/events/`), built into the binary. Each file is
//! `{"subject": "...", "event": {...}}`.

use serde::Serialize;
use serde_json::Value;

/// Includes seed files by name.
macro_rules! seeds {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../../tests/fixtures/events/", $name, ".json")))),*]
    };
}

/// `(name, file text)` of each built-in seed.
const FILES: &[(&str, &str)] = seeds![
    "dsops-rotation.failed",
    "dsops-rotation.completed",
    "dsops-rotation.started",
    "headwind-update.request_created",
    "headwind-update.failed",
    "certifyclouds-secret.expiring",
    "certifyclouds-sync.conflict",
    "mazevault-incident.detected",
    "mazevault-cert.expiring",
    "mazevault-report.weekly_expiry",
    "hostile-injection",
];

/// One built-in sample event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Seed {
    /// The file stem: `dsops-rotation.failed`.
    pub(crate) name: &'static str,
    /// The subject it is published on.
    pub(crate) subject: String,
    /// The event, as a publisher sends it.
    pub(crate) event: Value,
}

/// Every built-in seed, in the order above (files that do not parse are left out;
/// a test proves there are none).
pub(crate) fn all() -> Vec<Seed> {
    FILES
        .iter()
        .filter_map(|(name, text)| {
            let mut doc: Value = serde_json::from_str(text).ok()?;
            let subject = doc.get("subject")?.as_str()?.to_owned();
            let event = doc.get_mut("event")?.take();
            Some(Seed {
                name,
                subject,
                event,
            })
        })
        .collect()
}

/// The seed called `name`.
pub(crate) fn find(name: &str) -> Option<Seed> {
    all().into_iter().find(|s| s.name == name)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn every_built_in_seed_parses() {
        let seeds = all();
        assert_eq!(seeds.len(), FILES.len());
        for s in &seeds {
            assert!(!s.subject.is_empty(), "{}", s.name);
            assert!(s.event.get("id").is_some(), "{}", s.name);
        }
        assert_eq!(
            find("dsops-rotation.failed").map(|s| s.subject),
            Some("rotation.failed".to_owned())
        );
        assert!(find("nope").is_none());
    }
}
