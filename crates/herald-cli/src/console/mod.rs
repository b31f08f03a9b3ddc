//! `herald console`: a web page where operators look at the fleet and act on
//! it. The configuration stays in its file; the console reads it once.
//!
//! One axum server: a JSON API under `/api/` and one static page (plain HTML,
//! CSS and JavaScript, embedded in the binary with Microsoft's `adaptivecards`
//! renderer). It shares its work with the commands: the rows of `herald
//! status`, the preview of `herald render`, the send of `herald test`, the
//! dead letters of `herald dlq`. Live deliveries come from the workers' feed
//! (`herald_core::feed`).
//!
//! - [`access`]: who may use it (loopback, token, basic auth), CSRF and
//!   response headers.
//! - [`api`]: destinations, test sends and previews.
//! - [`dlq`]: browsing, replaying and purging dead letters.
//! - [`deliveries`]: the last feed entries, kept in memory.
//! - [`assets`]: the embedded page.
//! - [`seeds`]: the sample events built into the preview.
//! - [`error`]: API errors as JSON.

mod access;
mod api;
mod assets;
mod deliveries;
mod dlq;
mod error;
mod seeds;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use async_nats::jetstream;
use axum::Router;
use axum::routing::{get, post};
use herald_core::config::FleetConfig;
use herald_core::jetstream::connect;
use tokio::net::TcpListener;
use tracing::info;

use crate::ops::load_or_report;
pub(crate) use access::Access;
use deliveries::Deliveries;

/// Options of `herald console`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The fleet configuration file.
    #[arg(long, env = "HERALD_CONFIG", value_name = "FILE")]
    config: PathBuf,
    /// Where to serve the console. Any address but loopback needs --token or --basic-auth.
    #[arg(
        long,
        env = "HERALD_CONSOLE_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    listen: SocketAddr,
    /// A token every request must carry: `Authorization: Bearer <token>`, or
    /// as the password of basic auth (any user name) from a browser.
    #[arg(long, env = "HERALD_CONSOLE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Basic-auth credentials every request must carry, `user:password`; the
    /// user is named in the log of every action.
    #[arg(
        long,
        env = "HERALD_CONSOLE_BASIC_AUTH",
        value_name = "USER:PASSWORD",
        hide_env_values = true
    )]
    basic_auth: Option<String>,
    /// Jaeger's UI (`http://localhost:16686`): live deliveries link to `<url>/trace/<trace id>`.
    #[arg(long, env = "HERALD_JAEGER_URL", value_name = "URL")]
    jaeger_url: Option<String>,
    /// How many recent deliveries to keep for the live view.
    #[arg(long, value_name = "N", default_value_t = 200)]
    keep_deliveries: usize,
}

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct Console {
    /// The fleet configuration, as loaded at start.
    pub(crate) config: FleetConfig,
    /// Its file name, for messages.
    pub(crate) file: String,
    /// JetStream on the fleet's NATS.
    pub(crate) js: jetstream::Context,
    /// Recent deliveries from the feed.
    pub(crate) deliveries: Arc<Deliveries>,
    /// Jaeger's UI, without a trailing `/`.
    pub(crate) jaeger_url: Option<String>,
}

impl Console {
    /// Connects to the fleet's NATS and starts following the feed.
    pub(crate) async fn start(
        config: FleetConfig,
        file: String,
        jaeger_url: Option<String>,
        keep_deliveries: usize,
    ) -> anyhow::Result<Arc<Self>> {
        let client = connect(&config.nats, "herald-console")
            .await
            .context("connecting to NATS")?;
        let deliveries = Deliveries::follow(&client, &config.status, keep_deliveries).await?;
        Ok(Arc::new(Self {
            js: jetstream::new(client),
            config,
            file,
            deliveries,
            jaeger_url,
        }))
    }
}

/// The console's routes, behind its access checks.
pub(crate) fn router(console: Arc<Console>, access: Access) -> Router {
    let api = Router::new()
        .route("/api/info", get(api::info))
        .route("/api/destinations", get(api::destinations))
        .route("/api/destinations/{name}/test", post(api::test))
        .route("/api/preview", post(api::preview))
        .route("/api/dlq", get(dlq::list))
        .route("/api/dlq/replay", post(dlq::replay_destination))
        .route("/api/dlq/purge", post(dlq::purge))
        .route("/api/dlq/{seq}/replay", post(dlq::replay_one))
        .route("/api/deliveries", get(deliveries::recent))
        .with_state(console);
    api.merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(access),
            access::guard,
        ))
}

/// `http://localhost:16686/` → `http://localhost:16686`; only http(s) URLs.
fn jaeger_url(given: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(url) = given.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--jaeger-url `{url}` is not an http:// or https:// URL");
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

/// Runs `herald console` until Ctrl-C (or SIGTERM).
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let access = Access::new(args.token.as_deref(), args.basic_auth.as_deref())?;
    access.allows_listening_on(args.listen)?;
    let jaeger = jaeger_url(args.jaeger_url.as_deref())?;
    let file = args.config.display().to_string();
    let Some(config) = load_or_report(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let console = Console::start(config, file, jaeger, args.keep_deliveries.max(1)).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener.local_addr().unwrap_or(args.listen);
    info!(address = %bound, auth = access.describe(), "Serving the Herald console.");
    println!("Herald console: http://{bound}/");
    axum::serve(listener, router(console, access))
        .with_graceful_shutdown(herald_core::binary::stop_signal())
        .await
        .context("serving the console")?;
    Ok(ExitCode::SUCCESS)
}
