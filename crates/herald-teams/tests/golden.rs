//! Golden files: the body rendered for every seed event in both formats, each
//! Adaptive Card validated against the official Adaptive Card 1.5 schema, each
//! MessageCard checked for the documented shape, every body under Teams' limit.
//!
//! `HERALD_BLESS=1 cargo test -p herald-teams --test golden` rewrites the files
//! in `tests/golden/<format>/<seed>.json`; read the diff before committing it.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic with the value is the clearest failure"
)]

use herald_core::{Channel, DeliveryContext, Envelope};
use herald_teams::{Format, MAX_BODY_BYTES, Teams};
use herald_testkit::{Goldens, SeedEvent, at, destination, seed_envelope, seed_event, seed_events};
use serde_json::Value;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const SCHEMA: &str = include_str!("../../../tests/fixtures/adaptive-card-1.5.0.schema.json");

fn teams(format: Format) -> Teams {
    let keys = format!(
        "    url: https://contoso.webhook.office.com/webhookb2/x
    format: {}
",
        format.as_str()
    );
    destination("ops-teams", &keys)
}

fn envelope(seed: &SeedEvent) -> Envelope {
    seed_envelope(seed, at("2026-11-23T16:00:00Z"))
}

fn render(t: &Teams, seed: &SeedEvent) -> Vec<u8> {
    let ctx = DeliveryContext::one_off("ops-teams", seed.id(), chrono::DateTime::UNIX_EPOCH);
    t.render(&envelope(seed), &ctx)
        .unwrap_or_else(|e| panic!("{}: {e}", seed.name))
        .body
        .to_vec()
}

#[test]
fn bodies_match_the_golden_files() {
    let mut goldens = Goldens::new(GOLDEN);
    for format in [Format::Adaptive, Format::MessageCard] {
        let t = teams(format);
        for seed in seed_events() {
            let body: Value = serde_json::from_slice(&render(&t, &seed)).unwrap();
            goldens.check(format.as_str(), &seed.name, &body);
        }
    }
    goldens.assert_current("cargo test -p herald-teams --test golden");
}

#[test]
fn every_seed_count_is_covered() {
    assert!(seed_events().len() >= 27, "the seed corpus shrank");
}

#[test]
fn adaptive_cards_validate_against_the_official_schema() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::draft6::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    // The check is not vacuous: a misspelt element type fails.
    let bad = serde_json::json!({"type": "AdaptiveCard", "version": "1.5",
        "body": [{"type": "TextBlok", "text": "x"}]});
    assert!(!validator.is_valid(&bad));
    let t = teams(Format::Adaptive);
    for seed in seed_events() {
        let bytes = render(&t, &seed);
        assert!(
            bytes.len() <= MAX_BODY_BYTES,
            "{}: {} bytes",
            seed.name,
            bytes.len()
        );
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["type"], "message", "{}", seed.name);
        let attachments = body["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(
            attachments[0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachments[0]["content"];
        let errors: Vec<String> = validator
            .iter_errors(card)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", seed.name);
        assert_eq!(card["version"], "1.5");
        for a in card["actions"].as_array().into_iter().flatten() {
            assert_eq!(a["type"], "Action.OpenUrl");
            let url = a["url"].as_str().unwrap();
            assert!(
                url.starts_with("https://") || url.starts_with("http://"),
                "{url}"
            );
        }
    }
}

#[test]
fn messagecards_have_the_documented_shape() {
    // No official MessageCard schema exists (see tests/fixtures/SOURCES.md);
    // these are the fields Microsoft's connector documentation and
    // CertifyClouds' format describe.
    let t = teams(Format::MessageCard);
    for seed in seed_events() {
        let bytes = render(&t, &seed);
        assert!(
            bytes.len() <= MAX_BODY_BYTES,
            "{}: {} bytes",
            seed.name,
            bytes.len()
        );
        let c: Value = serde_json::from_slice(&bytes).unwrap();
        let n = &seed.name;
        assert_eq!(c["@type"], "MessageCard", "{n}");
        assert_eq!(c["@context"], "https://schema.org/extensions", "{n}");
        let theme = c["themeColor"].as_str().unwrap();
        assert!(
            theme.len() == 6 && theme.chars().all(|ch| ch.is_ascii_hexdigit()),
            "{n}: themeColor {theme} must be six hex digits without #"
        );
        for key in ["summary", "title", "text"] {
            assert!(c[key].as_str().is_some_and(|s| !s.is_empty()), "{n}: {key}");
        }
        for section in c["sections"].as_array().unwrap() {
            for f in section["facts"].as_array().into_iter().flatten() {
                assert!(f["name"].is_string() && f["value"].is_string(), "{n}: {f}");
            }
        }
        for a in c["potentialAction"].as_array().into_iter().flatten() {
            assert_eq!(a["@type"], "OpenUri");
            assert!(a["name"].is_string());
            let uri = a["targets"][0]["uri"].as_str().unwrap();
            assert!(uri.starts_with("http"), "{n}: {uri}");
        }
    }
}

