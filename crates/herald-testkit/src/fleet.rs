//! Fleet configuration files for tests: fast defaults, written as YAML to a temp dir.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::yaml::to_yaml;

/// A fleet configuration document: `nats.url`, quick worker tuning
/// (`pull_expires: 1s`, `shutdown_timeout: 10s`, metrics on a free loopback
/// port) and the given destinations.
/// Change any key before writing it with [`ConfigFile::write`].
pub fn fleet(nats_url: &str, destinations: &[Value]) -> Value {
    json!({
        "nats": {"url": nats_url},
        "worker": {
            "pull_expires": "1s",
            "shutdown_timeout": "10s",
            // Any free port: tests run many workers at once.
            "metrics_listen": "127.0.0.1:0",
        },
        "destinations": destinations,
    })
}

/// A webhook destination for `events` posting to `url`: 5 s timeout, retries
/// after 1 s without jitter. Add or change keys as needed.
pub fn webhook(name: &str, url: &str, events: &[&str]) -> Value {
    json!({
        "name": name,
        "channel": "webhook",
        "events": events,
        "url": url,
        "timeout": "5s",
        "retry": {"schedule": ["1s"], "jitter": 0},
    })
}

/// A Jira destination for `events` on the Jira at `base_url` (project `SEC`,
/// user `bot@example.com`, this API token). Add or change keys as needed.
pub fn jira(name: &str, base_url: &str, api_token: &str, events: &[&str]) -> Value {
    json!({
        "name": name,
        "channel": "jira",
        "events": events,
        "base_url": base_url,
        "email": "bot@example.com",
        "api_token": api_token,
        "project_key": "SEC",
    })
}

/// A Teams destination for `events` posting to the workflow `url`.
pub fn teams(name: &str, url: &str, events: &[&str]) -> Value {
    json!({
        "name": name,
        "channel": "teams",
        "events": events,
        "url": url,
    })
}

/// A configuration file in its own temp directory (removed on drop).
#[derive(Debug)]
pub struct ConfigFile {
    dir: TempDir,
    path: PathBuf,
}

impl ConfigFile {
    /// Writes `doc` as YAML to `herald.yaml`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(doc: &Value) -> Result<Self> {
        Self::write_text("herald.yaml", &to_yaml(doc))
    }

    /// Writes `text` as it is to a file called `name`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_text(name: &str, text: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("herald-config-")
            .tempdir()?;
        let path = dir.path().join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(Self { dir, path })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory holding it (for secret files beside it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path as text, as the worker names it in errors.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The file's contents.
    ///
    /// # Errors
    /// When it cannot be read.
    pub fn text(&self) -> Result<String> {
        std::fs::read_to_string(&self.path).with_context(|| format!("reading {}", self.name()))
    }
}

/// Writes a fleet configuration for `destinations` (see [`fleet`]).
///
/// # Errors
/// When the file cannot be written.
pub fn write_fleet_config(nats_url: &str, destinations: &[Value]) -> Result<ConfigFile> {
    ConfigFile::write(&fleet(nats_url, destinations))
}
