//! Running one case under a deadline, and reading a corpus.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// How long one case may take. Generous: the CI machine is small and busy.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// Runs `f` on its own thread and returns its result, or panics naming
/// `what` when it takes longer than [`DEADLINE`] (a hang). A panic inside
/// `f` is re-raised here with its message.
pub(crate) fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("bounded-case".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("a thread for the case");
    match rx.recv_timeout(DEADLINE) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {DEADLINE:?}: a hang")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the case thread ended without a result or a panic"),
        },
    }
}

/// Every file of `tests/fixtures/corpus/<target>/`, as `(name, bytes)`, sorted.
pub(crate) fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&path).expect("a corpus file");
            (name, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the {target} corpus is empty");
    files
}
