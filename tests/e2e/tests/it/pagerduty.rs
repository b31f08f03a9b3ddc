//! End-to-end tests of the pagerduty worker (being written).
