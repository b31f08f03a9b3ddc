//! `herald-opsgenie`: delivers events as Opsgenie alerts.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    herald_core::binary::worker_main::<herald_opsgenie::Opsgenie>().await
}
