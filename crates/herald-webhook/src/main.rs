//! `herald-webhook`: delivers events to generic webhooks.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    herald_core::binary::worker_main::<herald_webhook::Webhook>().await
}
