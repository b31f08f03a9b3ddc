//! The configuration loader: any text is a configuration or errors that name
//! the file (and a line when there is one).

use herald_core::config::FleetConfig;
use proptest::prelude::*;

use crate::bounded::{bounded, corpus};

fn check(text: String) {
    bounded("loading a configuration", move || {
        match FleetConfig::from_yaml(&text, "f.yaml") {
            Ok(config) => {
                // A configuration that loads can be printed (secrets hidden).
                let _ = format!("{config:?}");
            }
            Err(errors) => {
                assert!(!errors.0.is_empty(), "an error without a problem");
                for e in &errors.0 {
                    assert_eq!(e.file, "f.yaml");
                    assert!(!e.message.is_empty(), "an empty message: {e:?}");
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    });
}

/// A known-good file whose lines are shuffled, dropped, duplicated or
/// changed: mostly near-misses, the mistakes people make.
const GOOD: &str = "nats:\n  url: nats://127.0.0.1:4222\n  token: abc\nworker:\n  concurrency: 4\n  outbound:\n    allow: [hooks.slack.com, \"10.0.0.0/8\"]\ndestinations:\n  - name: ops\n    channel: webhook\n    events: [\"rotation.>\"]\n    url: https://x.example/h\n    timeout: 5s\n    retry: {max_attempts: 3, schedule: [1s, 5s], jitter: 0.2}\n    rate_limit: {per_second: 2, burst: 4}\n    when: {severity_at_least: warning, environment: [prod]}\n    tls: {insecure_skip_verify: false}\n";

fn mutation() -> impl Strategy<Value = String> {
    let lines: Vec<String> = GOOD.lines().map(str::to_owned).collect();
    let n = lines.len();
    let edit = prop_oneof![
        (0..n).prop_map(|i| (i, None)),
        (0..n, "[ -~]{0,30}").prop_map(|(i, s)| (i, Some(s))),
        (
            0..n,
            prop::sample::select(
                &[
                    "  ",
                    "- ",
                    ": ",
                    "{",
                    "[",
                    "\"",
                    "\t",
                    "&a",
                    "*a",
                    "!!binary ",
                    "~",
                    "0x1F",
                    "1e999",
                    "-1",
                    "18446744073709551616"
                ][..]
            )
        )
            .prop_map(|(i, s)| (i, Some(s.to_owned()))),
    ];
    prop::collection::vec(edit, 0..6).prop_map(move |edits| {
        let mut out = lines.clone();
        for (i, change) in edits {
            let i = i.min(out.len().saturating_sub(1));
            if out.is_empty() {
                break;
            }
            match change {
                None => {
                    out.remove(i);
                }
                Some(s) if s.len() % 2 == 0 => out[i].push_str(&s),
                Some(s) => out.insert(i, s),
            }
        }
        out.join("\n")
    })
}

proptest! {
    #[test]
    fn near_misses_of_a_good_file(text in mutation()) {
        check(text);
    }

    #[test]
    fn any_text(text in any::<String>()) {
        check(text);
    }
}

#[test]
fn the_config_corpus() {
    for (name, bytes) in corpus("config") {
        eprintln!("corpus/config/{name}");
        check(String::from_utf8_lossy(&bytes).into_owned());
    }
}
