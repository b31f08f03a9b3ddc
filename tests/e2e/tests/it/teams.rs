//! End-to-end tests of the teams worker (being written).
