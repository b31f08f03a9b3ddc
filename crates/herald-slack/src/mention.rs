//! Configured mentions, checked once and written as real Slack mentions.
//!
//! Slack only notifies for its own syntax: `<!here>`, `<!channel>`,
//! `<!everyone>`, `<@U0123ABCD>` (a user) and `<!subteam^S0123ABCD>` (a user
//! group). Handles such as dsops' `@oncall` are plain text to Slack, so they are
//! refused at start-up rather than sent as words that notify nobody.

use herald_core::channel::BuildError;
use herald_core::envelope::Envelope;
use herald_core::present::Mentions;

/// The mentions of a destination, in Slack syntax, ready to pick per event.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlackMentions {
    settings: Mentions,
}

impl SlackMentions {
    /// Checks every entry and rewrites it in Slack syntax.
    ///
    /// # Errors
    /// A [`BuildError`] naming the first entry Slack cannot notify
    /// (`mentions.on_failure[0]`).
    pub(crate) fn new(raw: &Mentions) -> Result<Self, BuildError> {
        let convert = |field: String, list: &[String]| -> Result<Vec<String>, BuildError> {
            list.iter()
                .enumerate()
                .map(|(i, m)| {
                    slack_mention(m).map_err(|e| BuildError::new(format!("{field}[{i}]"), e))
                })
                .collect()
        };
        Ok(Self {
            settings: Mentions {
                on_failure: convert("mentions.on_failure".into(), &raw.on_failure)?,
                on_success: convert("mentions.on_success".into(), &raw.on_success)?,
                events: raw
                    .events
                    .iter()
                    .map(|(ty, list)| {
                        Ok((ty.clone(), convert(format!("mentions.events.{ty}"), list)?))
                    })
                    .collect::<Result<_, BuildError>>()?,
            },
        })
    }

    /// The mentions for `event`, in Slack syntax.
    pub(crate) fn for_event(&self, event: &Envelope) -> Vec<String> {
        self.settings
            .for_event(event)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
}

/// One configured mention in Slack syntax.
///
/// # Errors
/// Why the entry is not something Slack can notify.
pub fn slack_mention(raw: &str) -> Result<String, String> {
    let m = raw.trim();
    let special = m
        .strip_prefix('@')
        .or_else(|| m.strip_prefix("<!").and_then(|r| r.strip_suffix('>')))
        .unwrap_or(m);
    if let "here" | "channel" | "everyone" = special {
        return Ok(format!("<!{special}>"));
    }
    if let Some(id) = m.strip_prefix("<@").and_then(|r| r.strip_suffix('>')) {
        let id = id.split('|').next().unwrap_or_default();
        if is_id(id, &['U', 'W']) {
            return Ok(format!("<@{id}>"));
        }
    }
    if is_id(m, &['U', 'W']) {
        return Ok(format!("<@{m}>"));
    }
    let group = m
        .strip_prefix("subteam:")
        .or_else(|| {
            m.strip_prefix("<!subteam^")
                .and_then(|r| r.strip_suffix('>'))
                .map(|r| r.split('|').next().unwrap_or_default())
        })
        .unwrap_or(m);
    if is_id(group, &['S']) {
        return Ok(format!("<!subteam^{group}>"));
    }
    Err(format!(
        "`{m}` is not a Slack mention (Slack cannot notify a handle written as text); \
         use @here, @channel, @everyone, a user id (U0123ABCD or <@U0123ABCD>) or a \
         user-group id (S0123ABCD or subteam:S0123ABCD)"
    ))
}

/// A Slack id: one of `first`, then upper-case letters and digits, with a digit.
fn is_id(s: &str, first: &[char]) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| first.contains(&c))
        && s.len() >= 3
        && s.len() <= 24
        && s[1..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && s[1..].chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_written_in_slack_syntax() {
        for (raw, want) in [
            ("@here", "<!here>"),
            ("<!channel>", "<!channel>"),
            ("@everyone", "<!everyone>"),
            ("U0123ABCD", "<@U0123ABCD>"),
            ("<@W123>", "<@W123>"),
            ("<@U123|alice>", "<@U123>"),
            ("S0123ABCD", "<!subteam^S0123ABCD>"),
            ("subteam:S42", "<!subteam^S42>"),
            ("<!subteam^S42|sre>", "<!subteam^S42>"),
        ] {
            assert_eq!(slack_mention(raw).as_deref(), Ok(want), "{raw}");
        }
        for bad in ["@oncall", "@sre-team", "SRE", "u123", "<@X1>", "", "#ops"] {
            let e = slack_mention(bad).unwrap_err();
            assert!(e.contains("not a Slack mention"), "{bad}: {e}");
        }
    }

    #[test]
    fn build_errors_name_the_entry() {
        let m = Mentions {
            on_failure: vec!["@here".into(), "@oncall".into()],
            ..Mentions::default()
        };
        let e = SlackMentions::new(&m).unwrap_err();
        assert_eq!(e.field, "mentions.on_failure[1]");
        assert!(e.message.contains("`@oncall`"), "{e}");
    }
}
