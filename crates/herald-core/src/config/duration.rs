//! Durations written the way people write them: `10s`, `500ms`, `2m`, `1h 30m`, `7d`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A [`Duration`] read from `"10s"`-style text, or from a bare number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration such as `10s`, `500ms`, `2m` or `1h`, or a number of seconds",
                )
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(HumanDuration::from_secs(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(HumanDuration::from_secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Duration::try_from_secs_f64(v)
                    .map(HumanDuration)
                    .map_err(|_| E::custom("a duration must be a finite, non-negative number"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let t = v.trim();
                if let Ok(secs) = t.parse::<u64>() {
                    return Ok(HumanDuration::from_secs(secs));
                }
                humantime::parse_duration(t)
                    .map(HumanDuration)
                    .map_err(|e| {
                        E::custom(format!(
                            "invalid duration `{v}` ({e}); write one such as `10s`, `500ms`, `2m`, `1h 30m` or a number of seconds"
                        ))
                    })
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_and_numbers() {
        let d: HumanDuration = serde_json::from_str("\"1m 30s\"").unwrap();
        assert_eq!(d.0, Duration::from_secs(90));
        let d: HumanDuration = serde_json::from_str("\"250ms\"").unwrap();
        assert_eq!(d.0, Duration::from_millis(250));
        let d: HumanDuration = serde_json::from_str("12").unwrap();
        assert_eq!(d.0, Duration::from_secs(12));
        assert!(serde_json::from_str::<HumanDuration>("\"soon\"").is_err());
        assert!(serde_json::from_str::<HumanDuration>("-3").is_err());
    }
}
