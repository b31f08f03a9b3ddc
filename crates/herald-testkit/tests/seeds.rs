//! The seed corpus is complete and well formed.

use std::collections::{BTreeMap, BTreeSet};

use herald_testkit::{SeedEvent, seed_event, seed_events};
use serde_json::Value;

fn text<'a>(seed: &'a SeedEvent, key: &str) -> &'a str {
    seed.json[key].as_str().unwrap_or_default()
}

fn field_titles(seed: &SeedEvent) -> Vec<&str> {
    seed.json["fields"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["title"].as_str()).collect())
        .unwrap_or_default()
}

fn field<'a>(seed: &'a SeedEvent, title: &str) -> Option<&'a str> {
    seed.json["fields"]
        .as_array()?
        .iter()
        .find(|f| f["title"] == title)?["value"]
        .as_str()
}

#[test]
fn every_system_is_covered() {
    let seeds = seed_events();
    let mut per_system: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &seeds {
        *per_system.entry(s.system()).or_default() += 1;
    }
    for (system, least) in [
        ("dsops", 4),
        ("headwind", 8),
        ("certifyclouds", 10),
        ("mazevault", 3),
        ("hostile", 1),
    ] {
        let n = per_system.get(system).copied().unwrap_or(0);
        assert!(
            n >= least,
            "{system}: {n} seed events, want at least {least}"
        );
    }
    let names: Vec<&str> = seeds.iter().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "seed_events() is sorted by name");
}

#[test]
fn every_event_is_well_formed() {
    let mut ids = BTreeSet::new();
    for s in seed_events() {
        let e = &s.json;
        for key in [
            "id", "type", "source", "time", "severity", "title", "summary",
        ] {
            assert!(
                e[key].as_str().is_some_and(|v| !v.is_empty()),
                "{}: `{key}` is missing or empty",
                s.name
            );
        }
        assert!(ids.insert(s.id().to_string()), "{}: duplicate id", s.name);
        assert_eq!(text(&s, "type"), s.subject, "{}: type = subject", s.name);
        let stem = s.name.split_once('-').map(|(_, t)| t).unwrap_or_default();
        if s.system() != "hostile" {
            assert_eq!(
                stem, s.subject,
                "{}: the file is named <system>-<type>",
                s.name
            );
            assert_eq!(text(&s, "source"), s.system(), "{}: source", s.name);
        }
        assert!(
            text(&s, "time").starts_with("2026-11-23T") && text(&s, "time").ends_with('Z'),
            "{}: fixed 2026-11-23 UTC time",
            s.name
        );
        assert!(
            ["critical", "error", "warning", "info", "success"].contains(&text(&s, "severity")),
            "{}: severity",
            s.name
        );
        for list in ["fields", "links", "actions"] {
            let Some(items) = e.get(list) else { continue };
            let items = items.as_array().unwrap();
            for item in items {
                let keys: BTreeSet<&str> = item
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                let want = if list == "fields" {
                    ["title", "value"]
                } else {
                    ["title", "url"]
                };
                assert_eq!(keys, BTreeSet::from(want), "{}: {list} entries", s.name);
                assert!(item.as_object().unwrap().values().all(Value::is_string));
            }
        }
        assert_eq!(s.payload(), e.to_string().into_bytes());
    }
}

#[test]
fn dsops_lifecycle_shares_one_rotation() {
    let names = [
        "dsops-rotation.started",
        "dsops-rotation.failed",
        "dsops-rotation.rollback",
        "dsops-rotation.completed",
    ];
    let correlations: BTreeSet<String> = names
        .iter()
        .map(|n| text(&seed_event(n), "correlation").to_string())
        .collect();
    assert_eq!(correlations.len(), 1, "{correlations:?}");
    assert!(!correlations.iter().any(String::is_empty));

    let failed = seed_event("dsops-rotation.failed");
    assert_eq!(
        field(&failed, "Error"),
        Some("Connection verification failed")
    );
    assert!(field(&failed, "Suggestion").is_some());
    assert!(field(&failed, "Rollback").is_some());
    let completed = seed_event("dsops-rotation.completed");
    for t in ["Environment", "Strategy", "Duration", "New version"] {
        assert!(field(&completed, t).is_some(), "completed lacks {t}");
    }
}

#[test]
fn headwind_events_name_the_workload_and_the_approval_has_buttons() {
    let headwind: Vec<SeedEvent> = seed_events()
        .into_iter()
        .filter(|s| s.system() == "headwind")
        .collect();
    let types: BTreeSet<&str> = headwind.iter().map(|s| s.subject.as_str()).collect();
    let want: BTreeSet<&str> = [
        "update.request_created",
        "update.approved",
        "update.rejected",
        "update.completed",
        "update.failed",
        "update.rollback_triggered",
        "update.rollback_completed",
        "update.rollback_failed",
    ]
    .into();
    assert_eq!(types, want);
    for s in &headwind {
        let titles = field_titles(s);
        for t in [
            "Namespace",
            "Deployment",
            "Container",
            "Current image",
            "New image",
        ] {
            assert!(titles.contains(&t), "{}: no {t} field", s.name);
        }
    }
    let request = seed_event("headwind-update.request_created");
    let actions: Vec<&str> = request.json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["title"].as_str())
        .collect();
    assert_eq!(actions, ["Approve", "Reject"]);
}

#[test]
fn the_hostile_event_is_hostile() {
    let h = seed_event("hostile-injection");
    let title = text(&h, "title");
    for needle in [
        "<!channel>",
        "<@U123>",
        "<https://evil.example|click>",
        "@everyone",
        "*bold*",
        "`",
        "&amp;",
        "<script>alert(1)</script>",
        "[x](https://evil.example)",
    ] {
        assert!(title.contains(needle), "title lacks {needle}");
        assert!(
            text(&h, "summary").contains(needle),
            "summary lacks {needle}"
        );
    }
    assert!(text(&h, "resource").contains("<!channel>"));
    let fields = h.json["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 30);
    let longest = fields
        .iter()
        .filter_map(|f| f["value"].as_str())
        .map(|v| v.chars().count())
        .max();
    assert_eq!(longest, Some(5000));
}

#[test]
#[should_panic(expected = "no seed event named \"nope\"")]
fn a_missing_seed_is_named() {
    let _ = seed_event("nope");
}
