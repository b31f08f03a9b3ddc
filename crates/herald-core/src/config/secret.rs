//! Secret references and resolved secrets that never print themselves.
//!
//! A secret is written inline (`"https://hooks.example/abc"`), or as a reference:
//! `{from: {env: NAME}}` or `{from: {file: PATH}}` (a Kubernetes secret mount; one
//! trailing newline is removed). References are resolved once, at start-up.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// Where a secret comes from, as written in the configuration.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SecretRef {
    /// The value itself, written in the file.
    Inline(String),
    /// A reference: `{from: {env: NAME}}` or `{from: {file: PATH}}`.
    From {
        /// The source of the value.
        from: SecretSource,
    },
}

/// The two places a referenced secret can live.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file (its content, minus one trailing newline).
    File(PathBuf),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Inline(_) => f.write_str("SecretRef::Inline(<redacted>)"),
            SecretRef::From { from } => write!(f, "SecretRef::From({from:?})"),
        }
    }
}

/// Why a secret reference could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is missing or not Unicode.
    #[error(
        "environment variable `{0}` is not set; set it, or write the secret inline or as `{{from: {{file: PATH}}}}`"
    )]
    EnvMissing(String),
    /// The file could not be read.
    #[error(
        "cannot read secret file `{path}`: {source}; expected a readable file holding the secret (a mounted secret), or use `{{from: {{env: NAME}}}}`"
    )]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The value is empty.
    #[error("the secret is empty; a secret needs a value")]
    Empty,
}

impl SecretRef {
    /// Reads the value now.
    ///
    /// # Errors
    /// [`SecretError`] when the variable is unset, the file unreadable, or the value empty.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        let value = match self {
            SecretRef::Inline(v) => v.clone(),
            SecretRef::From {
                from: SecretSource::Env(name),
            } => std::env::var(name).map_err(|_| SecretError::EnvMissing(name.clone()))?,
            SecretRef::From {
                from: SecretSource::File(path),
            } => {
                let mut s = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?;
                if s.ends_with('\n') {
                    s.pop();
                    if s.ends_with('\r') {
                        s.pop();
                    }
                }
                s
            }
        };
        if value.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret(value))
    }

    /// A description safe to print: `env:NAME`, `file:PATH` or `inline`.
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Inline(_) => "inline".to_string(),
            SecretRef::From {
                from: SecretSource::Env(n),
            } => format!("env:{n}"),
            SecretRef::From {
                from: SecretSource::File(p),
            } => format!("file:{}", p.display()),
        }
    }
}

/// A resolved secret. `Debug` and `Display` print `<redacted>`; use [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value obtained elsewhere (an environment-only configuration).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "s3cr3t\n").unwrap();
        let r: SecretRef =
            serde_json::from_value(serde_json::json!({"from": {"file": path}})).unwrap();
        let s = r.resolve().unwrap();
        assert_eq!(s.expose(), "s3cr3t");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        let inline: SecretRef = serde_json::from_value(serde_json::json!("abc")).unwrap();
        assert!(!format!("{inline:?}").contains("abc"));
        let missing: SecretRef =
            serde_json::from_value(serde_json::json!({"from": {"env": "HERALD_TEST_UNSET_VAR"}}))
                .unwrap();
        assert!(matches!(missing.resolve(), Err(SecretError::EnvMissing(_))));
    }
}
