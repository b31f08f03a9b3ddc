//! `herald-teams`: delivers events to Microsoft Teams.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    herald_core::binary::worker_main::<herald_teams::Teams>().await
}
