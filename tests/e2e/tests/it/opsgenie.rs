//! End-to-end tests of the opsgenie worker (being written).
