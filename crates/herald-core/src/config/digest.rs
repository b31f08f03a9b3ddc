//! The `digest:` section: where digest windows are kept and how their sending
//! is shared between replicas.

use serde::Deserialize;

use super::HumanDuration;

/// Digest windows (destinations with `batch: hourly | daily | weekly | <interval>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// The stream holding the events of open windows.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// Its subject prefix; a window is `<prefix>.<destination>.<end in Unix ms>`.
    #[serde(default = "default_prefix")]
    pub subject_prefix: String,
    /// The key-value bucket of window claims (who sends which window).
    #[serde(default = "default_bucket")]
    pub bucket: String,
    /// How long unsent window events and claims are kept (longer than the
    /// longest window plus any outage).
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
    /// Replicas of the stream and the bucket.
    #[serde(default = "one")]
    pub replicas: usize,
    /// How long after a window closes its digest is sent, so events on their
    /// way into it still arrive (and replicas' clocks may differ a little).
    #[serde(default = "default_grace")]
    pub grace: HumanDuration,
    /// How long a replica's claim on a window lasts without renewal before
    /// another replica takes the window over.
    #[serde(default = "default_lease")]
    pub lease: HumanDuration,
    /// How often each worker looks for closed windows.
    #[serde(default = "default_check_interval")]
    pub check_interval: HumanDuration,
}

fn default_stream() -> String {
    "HERALD_DIGEST".to_owned()
}

fn default_prefix() -> String {
    "herald.digest".to_owned()
}

fn default_bucket() -> String {
    "herald_digest".to_owned()
}

fn default_max_age() -> HumanDuration {
    HumanDuration::from_secs(31 * 24 * 3600)
}

fn one() -> usize {
    1
}

fn default_grace() -> HumanDuration {
    HumanDuration::from_secs(2)
}

fn default_lease() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_check_interval() -> HumanDuration {
    HumanDuration::from_secs(1)
}

impl Default for DigestConfig {
    fn default() -> Self {
        Self {
            stream: default_stream(),
            subject_prefix: default_prefix(),
            bucket: default_bucket(),
            max_age: default_max_age(),
            replicas: 1,
            grace: default_grace(),
            lease: default_lease(),
            check_interval: default_check_interval(),
        }
    }
}
