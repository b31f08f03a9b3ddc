//! When digest windows close: `hourly`, `daily`, `weekly` (at a local time in a
//! time zone) or every fixed duration.
//!
//! A window is the time between two consecutive boundaries; an event belongs to
//! the window that ends at the first boundary after it arrives. Local times that
//! a daylight-saving change skips move to the first valid time after them, and
//! a time that occurs twice is taken the first time.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{
    DateTime, Datelike as _, LocalResult, NaiveDateTime, NaiveTime, TimeDelta, TimeZone as _,
    Timelike as _, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

/// How a destination sends: one message per event, or digests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Batch {
    /// One message per event, at once.
    #[default]
    Immediate,
    /// A digest every hour, at the minute (and second) of `at`.
    Hourly,
    /// A digest every day at `at`.
    Daily,
    /// A digest every week on `weekday` at `at`.
    Weekly,
    /// A digest every fixed duration (`15m`), windows aligned to the Unix epoch.
    Every(Duration),
}

impl FromStr for Batch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "immediate" => Ok(Batch::Immediate),
            "hourly" => Ok(Batch::Hourly),
            "daily" => Ok(Batch::Daily),
            "weekly" => Ok(Batch::Weekly),
            other => match humantime::parse_duration(other) {
                Ok(d) if d >= Duration::from_secs(1) => Ok(Batch::Every(d)),
                Ok(_) => Err("a digest interval must be at least 1s".to_owned()),
                Err(_) => Err(format!(
                    "unknown batch mode `{other}`: use `immediate`, `hourly`, `daily`, `weekly` or an interval such as `15m`"
                )),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Batch::Immediate => f.write_str("immediate"),
            Batch::Hourly => f.write_str("hourly"),
            Batch::Daily => f.write_str("daily"),
            Batch::Weekly => f.write_str("weekly"),
            Batch::Every(d) => write!(f, "every {}", humantime::format_duration(*d)),
        }
    }
}

/// A schedule setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ScheduleError {
    /// The settings key at fault (`at`, `weekday`, `timezone`).
    pub field: &'static str,
    /// What is wrong and what would be valid.
    pub message: String,
}

/// When digests of one destination close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    batch: Batch,
    at: NaiveTime,
    weekday: Weekday,
    tz: Tz,
}

impl Schedule {
    /// A schedule from a destination's `batch`, `at` (`HH:MM` or `HH:MM:SS`,
    /// default `00:00`), `weekday` (default Monday) and `timezone` (an IANA name,
    /// default `UTC`). `None` for `immediate`.
    ///
    /// # Errors
    /// [`ScheduleError`] naming the key that cannot be read.
    pub fn new(
        batch: Batch,
        at: Option<&str>,
        weekday: Option<&str>,
        timezone: Option<&str>,
    ) -> Result<Option<Self>, ScheduleError> {
        if batch == Batch::Immediate {
            return Ok(None);
        }
        let at = match at.map(str::trim) {
            None => NaiveTime::MIN,
            Some(t) => NaiveTime::parse_from_str(t, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                .map_err(|_| ScheduleError {
                    field: "at",
                    message: format!(
                        "`{t}` is not a time of day: use `HH:MM` or `HH:MM:SS` (24-hour)"
                    ),
                })?,
        };
        let weekday = match weekday.map(str::trim) {
            None => Weekday::Mon,
            Some(w) => w.parse::<Weekday>().map_err(|_| ScheduleError {
                field: "weekday",
                message: format!("`{w}` is not a day of the week: use `monday` … `sunday`"),
            })?,
        };
        let tz = match timezone.map(str::trim) {
            None => Tz::UTC,
            Some(z) => z.parse::<Tz>().map_err(|_| ScheduleError {
                field: "timezone",
                message: format!("`{z}` is not an IANA time zone such as `Europe/Prague` or `UTC`"),
            })?,
        };
        Ok(Some(Self {
            batch,
            at,
            weekday,
            tz,
        }))
    }

    /// The batch mode.
    pub fn batch(&self) -> Batch {
        self.batch
    }

    /// The time zone windows are read in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The end of the window an event arriving at `t` belongs to: the first
    /// boundary strictly after `t`.
    pub fn window_end(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if let Batch::Every(d) = self.batch {
            let step = i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1);
            let ms = t.timestamp_millis();
            let end = (ms.div_euclid(step) + 1).saturating_mul(step);
            return DateTime::from_timestamp_millis(end).unwrap_or(t);
        }
        self.candidates(t)
            .into_iter()
            .filter(|b| *b > t)
            .min()
            .unwrap_or(t)
    }

    /// The start of the window that ends at `end`: the last boundary strictly
    /// before it.
    pub fn window_start(&self, end: DateTime<Utc>) -> DateTime<Utc> {
        if let Batch::Every(d) = self.batch {
            return end - TimeDelta::from_std(d).unwrap_or(TimeDelta::zero());
        }
        self.candidates(end)
            .into_iter()
            .filter(|b| *b < end)
            .max()
            .unwrap_or(end)
    }

