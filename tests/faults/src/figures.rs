//! What every scenario reports: the counts of its events, and its own figures.

use std::fmt::Write as _;
use std::time::Duration;

/// The outcome of one scenario (or of one destination of it).
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// The scenario (and destination) it describes.
    pub name: String,
    /// The load and the faults, in words.
    pub load: String,
    /// Events published (stored by JetStream).
    pub published: usize,
    /// Distinct events the receiver accepted (answered 2xx) at least once.
    pub delivered: usize,
    /// Published events neither delivered nor dead-lettered.
    pub lost: usize,
    /// Accepted deliveries beyond the first of an event.
    pub duplicates: usize,
    /// Events accepted more than once.
    pub duplicated_events: usize,
    /// Whether every duplicate carried the same `webhook-id` as the first delivery.
    pub same_key: bool,
    /// Events in the dead-letter stream.
    pub dead_lettered: usize,
    /// From the first publish until every event was delivered or dead-lettered.
    pub drain: Duration,
    /// The scenario's own figures, `(what, value)`.
    pub extra: Vec<(String, String)>,
}

impl Figures {
    /// Adds one of the scenario's own figures.
    pub fn note(&mut self, what: &str, value: impl Into<String>) {
        self.extra.push((what.to_string(), value.into()));
    }

    fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            ("load".to_string(), self.load.clone()),
            ("published".to_string(), self.published.to_string()),
            ("delivered".to_string(), self.delivered.to_string()),
            ("lost".to_string(), self.lost.to_string()),
            (
                "duplicates".to_string(),
                format!(
                    "{} ({} events; same webhook-id: {})",
                    self.duplicates,
                    self.duplicated_events,
                    if self.same_key { "yes" } else { "NO" }
                ),
            ),
            ("dead-lettered".to_string(), self.dead_lettered.to_string()),
            (
                "time to drain".to_string(),
                format!("{:.1} s", self.drain.as_secs_f64()),
            ),
        ];
        rows.extend(self.extra.iter().cloned());
        rows
    }

    /// A plain-text table for the terminal.
    pub fn table(&self) -> String {
        let rows = self.rows();
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = format!("== {} ==\n", self.name);
        for (k, v) in rows {
            let _ = writeln!(out, "  {k:<width$}  {v}");
        }
        out
    }

    /// A Markdown table under a `####` heading.
    pub fn markdown(&self) -> String {
        let mut out = format!("#### {}\n\n| figure | value |\n|---|---|\n", self.name);
        for (k, v) in self.rows() {
            let _ = writeln!(out, "| {k} | {} |", v.replace('|', "\\|"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_show_every_figure() {
        let mut f = Figures {
            name: "kill".into(),
            load: "10 events".into(),
            published: 10,
            delivered: 10,
            duplicates: 2,
            duplicated_events: 2,
            same_key: true,
            drain: Duration::from_millis(1500),
            ..Figures::default()
        };
        f.note("kills", "3");
        let t = f.table();
        assert!(
            t.contains("duplicates     2 (2 events; same webhook-id: yes)"),
            "{t}"
        );
        assert!(t.contains("time to drain  1.5 s"), "{t}");
        let m = f.markdown();
        assert!(m.starts_with("#### kill\n"), "{m}");
        assert!(m.contains("| kills | 3 |"), "{m}");
    }
}
