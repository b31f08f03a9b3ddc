//! What the demo prints about what arrived.

use std::fmt::Write as _;
use std::time::Duration;

use herald_core::worker::StatsSnapshot;
use serde_json::Value;

use super::receiver::Arrival;
use super::scenario::{DESTINATIONS, MONITORING};

/// An event the demo published.
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    /// Its subject (`rotation.failed`).
    pub(crate) subject: &'static str,
    /// Its id.
    pub(crate) id: String,
}

/// How many (event, destination) requests have not arrived yet.
pub(crate) fn missing(expected: &[Expected], arrivals: &[Arrival]) -> usize {
    expected
        .iter()
        .flat_map(|e| DESTINATIONS.iter().map(move |d| (e, *d)))
        .filter(|(e, d)| {
            !arrivals
                .iter()
                .any(|a| a.event_id == e.id && a.destination == *d)
        })
        .count()
}

/// One destination's view of one event.
#[derive(Debug)]
struct Delivery {
    destination: &'static str,
    /// The scheme checked, and the check; `None` when nothing arrived.
    signature: Option<(&'static str, Result<(), String>)>,
    /// Requests received (more than one means a retry).
    requests: usize,
    /// A short description of the body.
    detail: String,
}

/// One published event and what arrived for it.
#[derive(Debug)]
struct EventRow {
    subject: &'static str,
    title: Option<String>,
    color: Option<String>,
    deliveries: Vec<Delivery>,
}

/// The demo's findings.
#[derive(Debug)]
pub(crate) struct Report {
    events: Vec<EventRow>,
    stats: Vec<(String, StatsSnapshot)>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The interesting part of a dsops template body: `status=failed error="..."`.
fn dsops_detail(body: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(s) = text(body, "status") {
        parts.push(format!("status={s}"));
    }
    if let Some(d) = body.get("duration_seconds").and_then(Value::as_u64)
        && d > 0
    {
        parts.push(format!("duration={d}s"));
    }
    if let Some(e) = text(body, "error") {
        parts.push(format!("error={e:?}"));
    }
    parts.join(" ")
}

fn detail(a: &Arrival) -> String {
    if a.body.get("event_type").is_some() {
        dsops_detail(&a.body)
    } else {
        text(&a.body, "title").unwrap_or_default()
    }
}

impl Report {
    /// Matches what arrived against what was published.
    pub(crate) fn new(
        expected: &[Expected],
        arrivals: &[Arrival],
        stats: Vec<(String, StatsSnapshot)>,
    ) -> Self {
        let events = expected
            .iter()
            .map(|e| {
                let mine = |d: &str| {
                    arrivals
                        .iter()
                        .filter(|a| a.event_id == e.id && a.destination == d)
                        .collect::<Vec<_>>()
                };
                let generic = mine(MONITORING).first().map(|a| a.body.clone());
                let deliveries = DESTINATIONS
                    .iter()
                    .map(|d| {
                        let got = mine(d);
                        let best = got
                            .iter()
                            .find(|a| a.signature.is_ok())
                            .or_else(|| got.first());
                        Delivery {
                            destination: d,
                            signature: best.map(|a| (a.scheme, a.signature.clone())),
                            requests: got.len(),
                            detail: best
                                .filter(|_| *d != MONITORING)
                                .map(|a| detail(a))
                                .unwrap_or_default(),
                        }
                    })
                    .collect();
                EventRow {
                    subject: e.subject,
                    title: generic.as_ref().and_then(|b| text(b, "title")),
                    color: generic.as_ref().and_then(|b| text(b, "color")),
                    deliveries,
                }
            })
            .collect();
        Self { events, stats }
    }

    fn deliveries(&self) -> impl Iterator<Item = &Delivery> {
        self.events.iter().flat_map(|e| &e.deliveries)
    }

    fn counts(&self) -> (usize, usize, usize) {
        let expected = self.deliveries().count();
        let arrived = self.deliveries().filter(|d| d.signature.is_some()).count();
        let verified = self
            .deliveries()
            .filter(|d| matches!(d.signature, Some((_, Ok(())))))
            .count();
        (expected, arrived, verified)
    }

    /// True when every request arrived with a valid signature.
    pub(crate) fn success(&self) -> bool {
        let (expected, arrived, verified) = self.counts();
        expected > 0 && arrived == expected && verified == expected
    }