#[test]
fn headwind_approvals_show_approve_and_reject_buttons() {
    let seed = seed_event("headwind-update.request_created");
    let body: Value = serde_json::from_slice(&render(&teams(Format::Adaptive), &seed)).unwrap();
    let actions = body["attachments"][0]["content"]["actions"]
        .as_array()
        .unwrap();
    let titles: Vec<&str> = actions.iter().filter_map(|a| a["title"].as_str()).collect();
    assert_eq!(titles, ["Approve", "Reject", "View UpdateRequest"]);
    assert_eq!(actions[0]["style"], "positive");
    assert_eq!(actions[1]["style"], "destructive");
    assert!(
        actions[0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/nginx-update-v1-27-0/approve")
    );
    let card: Value = serde_json::from_slice(&render(&teams(Format::MessageCard), &seed)).unwrap();
    let names: Vec<&str> = card["potentialAction"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["Approve", "Reject", "View UpdateRequest"]);
}

/// Every Markdown-significant character outside an escape: `(index, char)`.
fn live_markup(s: &str) -> Option<(usize, char)> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c @ ('*' | '_' | '`' | '~' | '[' | ']' | '<' | '>') => return Some((i, c)),
            ':' if chars.get(i + 1) == Some(&'/') && chars.get(i + 2) == Some(&'/') => {
                return Some((i, ':'));
            }
            _ => i += 1,
        }
    }
    None
}

/// Every text Teams renders as Markdown in a card or a MessageCard.
fn rendered_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let (true, Some(s)) = (
                    matches!(
                        k.as_str(),
                        "text" | "title" | "value" | "name" | "fallbackText"
                    ),
                    x.as_str(),
                ) {
                    out.push(s.to_owned());
                }
                rendered_texts(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| rendered_texts(x, out)),
        _ => {}
    }
}

#[test]
fn the_hostile_event_is_neutralised_and_cut() {
    let seed = seed_event("hostile-injection");
    let adaptive: Value = serde_json::from_slice(&render(&teams(Format::Adaptive), &seed)).unwrap();
    let card = &adaptive["attachments"][0]["content"];
    let mut texts = Vec::new();
    rendered_texts(&card["body"], &mut texts);
    texts.push(card["fallbackText"].as_str().unwrap().to_owned());
    assert!(texts.len() > 30, "{texts:?}");
    for t in &texts {
        assert_eq!(live_markup(t), None, "live markup in {t:?}");
    }
    let all = texts.join("\n");
    assert!(all.contains(r"\[x\](https\://evil.example)"), "{all}");
    assert!(all.contains(r"\<script\>"), "{all}");
    // The 5,000-character value is cut and marked; the 30 fields all show.
    let facts = card["body"][2]["facts"].as_array().unwrap();
    let long = facts.iter().find(|f| f["title"] == "Long value").unwrap()["value"]
        .as_str()
        .unwrap();
    assert!(long.ends_with('…') && long.chars().count() < 5000, "{long}");
    assert_eq!(facts.len(), 31, "Environment and the 30 fields");
    // Buttons only open web URLs, percent-encoded.
    for a in card["actions"].as_array().unwrap() {
        let url = a["url"].as_str().unwrap();
        assert!(!url.contains(['<', '>', ' ']), "{url}");
    }

    let mc: Value = serde_json::from_slice(&render(&teams(Format::MessageCard), &seed)).unwrap();
    let mut texts = Vec::new();
    for key in ["title", "text"] {
        texts.push(mc[key].as_str().unwrap().to_owned());
    }
    rendered_texts(&mc["sections"], &mut texts);
    for t in &texts {
        assert_eq!(live_markup(t), None, "live markup in {t:?}");
        assert!(!t.contains(['<', '>']), "raw HTML in {t:?}");
    }
    assert!(texts.join("\n").contains("&lt;script&gt;"));
}
