//! End-to-end tests of the discord worker (being written).
