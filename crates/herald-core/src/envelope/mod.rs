//! The Herald event envelope: what publishers send and what channels render.
//!
//! Publishers may send as little as `{"id": "..."}`; [`ingest`] fills in the rest
//! (type from the subject, time from the publish time, severity, title and summary
//! derived from the type and resource), so channels always see a complete envelope.

mod cloudevents;
mod derive;
mod ingest;
mod model;
mod schema;

pub use derive::{derive_severity, derive_title, humanize};
pub use ingest::{IngestError, IngestErrorKind, IngestLimits, RawEvent, ingest, json_kind};
pub use model::{Envelope, EventField, Link, Severity};
pub use schema::envelope_schema;
