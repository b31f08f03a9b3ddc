//! The seed events: one realistic event per notification the seed systems send
//! (dsops, Headwind, CertifyClouds, MazeVault) plus one hostile event, shared by
//! every channel's golden-file rendering tests.
//!
//! Each file in `tests/fixtures/events/` is `{"subject": "...", "event": {...}}`:
//! the NATS subject it is published on and the native envelope JSON a publisher
//! would send. Files are named `<system>-<type>.json`; the stem is the seed's name
//! (`dsops-rotation.failed`). Nothing here depends on `herald-core`: a channel test
//! ingests [`SeedEvent::payload`] itself.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

/// The directory holding the seed event files.
pub const SEED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");

/// One seed event.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedEvent {
    /// The file stem: `dsops-rotation.failed`, `hostile-injection`.
    pub name: String,
    /// The NATS subject it is published on (`rotation.failed`).
    pub subject: String,
    /// The event as published: the native envelope JSON.
    pub json: Value,
}

impl SeedEvent {
    /// The system that emits it: the name up to the first `-` (`dsops`, `headwind`,
    /// `certifyclouds`, `mazevault`, `hostile`).
    pub fn system(&self) -> &str {
        self.name
            .split_once('-')
            .map_or(self.name.as_str(), |(system, _)| system)
    }

    /// The event's `id`.
    pub fn id(&self) -> &str {
        self.json.get("id").and_then(Value::as_str).unwrap_or("")
    }

    /// The event serialized as it would be published (the message body).
    pub fn payload(&self) -> Vec<u8> {
        self.json.to_string().into_bytes()
    }
}

/// Every seed event, sorted by name.
///
/// # Panics
/// When the directory cannot be read or a file is not a well-formed seed; the
/// message names the file.
pub fn seed_events() -> Vec<SeedEvent> {
    load_seed_events(Path::new(SEED_DIR)).unwrap_or_else(|e| panic!("seed events: {e:#}"))
}

/// The seed event called `name` (a file stem such as `dsops-rotation.failed`).
///
/// # Panics
/// When there is no such seed, listing the names there are.
pub fn seed_event(name: &str) -> SeedEvent {
    let all = seed_events();
    if let Some(seed) = all.iter().find(|s| s.name == name) {
        return seed.clone();
    }
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    panic!(
        "no seed event named {name:?} in {SEED_DIR}; the seeds are: {}",
        names.join(", ")
    );
}

/// Reads every `*.json` seed file in `dir`, sorted by name.
///
/// # Errors
/// When the directory cannot be read, or a file is not JSON or lacks a string
/// `subject` or an object `event`.
pub fn load_seed_events(dir: &Path) -> Result<Vec<SeedEvent>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    paths.retain(|p| p.extension().is_some_and(|x| x == "json"));
    paths.sort();
    paths.iter().map(|p| load_one(p)).collect()
}

fn load_one(path: &Path) -> Result<SeedEvent> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("{}: the file name is not UTF-8", path.display()))?
        .to_string();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let Some(subject) = doc
        .get("subject")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        bail!("{}: no string `subject`", path.display());
    };
    let json = doc.get_mut("event").map(Value::take).unwrap_or_default();
    if !json.is_object() {
        bail!("{}: `event` is missing or not an object", path.display());
    }
    Ok(SeedEvent {
        name,
        subject,
        json,
    })
}