    /// One block per event: subject, colour, title, then one line per destination.
    pub(crate) fn render(&self, colour: bool) -> String {
        let mut out = String::new();
        for e in &self.events {
            let swatch = match (&e.color, colour) {
                (Some(c), true) => format!("{} ", swatch(c)),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "{:<19} {swatch}{:<8} {}",
                e.subject,
                e.color.as_deref().unwrap_or("-"),
                e.title.as_deref().unwrap_or("(no generic body arrived)")
            );
            for d in &e.deliveries {
                let line = match &d.signature {
                    None => format!("✗ {:<11} did not arrive", d.destination),
                    Some((scheme, Ok(()))) => format!(
                        "✓ {:<11} {scheme} signature verified{}",
                        d.destination,
                        if d.detail.is_empty() {
                            String::new()
                        } else {
                            format!("   {}", d.detail)
                        }
                    ),
                    Some((scheme, Err(why))) => {
                        format!("✗ {:<11} {scheme} signature REJECTED: {why}", d.destination)
                    }
                };
                let retries = if d.requests > 1 {
                    format!(" ({} requests)", d.requests)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "    {line}{retries}");
            }
        }
        out
    }

    /// The final line.
    pub(crate) fn verdict(&self, elapsed: Duration) -> String {
        let (expected, arrived, verified) = self.counts();
        let sum = |f: fn(&StatsSnapshot) -> u64| self.stats.iter().map(|(_, s)| f(s)).sum::<u64>();
        let mark = if self.success() { "✓" } else { "✗" };
        format!(
            "{mark} {arrived}/{expected} requests arrived, {verified}/{expected} signatures verified; \
             worker: {} delivered, {} retried, {} dead-lettered. Stopped cleanly after {:.1}s.",
            sum(|s| s.delivered),
            sum(|s| s.retried),
            sum(|s| s.dead_lettered),
            elapsed.as_secs_f64()
        )
    }
}

/// A coloured dot for `#RRGGBB` (24-bit ANSI), for terminals.
fn swatch(hex: &str) -> String {
    let rgb = hex
        .strip_prefix('#')
        .filter(|h| h.len() == 6)
        .and_then(|h| u32::from_str_radix(h, 16).ok());
    match rgb {
        Some(v) => format!(
            "\x1b[38;2;{};{};{}m●\x1b[0m",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff
        ),
        None => "●".to_string(),
    }
}

/// One line for a request that arrived (`--keep-running`).
pub(crate) fn arrival_line(a: &Arrival) -> String {
    let mark = match &a.signature {
        Ok(()) => "✓".to_string(),
        Err(why) => format!("✗ ({why})"),
    };
    format!(
        "  {:<19} → {:<11} {} {mark}  {}",
        a.event_type,
        a.destination,
        a.scheme,
        detail(a)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arrival(dest: &str, id: &str, ok: bool, body: Value) -> Arrival {
        Arrival {
            destination: dest.into(),
            event_id: id.into(),
            event_type: "rotation.failed".into(),
            scheme: "standard-webhooks",
            signature: if ok { Ok(()) } else { Err("bad".into()) },
            body,
        }
    }

    fn expected() -> Vec<Expected> {
        vec![Expected {
            subject: "rotation.failed",
            id: "e1".into(),
        }]
    }

    #[test]
    fn a_complete_run_is_a_success() {
        let arrivals = vec![
            arrival(
                "monitoring",
                "e1",
                true,
                json!({"title": "Rotation Failed: postgres-prod", "color": "#EF4444"}),
            ),
            arrival(
                "dsops-hook",
                "e1",
                true,
                json!({"event_type": "failed", "status": "failed", "duration_seconds": 12, "error": "boom"}),
            ),
        ];
        assert_eq!(missing(&expected(), &arrivals), 0);
        let r = Report::new(&expected(), &arrivals, vec![]);
        assert!(r.success());
        let text = r.render(false);
        assert!(
            text.contains("rotation.failed     #EF4444  Rotation Failed: postgres-prod"),
            "{text}"
        );
        assert!(
            text.contains("status=failed duration=12s error=\"boom\""),
            "{text}"
        );
        assert!(r.verdict(Duration::from_secs(1)).starts_with("✓ 2/2"));
    }

    #[test]
    fn missing_requests_and_bad_signatures_fail() {
        let arrivals = vec![arrival("monitoring", "e1", false, json!({}))];
        assert_eq!(missing(&expected(), &arrivals), 1);
        let r = Report::new(&expected(), &arrivals, vec![]);
        assert!(!r.success());
        let text = r.render(false);
        assert!(text.contains("signature REJECTED: bad"), "{text}");
        assert!(text.contains("dsops-hook  did not arrive"), "{text}");
        assert!(
            r.verdict(Duration::from_secs(1))
                .starts_with("✗ 1/2 requests arrived, 0/2")
        );
    }

    #[test]
    fn swatches_use_the_colour() {
        assert_eq!(swatch("#EF4444"), "\x1b[38;2;239;68;68m●\x1b[0m");
    }
}