    /// Boundaries around `t`, enough to find the one before and the one after.
    fn candidates(&self, t: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz).naive_local();
        let mut out = Vec::new();
        match self.batch {
            Batch::Hourly => {
                let hour = local
                    .date()
                    .and_hms_opt(local.hour(), 0, 0)
                    .unwrap_or(local);
                let offset = TimeDelta::minutes(i64::from(self.at.minute()))
                    + TimeDelta::seconds(i64::from(self.at.second()));
                for h in -3..=3 {
                    out.push(self.resolve(hour + TimeDelta::hours(h) + offset));
                }
            }
            Batch::Daily | Batch::Weekly => {
                for d in -8..=8 {
                    let day = local.date() + TimeDelta::days(d);
                    if self.batch == Batch::Weekly && day.weekday() != self.weekday {
                        continue;
                    }
                    out.push(self.resolve(day.and_time(self.at)));
                }
            }
            Batch::Immediate | Batch::Every(_) => {}
        }
        out
    }

    /// A local time as an instant: the first of two, or the first valid time
    /// after a gap.
    fn resolve(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let mut t = local;
        for _ in 0..4 {
            match self.tz.from_local_datetime(&t) {
                LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => {
                    return x.with_timezone(&Utc);
                }
                LocalResult::None => t += TimeDelta::minutes(30),
            }
        }
        Utc.from_utc_datetime(&local)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.format("%H:%M");
        match self.batch {
            Batch::Hourly => write!(f, "hourly at :{}", self.at.format("%M")),
            Batch::Daily => write!(f, "daily at {at} {}", self.tz),
            Batch::Weekly => write!(f, "weekly on {:?} at {at} {}", self.weekday, self.tz),
            other => write!(f, "{other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekly_prague() -> Schedule {
        Schedule::new(
            Batch::Weekly,
            Some("07:00"),
            Some("monday"),
            Some("Europe/Prague"),
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn immediate_has_no_schedule() {
        assert_eq!(Schedule::new(Batch::Immediate, None, None, None), Ok(None));
    }

    #[test]
    fn weekly_monday_seven_in_prague_winter_and_summer() {
        let s = weekly_prague();
        // Tuesday 2026-11-24 in winter (UTC+1): next Monday 07:00 CET is 06:00 UTC.
        let end = s.window_end(utc("2026-11-24T10:00:00Z"));
        assert_eq!(end, utc("2026-11-30T06:00:00Z"));
        assert_eq!(s.window_start(end), utc("2026-11-23T06:00:00Z"));
        // In summer (UTC+2) the same local time is 05:00 UTC.
        assert_eq!(
            s.window_end(utc("2026-07-01T00:00:00Z")),
            utc("2026-07-06T05:00:00Z")
        );
        // Exactly on a boundary: the event belongs to the next window.
        assert_eq!(
            s.window_end(utc("2026-11-30T06:00:00Z")),
            utc("2026-12-07T06:00:00Z")
        );
        // The window across the change to summer time is an hour shorter.
        let end = s.window_end(utc("2026-03-25T12:00:00Z"));
        assert_eq!(end, utc("2026-03-30T05:00:00Z"));
        assert_eq!(s.window_start(end), utc("2026-03-23T06:00:00Z"));
    }

    #[test]
    fn daily_skipped_and_repeated_local_times() {
        // 02:30 does not exist in Prague on 2026-03-29 (02:00 -> 03:00).
        let s = Schedule::new(Batch::Daily, Some("02:30"), None, Some("Europe/Prague"))
            .unwrap()
            .unwrap();
        assert_eq!(
            s.window_end(utc("2026-03-28T12:00:00Z")),
            utc("2026-03-29T01:00:00Z")
        );
        // 02:30 happens twice on 2026-10-25 (03:00 -> 02:00): the first one counts.
        assert_eq!(
            s.window_end(utc("2026-10-24T12:00:00Z")),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            s.window_end(utc("2026-10-25T00:30:00Z")),
            utc("2026-10-26T01:30:00Z")
        );
    }

    #[test]
    fn hourly_at_a_minute_and_fixed_intervals() {
        let s = Schedule::new(Batch::Hourly, Some("00:15"), None, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            s.window_end(utc("2026-11-24T10:20:00Z")),
            utc("2026-11-24T11:15:00Z")
        );
        assert_eq!(
            s.window_end(utc("2026-11-24T10:14:59Z")),
            utc("2026-11-24T10:15:00Z")
        );
        assert_eq!(
            s.window_start(utc("2026-11-24T11:15:00Z")),
            utc("2026-11-24T10:15:00Z")
        );
        let every = Schedule::new("15m".parse().unwrap(), None, None, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            every.window_end(utc("2026-11-24T10:20:00Z")),
            utc("2026-11-24T10:30:00Z")
        );
        assert_eq!(
            every.window_start(utc("2026-11-24T10:30:00Z")),
            utc("2026-11-24T10:15:00Z")
        );
    }

    #[test]
    fn bad_settings_name_their_key() {
        let e = Schedule::new(Batch::Daily, Some("7am"), None, None).unwrap_err();
        assert_eq!(e.field, "at");
        let e = Schedule::new(Batch::Weekly, None, Some("someday"), None).unwrap_err();
        assert_eq!(e.field, "weekday");
        let e = Schedule::new(Batch::Daily, None, None, Some("Mars/Olympus")).unwrap_err();
        assert_eq!(e.field, "timezone");
        assert!(
            "fortnightly"
                .parse::<Batch>()
                .unwrap_err()
                .contains("`weekly`")
        );
        assert!("0s".parse::<Batch>().is_err());
    }
}
