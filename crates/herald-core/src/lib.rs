//! Herald's core: everything a channel worker shares.
//!
//! # Layout
//! - [`envelope`]: the event envelope, and turning NATS messages (native or
//!   CloudEvents) into envelopes.
//! - [`config`]: the fleet configuration file, secrets, durations.
//! - [`routing`]: NATS subject patterns.

pub mod config;
pub mod envelope;
pub mod routing;
