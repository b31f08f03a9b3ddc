//! End-to-end tests of the slack worker (being written).
