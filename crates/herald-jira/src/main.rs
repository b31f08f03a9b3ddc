//! `herald-jira`: delivers events as Jira Cloud issues.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    herald_core::binary::worker_main::<herald_jira::Jira>().await
}
