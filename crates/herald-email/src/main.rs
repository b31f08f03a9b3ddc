//! `herald-email`: delivers events as email, over SMTP or Microsoft Graph.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    herald_core::binary::worker_main::<herald_email::Email>().await
}
