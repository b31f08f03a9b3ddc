//! `herald-pagerduty`: delivers events to PagerDuty.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    herald_core::binary::worker_main::<herald_pagerduty::PagerDuty>().await
}
