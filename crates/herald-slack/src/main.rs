//! `herald-slack`: delivers events to Slack.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    herald_core::binary::worker_main::<herald_slack::Slack>().await
}
