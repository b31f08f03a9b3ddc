//! End-to-end tests of the jira worker (being written).
