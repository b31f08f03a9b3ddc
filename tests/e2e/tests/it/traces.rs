//! Traces: a worker continues the publisher's W3C trace and exports a
//! `process` span per delivery and a `send` span per attempt over OTLP/HTTP,
//! checked with a real OTLP receiver on loopback.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result};
use async_nats::HeaderMap;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::post;
use herald_testkit::{
    NatsServer, Receiver, Reply, WorkerCommand, event, publish_with_headers, wait_until, webhook,
    write_fleet_config,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use serde_json::json;

use crate::support::{SOON, spawn_ready};

/// The publisher's trace and span, as `herald publish` would send them.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP (protobuf) trace receiver that keeps every span it is sent.
#[derive(Clone, Default)]
struct OtlpReceiver {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

impl OtlpReceiver {
    /// Serves `POST /v1/traces` on a free loopback port; returns the base URL.
    async fn start(&self) -> Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/v1/traces", post(export))
            .with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{addr}"))
    }

    /// Every span received so far, with its resource's `service.name`.
    fn spans(&self) -> Vec<(String, Span)> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn export(
    State(receiver): State<OtlpReceiver>,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    let protobuf = [(header::CONTENT_TYPE, "application/x-protobuf")];
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, protobuf, Vec::new());
    };
    let mut spans = receiver
        .spans
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
            .and_then(|a| a.value.as_ref()?.value.as_ref())
            .and_then(|v| match v {
                Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            spans.extend(scope_spans.spans.into_iter().map(|s| (service.clone(), s)));
        }
    }
    (
        StatusCode::OK,
        protobuf,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
}

fn int_attr(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key)? {
        Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

fn str_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key)? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_delivery_continues_the_publishers_trace() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    receiver.push(Reply::status(503).body("try later"));
    let otlp = OtlpReceiver::default();
    let otlp_url = otlp.start().await?;
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("traced", &receiver.url(), &["rotation.>"])],
    )?;
    let cmd = WorkerCommand::webhook(config.path())
        .env("NATS_URL", &nats.url())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp_url)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    let js = nats.jetstream().await?;
    let worker = spawn_ready(&cmd, &js, "webhook", &[("traced", "rotation.>")]).await?;

    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01").as_str(),
    );
    publish_with_headers(
        &js,
        "rotation.failed",
        Some("t-1"),
        headers,
        event("t-1", &json!({})),
    )
    .await?;
    receiver.wait_for(2, SOON).await?;
    wait_until(
        SOON,
        "two send spans and two process spans exported",
        || {
            let spans = otlp.spans();
            async move {
                let count = |name: &str| spans.iter().filter(|(_, s)| s.name == name).count();
                count("webhook send") >= 2 && count("rotation.failed process") >= 2
            }
        },
    )
    .await
    .with_context(|| format!("worker stderr:\n{}", worker.stderr()))?;

    let spans = otlp.spans();
    let trace_id = hex::decode(TRACE_ID)?;
    let parent_span_id = hex::decode(PARENT_SPAN_ID)?;
    let mut process: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == "rotation.failed process")
        .collect();
    assert_eq!(process.len(), 2, "one process span per delivery");
    for (service, s) in &spans {
        assert_eq!(service, "herald-webhook", "default service name");
        assert_eq!(
            s.trace_id, trace_id,
            "{} is in the publisher's trace",
            s.name
        );
    }
    for p in &process {
        assert_eq!(p.parent_span_id, parent_span_id, "child of the publisher");
        assert_eq!(p.kind, SpanKind::Consumer as i32);
        assert_eq!(str_attr(p, "messaging.system"), Some("nats"));
        assert_eq!(
            str_attr(p, "messaging.destination.name"),
            Some("rotation.failed")
        );
        assert!(str_attr(p, "messaging.consumer.group.name").is_some());
        assert_eq!(str_attr(p, "herald.destination"), Some("traced"));
        assert_eq!(str_attr(p, "herald.channel"), Some("webhook"));
    }

    let mut sends: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == "webhook send")
        .collect();
    sends.sort_by_key(|s| int_attr(s, "herald.attempt"));
    assert_eq!(sends.len(), 2, "one send span per attempt");
    // Each attempt is a child of the process span of its own delivery.
    process.sort_by_key(|p| p.start_time_unix_nano);
    for (send, p) in sends.iter().zip(&process) {
        assert_eq!(send.parent_span_id, p.span_id, "send is a child of process");
        assert_eq!(send.kind, SpanKind::Client as i32);
        assert_eq!(str_attr(send, "herald.destination"), Some("traced"));
        assert_eq!(str_attr(send, "herald.channel"), Some("webhook"));
    }
    let first = sends[0];
    assert_eq!(int_attr(first, "herald.attempt"), Some(1));
    assert_eq!(int_attr(first, "http.response.status_code"), Some(503));
    assert_eq!(str_attr(first, "herald.outcome"), Some("retry"));
    assert!(
        int_attr(first, "herald.retry_delay_ms").is_some_and(|ms| ms >= 1_000),
        "retry delay recorded"
    );
    let second = sends[1];
    assert_eq!(int_attr(second, "herald.attempt"), Some(2));
    assert_eq!(int_attr(second, "http.response.status_code"), Some(200));
    assert_eq!(str_attr(second, "herald.outcome"), Some("delivered"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_publish_is_the_parent_of_the_delivery() -> Result<()> {
    let nats = NatsServer::start().await?;
    let receiver = Receiver::start().await?;
    let otlp = OtlpReceiver::default();
    let otlp_url = otlp.start().await?;
    let config = write_fleet_config(
        &nats.url(),
        &[webhook("traced", &receiver.url(), &["rotation.>"])],
    )?;
    let cmd = WorkerCommand::webhook(config.path())
        .env("NATS_URL", &nats.url())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp_url)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    let js = nats.jetstream().await?;
    let worker = spawn_ready(&cmd, &js, "webhook", &[("traced", "rotation.>")]).await?;

    let herald = herald_testkit::binary("herald")?;
    let out = tokio::process::Command::new(herald)
        .args([
            "publish",
            "rotation.failed",
            "--set",
            "resource=postgres-prod",
        ])
        .env("NATS_URL", nats.url())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp_url)
        .env_remove("OTEL_SERVICE_NAME")
        .kill_on_drop(true)
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "herald publish failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    receiver.wait_for(1, SOON).await?;
    wait_until(SOON, "the publish and process spans exported", || {
        let spans = otlp.spans();
        async move {
            let has = |name: &str| spans.iter().any(|(_, s)| s.name == name);
            has("rotation.failed publish") && has("rotation.failed process")
        }
    })
    .await
    .with_context(|| format!("worker stderr:\n{}", worker.stderr()))?;

    let spans = otlp.spans();
    let find = |name: &str| spans.iter().find(|(_, s)| s.name == name);
    let (Some((publisher, publish)), Some((_, process))) = (
        find("rotation.failed publish"),
        find("rotation.failed process"),
    ) else {
        anyhow::bail!("spans missing");
    };
    assert_eq!(
        publisher, "herald-publish",
        "the CLI's default service name"
    );
    assert_eq!(publish.kind, SpanKind::Producer as i32);
    assert_eq!(str_attr(publish, "messaging.system"), Some("nats"));
    assert_eq!(process.trace_id, publish.trace_id, "one trace");
    assert_eq!(
        process.parent_span_id, publish.span_id,
        "the delivery is a child of the publish"
    );
    Ok(())
}
