//! Environment-only destinations: the parts of every channel's
//! [`Channel::env_destination`](crate::Channel::env_destination) that are the
//! same (the subjects from `HERALD_EVENTS`, comma-separated lists, secrets by
//! reference).

use serde_json::{Map, Value, json};

/// A comma-separated list, each entry trimmed, empty entries dropped.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The subjects of an environment-only destination: `HERALD_EVENTS`
/// (comma-separated patterns), or every default subject.
pub fn events(get: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    get("HERALD_EVENTS").map_or_else(
        || {
            crate::config::DEFAULT_SUBJECTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        },
        |v| list(&v),
    )
}

/// The start of the environment-only destination of `channel`: `name` and
/// `channel` both `channel`, `events` from [`events`].
pub fn destination(channel: &str, get: &dyn Fn(&str) -> Option<String>) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("name".into(), channel.into());
    d.insert("channel".into(), channel.into());
    d.insert("events".into(), events(get).into());
    d
}

/// A secret read from the environment variable `var` when the destination
/// is built: `{"from": {"env": var}}`.
pub fn from_env(var: &str) -> Value {
    json!({"from": {"env": var}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_from_herald_events_or_the_defaults() {
        let set = |k: &str| (k == "HERALD_EVENTS").then(|| " rotation.>, ,cert.> ".to_owned());
        assert_eq!(events(&set), ["rotation.>", "cert.>"]);
        let unset = |_: &str| None;
        assert_eq!(events(&unset).len(), crate::config::DEFAULT_SUBJECTS.len());
        let d = destination("slack", &set);
        assert_eq!(
            Value::Object(d).to_string(),
            r#"{"name":"slack","channel":"slack","events":["rotation.>","cert.>"]}"#
        );
        assert_eq!(from_env("X"), json!({"from": {"env": "X"}}));
    }
}
