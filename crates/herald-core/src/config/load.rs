//! Reading the configuration file, with errors that name file, line and field.

use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeOwned, Visitor};
use serde_saphyr::Location;

use super::FleetConfig;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or `<env>` / `<string>`).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// The field, as a path (`destinations[ops].url`), empty for the whole file.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ConfigError {
    /// An error at `location` in `file`.
    pub fn at(
        file: &str,
        location: Location,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_string(),
            line: location.line(),
            column: location.column(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// An error about the whole file.
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line: 0,
            column: 0,
            field: String::new(),
            message: message.into(),
        }
    }
}

/// Several problems, printed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        Self(vec![e])
    }
}

impl FleetConfig {
    /// Reads and validates a configuration file, then applies `NATS_URL`.
    ///
    /// # Errors
    /// Every problem found, each naming file, line and field.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(&file, format!("cannot read the file: {e}")))?;
        let mut config = Self::from_yaml(&text, &file)?;
        config.apply_env(|k| std::env::var(k).ok());
        Ok(config)
    }

    /// Parses and validates configuration text; `file` names it in errors.
    /// The environment is not consulted.
    ///
    /// # Errors
    /// Every problem found, each naming file, line and field.
    pub fn from_yaml(text: &str, file: &str) -> Result<Self, ConfigErrors> {
        let mut failed_at = String::new();
        let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize::<_, FleetConfig>(de).map_err(|e| {
                failed_at = e.path().to_string();
                e.into_inner()
            })
        });
        let mut config = parsed.map_err(|e| yaml_error(file, &failed_at, &e))?;
        config.share_with_destinations();
        let errors = config.validate(file);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

fn yaml_error(file: &str, path: &str, e: &serde_saphyr::Error) -> ConfigError {
    let location = e.location().unwrap_or(Location::UNKNOWN);
    let message = explain(&first_line(&e.without_snippet().to_string()));
    let field = if path == "." {
        String::new()
    } else {
        without_span_segments(path)
    };
    ConfigError::at(file, location, field, message)
}

/// Drops the `.value` segments that position-keeping (`Spanned`) fields add to
/// serde paths: `destinations[0].value.retry` is `destinations[0].retry` to the user.
fn without_span_segments(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find(".value") {
        let after = &rest[i + ".value".len()..];
        let whole_segment = after.is_empty() || after.starts_with(['.', '[']);
        out.push_str(&rest[..if whole_segment { i } else { i + ".value".len() }]);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The YAML reader's terse type errors, with what would be valid.
fn explain(message: &str) -> String {
    let hint = match message {
        "invalid u8" | "invalid u16" | "invalid u32" | "invalid u64" | "invalid usize" => {
            "expected a whole number, 0 or more"
        }
        "invalid i8" | "invalid i16" | "invalid i32" | "invalid i64" | "invalid isize" => {
            "expected a whole number"
        }
        "invalid f32" | "invalid f64" => "expected a number, such as 2 or 0.5",
        "invalid boolean" => "expected true or false",
        "expected sequence start" => "expected a list, such as [a, b] or one `- item` per line",
        "expected mapping start" | "expected a mapping" => {
            "expected a mapping of keys, such as {key: value} or one `key: value` per line"
        }
        "expected string scalar" => "expected one value (text), not a list or a mapping",
        "invalid socket address syntax" => {
            "expected an address and port such as 0.0.0.0:9464 (or null for none)"
        }
        _ => return message.to_string(),
    };
    format!("{message}; {hint}")
}

/// The message without the position suffix the YAML library adds (we print our own).
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    match line.rfind(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

/// The field names a struct type declares, found by asking it to deserialize from
/// a deserializer that only records the names. `None` for types that are not
/// structs (their unknown keys are then left to their own deserializer).
pub(crate) fn field_names<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);

    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("field probe")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut out = None;
    let _ = T::deserialize(Probe(&mut out));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Two {
        a: u32,
        b: String,
    }

    #[test]
    fn span_segments_are_dropped_from_paths() {
        assert_eq!(
            without_span_segments("destinations[0].value.events.value[1]"),
            "destinations[0].events[1]"
        );
        assert_eq!(
            without_span_segments("destinations[1].value"),
            "destinations[1]"
        );
        assert_eq!(without_span_segments("worker.values"), "worker.values");
    }

    #[test]
    fn field_names_are_probed() {
        assert_eq!(field_names::<Two>(), Some(&["a", "b"][..]));
        assert_eq!(field_names::<u32>(), None);
    }
}
