//! Herald's fault-injection suite: real processes (`nats-server`, the
//! `herald-webhook` worker, the `herald` command) and HTTP receivers on
//! loopback, faults injected under load, and the figures of each run: events
//! published, delivered, lost, duplicated (and whether every duplicate carried
//! the same `webhook-id`), dead-lettered, time to drain, plus each scenario's
//! own. Every scenario checks its invariants and fails when one breaks.
//!
//! `cargo run --release -p herald-faults -- --full` runs the published form;
//! `tests/short.rs` runs the short form under `cargo test`.
//!
//! # Layout
//! - [`scale`]: [`Scale`], the short (CI) or full size of every load.
//! - [`figures`]: [`Figures`], a scenario's outcome as a text or Markdown table.
//! - [`tally`]: [`Tally`], a receiver's requests grouped by event: delivered,
//!   missing, duplicated, same key, per replica; [`percentile`].
//! - [`rig`]: [`Rig`], a nats-server with a fleet configuration of signed
//!   webhook destinations, worker processes started from it, the publisher.
//! - [`scenarios`]: one module per scenario; [`Scenario`] names and runs them.

pub mod figures;
pub mod rig;
pub mod scale;
pub mod scenarios;
pub mod tally;

pub use figures::Figures;
pub use rig::Rig;
pub use scale::Scale;
pub use scenarios::Scenario;
pub use tally::{Tally, percentile};
