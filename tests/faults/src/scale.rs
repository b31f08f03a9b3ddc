//! How large a run is: the short form CI runs, or the full one the figures in
//! `docs/reliability.md` come from.

use std::fmt;

/// The size of every scenario's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Small loads and short faults: the whole suite in about a minute or two.
    Short,
    /// The published figures: 50,000 events and 20 kills, a 5-minute outage,
    /// a backlog of 1,000,000 events.
    Full,
}

impl Scale {
    /// `short` at the short scale, `full` at the full one.
    pub fn pick<T>(self, short: T, full: T) -> T {
        match self {
            Self::Short => short,
            Self::Full => full,
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.pick("short", "full"))
    }
}
