//! `herald-discord`: delivers events to Discord.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    herald_core::binary::worker_main::<herald_discord::Discord>().await
}
