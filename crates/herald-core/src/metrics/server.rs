//! The worker's HTTP endpoints: `/metrics`, `/healthz` and `/readyz`.
//!
//! `/healthz` answers 200 while the process serves requests at all (a liveness
//! probe); `/readyz` answers 200 only while every consumer is bound and the NATS
//! connection is up, and 503 with the reason otherwise (a readiness probe).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Monitor;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The metrics address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for metrics and health (`worker.metrics_listen`): {message}")]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// Why.
    pub message: String,
}

/// Binds the endpoints' address (port 0 picks a free port).
///
/// # Errors
/// [`BindError`] when the address is taken or not local.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|e| BindError {
        addr,
        message: e.to_string(),
    })
}

/// The endpoints as a router.
pub fn router(monitor: Monitor) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(monitor)
}

/// Serves the endpoints on `listener` until `stop` is cancelled.
pub async fn serve(listener: TcpListener, monitor: Monitor, stop: CancellationToken) {
    let served = axum::serve(listener, router(monitor))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "The metrics server stopped.");
    }
}

async fn metrics(State(m): State<Monitor>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.metrics.encode())
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(m): State<Monitor>) -> (StatusCode, String) {
    match m.health.not_ready() {
        None => (StatusCode::OK, "ready\n".to_owned()),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}
