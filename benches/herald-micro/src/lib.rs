//! Per-message costs of Herald, measured with criterion in
//! `benches/per_message.rs`:
//!
//! ```text
//! cargo bench -p herald-micro
//! ```
//!
//! Each benchmark takes one seed event (`tests/fixtures/events/`) through one
//! step a worker performs for every delivery: ingestion (native and
//! CloudEvents), routing (subject patterns and `when`), rendering for each
//! channel, and Standard Webhooks signing. No I/O is measured here; the
//! end-to-end figures come from `herald-bench`.
