//! Configured mentions in Discord syntax, and the `allowed_mentions` that lets
//! exactly those ping.
//!
//! Discord pings from a message's `content` only what `allowed_mentions` allows.
//! Herald always sends `allowed_mentions`: `parse` holds `everyone` only when
//! `@everyone`/`@here` is configured, and `users`/`roles` list exactly the
//! configured ids, so no text from an event can ping anyone.

use herald_core::channel::BuildError;
use herald_core::envelope::Envelope;
use herald_core::present::Mentions;
use serde_json::{Map, Value, json};

/// One configured mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscordMention {
    /// `@everyone` or `@here`.
    Everyone(&'static str),
    /// A user id.
    User(String),
    /// A role id.
    Role(String),
}

impl DiscordMention {
    /// Reads one configured entry.
    ///
    /// # Errors
    /// Why the entry is not a Discord mention.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let m = raw.trim();
        match m {
            "@everyone" => return Ok(Self::Everyone("@everyone")),
            "@here" => return Ok(Self::Everyone("@here")),
            _ => {}
        }
        let inner = m.strip_prefix('<').and_then(|r| r.strip_suffix('>'));
        if let Some(id) = inner
            .and_then(|r| r.strip_prefix("@&"))
            .or_else(|| m.strip_prefix("role:"))
        {
            if snowflake(id) {
                return Ok(Self::Role(id.to_owned()));
            }
        } else if let Some(id) = inner
            .and_then(|r| r.strip_prefix('@'))
            .map(|r| r.strip_prefix('!').unwrap_or(r))
            .or_else(|| m.strip_prefix("user:"))
            && snowflake(id)
        {
            return Ok(Self::User(id.to_owned()));
        }
        let hint = if snowflake(m) {
            " (a bare id could be a user or a role: write user:ID or role:ID)"
        } else {
            ""
        };
        Err(format!(
            "`{m}` is not a Discord mention{hint}; use @everyone, @here, a user (<@ID> or user:ID) or a role (<@&ID> or role:ID)"
        ))
    }

    /// The mention as written in `content`.
    pub fn text(&self) -> String {
        match self {
            Self::Everyone(s) => (*s).to_owned(),
            Self::User(id) => format!("<@{id}>"),
            Self::Role(id) => format!("<@&{id}>"),
        }
    }
}

/// A Discord id: digits only, at most 20.
fn snowflake(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The mentions of a destination, checked, ready to pick per event.
#[derive(Debug, Clone, Default)]
pub(crate) struct DiscordMentions {
    settings: Mentions,
}

impl DiscordMentions {
    /// Checks every entry.
    ///
    /// # Errors
    /// A [`BuildError`] naming the first entry that is not a Discord mention.
    pub(crate) fn new(raw: &Mentions) -> Result<Self, BuildError> {
        let check = |field: String, list: &[String]| -> Result<(), BuildError> {
            for (i, m) in list.iter().enumerate() {
                DiscordMention::parse(m)
                    .map_err(|e| BuildError::new(format!("{field}[{i}]"), e))?;
            }
            Ok(())
        };
        check("mentions.on_failure".into(), &raw.on_failure)?;
        check("mentions.on_success".into(), &raw.on_success)?;
        for (ty, list) in &raw.events {
            check(format!("mentions.events.{ty}"), list)?;
        }
        Ok(Self {
            settings: raw.clone(),
        })
    }

    /// The mentions for `event`.
    pub(crate) fn for_event(&self, event: &Envelope) -> Vec<DiscordMention> {
        self.settings
            .for_event(event)
            .into_iter()
            .filter_map(|m| DiscordMention::parse(m).ok())
            .collect()
    }
}

/// `allowed_mentions` permitting exactly `mentions` (and nothing when empty).
pub fn allowed_mentions(mentions: &[DiscordMention]) -> Value {
    let mut users: Vec<&str> = Vec::new();
    let mut roles: Vec<&str> = Vec::new();
    let mut everyone = false;
    for m in mentions {
        match m {
            DiscordMention::Everyone(_) => everyone = true,
            DiscordMention::User(id) if !users.contains(&id.as_str()) => users.push(id),
            DiscordMention::Role(id) if !roles.contains(&id.as_str()) => roles.push(id),
            _ => {}
        }
    }
    let mut a = Map::new();
    let parse: Vec<&str> = if everyone { vec!["everyone"] } else { vec![] };
    a.insert("parse".into(), json!(parse));
    if !users.is_empty() {
        a.insert("users".into(), json!(users));
    }
    if !roles.is_empty() {
        a.insert("roles".into(), json!(roles));
    }
    Value::Object(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_read_in_discord_terms() {
        for (raw, want) in [
            ("@everyone", DiscordMention::Everyone("@everyone")),
            ("@here", DiscordMention::Everyone("@here")),
            ("<@123>", DiscordMention::User("123".into())),
            ("<@!123>", DiscordMention::User("123".into())),
            ("user:123", DiscordMention::User("123".into())),
            ("<@&456>", DiscordMention::Role("456".into())),
            ("role:456", DiscordMention::Role("456".into())),
        ] {
            assert_eq!(DiscordMention::parse(raw), Ok(want), "{raw}");
        }
        assert!(
            DiscordMention::parse("123")
                .unwrap_err()
                .contains("user:ID or role:ID")
        );
        for bad in ["@oncall", "<@U123>", "role:abc", "", "<!here>"] {
            assert!(DiscordMention::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allowed_mentions_list_exactly_the_configured_ones() {
        assert_eq!(allowed_mentions(&[]), json!({"parse": []}));
        let m = [
            DiscordMention::Role("1".into()),
            DiscordMention::User("2".into()),
            DiscordMention::Role("1".into()),
            DiscordMention::Everyone("@here"),
        ];
        assert_eq!(
            allowed_mentions(&m),
            json!({"parse": ["everyone"], "users": ["2"], "roles": ["1"]})
        );
    }
}
