//! Reading a Prometheus (OpenMetrics) text exposition, as a scraper would.

/// One scraped sample: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (`herald_notifications_sent_total`, `..._count`).
    pub name: String,
    /// Its labels, in order.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// Parses the text format (comments skipped; label values may not hold `",`).
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        Self { samples }
    }

    /// The value of the sample `name` whose labels include every `(key, value)`
    /// of `labels`, summed over all that match; `None` when none does.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}')?;
            let labels = inner
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.to_string(), v.trim_end_matches('"').to_string()))
                })
                .collect();
            (name.to_string(), labels)
        }
        None => (head.to_string(), Vec::new()),
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_found_by_name_and_labels() {
        let s = Scrape::parse(
            "# HELP x y\nherald_sent_total{channel=\"webhook\",destination=\"a\"} 3\nherald_sent_total{channel=\"webhook\",destination=\"b\"} 1\nup 1\n# EOF\n",
        );
        assert_eq!(
            s.value("herald_sent_total", &[("destination", "a")]),
            Some(3.0)
        );
        assert_eq!(s.value("herald_sent_total", &[]), Some(4.0));
        assert_eq!(s.value("up", &[]), Some(1.0));
        assert_eq!(s.value("herald_sent_total", &[("destination", "c")]), None);
    }
}
