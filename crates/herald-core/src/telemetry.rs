//! Logging and trace set-up shared by every binary.
//!
//! Logs are structured; `HERALD_LOG` (or `RUST_LOG`) sets the filter, default
//! `info`. Secrets are never logged, and recipient addresses only at debug.
//!
//! Traces are off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then a worker exports its
//! delivery spans over OTLP/HTTP (protobuf) with a batch processor. The SDK
//! reads the other standard variables itself (`OTEL_SERVICE_NAME`,
//! `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, ...); the service name defaults to
//! `herald-<channel>`. Only spans with the target [`TRACE_TARGET`] are
//! exported, and they are at debug level, so with traces off and the default
//! log filter they are never even created.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The `tracing` target of the spans exported as OpenTelemetry traces.
pub const TRACE_TARGET: &str = "herald::trace";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the trace exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the OTLP trace exporter: {0}")]
pub struct TraceSetupError(#[from] opentelemetry_otlp::ExporterBuildError);

/// The installed trace pipeline; [`Traces::shutdown`] flushes it.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Exports the spans still buffered, then stops the exporter. Blocks for
    /// at most the exporter's timeout: call it from a blocking context.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::debug!(error = %e, "Trace exporter shutdown failed.");
        }
    }
}

/// Installs the global subscriber, writing to standard error. Calling it twice is harmless.
pub fn init(format: LogFormat) {
    install(format, None);
}

/// Installs the global subscriber like [`init`] and, when an OTLP endpoint is
/// configured, the trace exporter. `channel` names the default service
/// (`herald-<channel>`). Returns the pipeline to shut down on exit, or `None`
/// when traces are off (or could not be set up, which is logged).
pub fn init_worker(format: LogFormat, channel: &str) -> Option<Traces> {
    if !traces_configured(|k| std::env::var(k).ok()) {
        init(format);
        return None;
    }
    match provider(channel) {
        Ok(provider) => {
            install(format, Some(&provider));
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            opentelemetry::global::set_tracer_provider(provider.clone());
            Some(Traces { provider })
        }
        Err(e) => {
            init(format);
            tracing::warn!(error = %e, "Traces are off.");
            None
        }
    }
}

/// A producer span for publishing on `subject`, and the W3C `traceparent` that
/// makes the consumers' spans its children. The `traceparent` is `None` when
/// traces are off (the caller then starts a trace of its own). Keep the span
/// until the publish is acknowledged: its end is the publish's end.
pub fn publish_span(subject: &str) -> (tracing::Span, Option<String>) {
    use opentelemetry::propagation::TextMapPropagator as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::debug_span!(
        target: TRACE_TARGET,
        "publish",
        otel.name = %format_args!("{subject} publish"),
        otel.kind = "producer",
        messaging.system = "nats",
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = %subject,
    );
    if span.is_disabled() {
        return (span, None);
    }
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    let traceparent = carrier.remove("traceparent");
    (span, traceparent)
}

/// True when an OTLP endpoint for traces is set (and not empty).
pub fn traces_configured(get: impl Fn(&str) -> Option<String>) -> bool {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|k| get(k).is_some_and(|v| !v.trim().is_empty()))
}

/// The OTLP/HTTP exporter behind a batch processor; the endpoint, headers,
/// sampler and batch settings come from the standard environment variables.
fn provider(channel: &str) -> Result<SdkTracerProvider, TraceSetupError> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()?;
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.trim().is_empty()) {
        resource = resource.with_service_name(format!("herald-{channel}"));
    }
    Ok(SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_batch_exporter(exporter)
        .build())
}

fn install(format: LogFormat, provider: Option<&SdkTracerProvider>) {
    let filter = std::env::var("HERALD_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.boxed(),
        LogFormat::Json => logs.json().boxed(),
    };
    let traces = provider.map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("herald"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(Targets::new().with_target(TRACE_TARGET, Level::TRACE))
    });
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_need_an_endpoint() {
        assert!(!traces_configured(|_| None));
        assert!(!traces_configured(|_| Some(" ".into())));
        assert!(traces_configured(|k| {
            (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://127.0.0.1:4318".into())
        }));
        assert!(traces_configured(|k| {
            (k == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                .then(|| "http://127.0.0.1:4318/v1/traces".into())
        }));
    }
}
