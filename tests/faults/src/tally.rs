//! Counting what a receiver accepted: delivered, lost, duplicated, and whether
//! each duplicate carried the same idempotency key.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, ensure};
use herald_testkit::Recorded;

use crate::figures::Figures;

/// The headers a receiver of the suite keeps (see [`herald_testkit::Receiver::keep_only`]).
pub const KEPT_HEADERS: &[&str] = &["x-herald-event-id", "webhook-id", "x-replica"];

/// Every request of a receiver, grouped by event id, in arrival order.
#[derive(Debug, Default)]
pub struct Tally {
    attempts: HashMap<String, Vec<Recorded>>,
}

impl Tally {
    /// Groups `requests` (in arrival order) by `X-Herald-Event-Id`.
    pub fn of(requests: Vec<Recorded>) -> Self {
        let mut attempts: HashMap<String, Vec<Recorded>> = HashMap::new();
        for r in requests {
            if let Some(id) = r.event_id() {
                attempts.entry(id.to_string()).or_default().push(r);
            }
        }
        Self { attempts }
    }

    /// Every request of event `id` (accepted or not), in arrival order.
    pub fn attempts(&self, id: &str) -> &[Recorded] {
        self.attempts.get(id).map_or(&[], Vec::as_slice)
    }

    /// Every event with its requests.
    pub fn events(&self) -> impl Iterator<Item = (&str, &[Recorded])> {
        self.attempts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The requests of `id` the receiver accepted (2xx), in arrival order.
    pub fn accepted(&self, id: &str) -> Vec<&Recorded> {
        self.attempts(id).iter().filter(|r| r.accepted()).collect()
    }

    /// Distinct events accepted at least once.
    pub fn delivered(&self) -> usize {
        self.attempts
            .values()
            .filter(|v| v.iter().any(Recorded::accepted))
            .count()
    }

    /// Of `ids`, those never accepted.
    pub fn missing<'a>(&self, ids: &'a [String]) -> Vec<&'a str> {
        ids.iter()
            .filter(|id| self.accepted(id).is_empty())
            .map(String::as_str)
            .collect()
    }

    /// Events accepted more than once, with their accepted requests.
    pub fn duplicated(&self) -> Vec<(&str, Vec<&Recorded>)> {
        let mut out: Vec<(&str, Vec<&Recorded>)> = self
            .attempts
            .iter()
            .map(|(id, v)| (id.as_str(), v.iter().filter(|r| r.accepted()).collect()))
            .filter(|(_, v): &(&str, Vec<&Recorded>)| v.len() > 1)
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Accepted deliveries beyond the first of each event.
    pub fn duplicates(&self) -> usize {
        self.duplicated().iter().map(|(_, v)| v.len() - 1).sum()
    }

    /// True when every accepted request of every duplicated event carries the
    /// same, present `webhook-id`.
    pub fn same_key(&self) -> bool {
        self.duplicated().iter().all(|(_, reqs)| {
            let first = reqs.first().and_then(|r| r.header("webhook-id"));
            first.is_some() && reqs.iter().all(|r| r.header("webhook-id") == first)
        })
    }

    /// How many accepted requests each `X-Replica` sent.
    pub fn per_replica(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for r in self.attempts.values().flatten().filter(|r| r.accepted()) {
            let who = r.header("x-replica").unwrap_or("?").to_string();
            *counts.entry(who).or_default() += 1;
        }
        let mut out: Vec<_> = counts.into_iter().collect();
        out.sort();
        out
    }

    /// Fails, naming the first few, when an event of `ids` was never accepted.
    ///
    /// # Errors
    /// When one is missing.
    pub fn ensure_none_lost(&self, ids: &[String]) -> Result<()> {
        let missing = self.missing(ids);
        ensure!(
            missing.is_empty(),
            "{} events lost: {:?}",
            missing.len(),
            missing.iter().take(10).collect::<Vec<_>>()
        );
        Ok(())
    }

    /// Fails, naming the first few, when an event was accepted more than once.
    ///
    /// # Errors
    /// When one was.
    pub fn ensure_no_duplicates(&self) -> Result<()> {
        let twice = self.duplicated();
        ensure!(
            twice.is_empty(),
            "{} events delivered more than once: {:?}",
            twice.len(),
            twice.iter().map(|(id, _)| *id).take(10).collect::<Vec<_>>()
        );
        Ok(())
    }

    /// Fails when a duplicate carried another `webhook-id` than the first delivery.
    ///
    /// # Errors
    /// When one did.
    pub fn ensure_same_key(&self) -> Result<()> {
        ensure!(self.same_key(), "a duplicate carried another webhook-id");
        Ok(())
    }

    /// The common figures for `ids` published, `dead_lettered` events in the
    /// DLQ and the time it took to drain.
    pub fn figures(
        &self,
        name: &str,
        load: &str,
        ids: &[String],
        dead_lettered: usize,
        drain: Duration,
    ) -> Figures {
        Figures {
            name: name.to_string(),
            load: load.to_string(),
            published: ids.len(),
            delivered: self.delivered(),
            lost: self.missing(ids).len().saturating_sub(dead_lettered),
            duplicates: self.duplicates(),
            duplicated_events: self.duplicated().len(),
            same_key: self.same_key(),
            dead_lettered,
            drain,
            extra: Vec::new(),
        }
    }
}

/// The `p` quantile (0..=1) of `samples` (sorted here); `None` when empty.
pub fn percentile(samples: &mut [Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let rank = (p * samples.len() as f64).ceil() as usize;
    Some(samples[rank.clamp(1, samples.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&mut v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&mut [], 0.5), None);
    }
}
