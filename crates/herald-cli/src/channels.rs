//! The channels this `herald` knows, in one place: a new channel crate adds one
//! arm to [`with_channel`] and one name to [`KNOWN`].

use herald_core::Channel;
use herald_core::config::RateLimitConfig;
use herald_discord::Discord;
use herald_email::Email;
use herald_jira::Jira;
use herald_opsgenie::Opsgenie;
use herald_pagerduty::PagerDuty;
use herald_slack::Slack;
use herald_teams::Teams;
use herald_webhook::Webhook;

/// Names of the channels this build understands, as written in `channel:`.
pub(crate) const KNOWN: &[&str] = &[
    Webhook::NAME,
    Slack::NAME,
    Discord::NAME,
    Teams::NAME,
    PagerDuty::NAME,
    Opsgenie::NAME,
    Jira::NAME,
    Email::NAME,
];

/// Something to do with a channel type, chosen at run time by name.
pub(crate) trait ChannelTask {
    /// What the task produces.
    type Output;
    /// Runs the task for channel `C`.
    fn run<C: Channel>(self) -> Self::Output;
}

/// Runs `task` for the channel called `name`; `None` when no channel has that name.
pub(crate) fn with_channel<T: ChannelTask>(name: &str, task: T) -> Option<T::Output> {
    match name {
        n if n == Webhook::NAME => Some(task.run::<Webhook>()),
        n if n == Slack::NAME => Some(task.run::<Slack>()),
        n if n == Discord::NAME => Some(task.run::<Discord>()),
        n if n == Teams::NAME => Some(task.run::<Teams>()),
        n if n == PagerDuty::NAME => Some(task.run::<PagerDuty>()),
        n if n == Opsgenie::NAME => Some(task.run::<Opsgenie>()),
        n if n == Jira::NAME => Some(task.run::<Jira>()),
        n if n == Email::NAME => Some(task.run::<Email>()),
        _ => None,
    }
}

/// What a channel says of itself, for the operator views.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelFacts {
    /// The rate limit a destination gets when it sets none.
    pub(crate) default_rate_limit: Option<RateLimitConfig>,
    /// What a test send does beyond a message (empty when harmless).
    pub(crate) test_notice: &'static str,
}

struct Facts;

impl ChannelTask for Facts {
    type Output = ChannelFacts;
    fn run<C: Channel>(self) -> ChannelFacts {
        ChannelFacts {
            default_rate_limit: C::defaults().rate_limit,
            test_notice: C::TEST_NOTICE,
        }
    }
}

/// The facts of the channel called `name`; `None` when no channel has that name.
pub(crate) fn facts(name: &str) -> Option<ChannelFacts> {
    with_channel(name, Facts)
}

/// The message for a `channel:` value nobody understands.
pub(crate) fn unknown_channel_message(name: &str) -> String {
    format!(
        "unknown channel `{name}`; this herald knows: {}",
        KNOWN.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Name;
    impl ChannelTask for Name {
        type Output = &'static str;
        fn run<C: Channel>(self) -> &'static str {
            C::NAME
        }
    }

    #[test]
    fn every_known_channel_dispatches_to_itself() {
        for name in KNOWN {
            assert_eq!(with_channel(name, Name), Some(*name));
        }
        assert_eq!(with_channel("pigeon", Name), None);
        assert!(unknown_channel_message("pigeon").contains("webhook"));
        assert!(facts("jira").is_some_and(|f| f.test_notice.contains("Jira")));
        assert!(facts("webhook").is_some_and(|f| f.test_notice.is_empty()));
        assert!(facts("pigeon").is_none());
    }
}
