//! Golden files: rendered bodies compared with the files committed under a
//! channel crate's `tests/golden/<format>/<name>.json`, or rewritten when the
//! test runs with `HERALD_BLESS=1`.
//!
//! A golden file is the body as pretty JSON with a final newline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The environment variable that makes a run rewrite the golden files.
pub const BLESS: &str = "HERALD_BLESS";

/// One test's golden files under `root`, and those found out of date.
#[derive(Debug)]
pub struct Goldens {
    root: PathBuf,
    bless: bool,
    checked: BTreeSet<PathBuf>,
    differ: Vec<String>,
}

impl Goldens {
    /// The golden files under `root` (usually
    /// `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")`); they are
    /// rewritten when `HERALD_BLESS` is set.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            bless: std::env::var_os(BLESS).is_some(),
            checked: BTreeSet::new(),
            differ: Vec::new(),
        }
    }

    /// The file of `name` in `format`.
    pub fn path(&self, format: &str, name: &str) -> PathBuf {
        self.root.join(format).join(format!("{name}.json"))
    }

    /// Compares `body` with its golden file (or rewrites the file when
    /// blessing); `format/name` is noted when they differ.
    ///
    /// # Panics
    /// When blessing and the file cannot be written.
    pub fn check(&mut self, format: &str, name: &str, body: &Value) {
        let path = self.path(format, name);
        let mut text =
            serde_json::to_string_pretty(body).unwrap_or_else(|e| panic!("{format}/{name}: {e}"));
        text.push('\n');
        if self.bless {
            write(&path, &text);
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            self.differ.push(format!("{format}/{name}"));
        }
        self.checked.insert(path);
    }

    /// Notes (or, when blessing, removes) the files in `format` that no check
    /// wrote: golden files of seeds that are gone.
    ///
    /// # Panics
    /// When the folder cannot be read, or a file removed while blessing.
    pub fn sweep(&mut self, format: &str) {
        let dir = self.root.join(format);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            if self.checked.contains(&path) {
                continue;
            }
            if self.bless {
                std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            } else {
                self.differ.push(format!("{} has no seed", path.display()));
            }
        }
    }

    /// The files found out of date so far.
    pub fn differ(&self) -> &[String] {
        &self.differ
    }

    /// Fails the test when a file was out of date, naming each and `command`,
    /// the one that rewrites them.
    ///
    /// # Panics
    /// When a golden file differs from what was rendered.
    pub fn assert_current(&self, command: &str) {
        assert!(
            self.differ.is_empty(),
            "golden files out of date ({BLESS}=1 {command} rewrites them; read the diff before committing it): {:#?}",
            self.differ
        );
    }
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
