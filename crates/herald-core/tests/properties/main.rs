//! Property tests of everything that reads untrusted or hand-written input:
//! event ingestion (native and CloudEvents), the configuration loader and
//! template rendering. No input may panic, and none may take long: each case
//! runs under a deadline ([`bounded`]), so a hang fails the test instead of
//! stalling it.
//!
//! Each target also replays its committed corpus in
//! `tests/fixtures/corpus/<target>/` (inputs that once mattered, kept as
//! plain files), and proptest keeps the seeds of any failure it finds in
//! `proptest-regressions/` beside these files, replayed first on every run.
//!
//! The case count per property is proptest's default (256) so the suite
//! stays quick; a long campaign sets `PROPTEST_CASES`, e.g.
//! `PROPTEST_CASES=100000 cargo test -p herald-core --test properties --release`.

mod bounded;
mod cloudevents;
mod config;
mod envelope;
mod template;
