//! Crate-level tests of the Opsgenie channel: the bodies rendered for every
//! seed event, compared with golden files and checked against Opsgenie's
//! schema and limits; and sends against a local server that answers as
//! Opsgenie documents.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers too: a panic is the clearest failure message"
)]

mod fake_opsgenie;
mod golden;
mod send;
mod support;
