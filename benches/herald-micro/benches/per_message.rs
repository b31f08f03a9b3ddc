//! Criterion benchmarks of what a worker does for every delivery, one step at a
//! time, on seed events. `cargo bench -p herald-micro`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use herald_core::config::FleetConfig;
use herald_core::envelope::{IngestLimits, RawEvent, ingest};
use herald_core::memory::Memory;
use herald_core::routing::SubjectPattern;
use herald_core::{Channel, DeliveryContext, Envelope};
use herald_testkit::{at, destination, seed_envelope, seed_event};

const NOW: &str = "2026-11-23T14:30:05Z";

fn ctx(event: &Envelope) -> DeliveryContext {
    let mut c = DeliveryContext::one_off("bench", &event.id, at(NOW));
    c.memory = Memory::local().scoped("bench");
    c
}

fn ingestion(c: &mut Criterion) {
    let seed = seed_event("dsops-rotation.failed");
    let native = seed.payload();
    let hostile_seed = seed_event("hostile-injection");
    let hostile = hostile_seed.payload();
    let mut cloud: serde_json::Value = serde_json::json!({
        "specversion": "1.0", "id": "ce-1", "source": "dsops",
        "type": "rotation.failed", "time": "2026-11-23T14:30:00Z",
        "datacontenttype": "application/json",
    });
    cloud["data"] = seed.json.clone();
    let cloud = serde_json::to_vec(&cloud).unwrap_or_default();
    let published = at(NOW);
    let mut g = c.benchmark_group("ingest");
    for (name, subject, payload) in [
        ("native", seed.subject.as_str(), &native),
        ("cloudevents", "rotation.failed", &cloud),
        ("hostile", hostile_seed.subject.as_str(), &hostile),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let raw = RawEvent {
                    subject,
                    payload: black_box(payload),
                    headers: None,
                    published,
                };
                black_box(ingest(&raw, IngestLimits::default()).ok())
            });
        });
    }
    g.finish();
}

fn routing(c: &mut Criterion) {
    let patterns: Vec<SubjectPattern> = ["rotation.>", "*.failed", "update.completed", "cert.*"]
        .iter()
        .filter_map(|p| SubjectPattern::parse(p).ok())
        .collect();
    let yaml = "destinations:\n  - name: d\n    channel: webhook\n    events: [\"rotation.>\"]\n    url: https://x.example.com\n    when: {severity_at_least: warning, environment: [production, staging], fields.Strategy: two-key}\n";
    let when = FleetConfig::from_yaml(yaml, "f.yaml")
        .map(|c| c.destinations[0].value.when.clone())
        .unwrap_or_default();
    let event = seed_envelope(&seed_event("dsops-rotation.failed"), at(NOW));
    let mut g = c.benchmark_group("route");
    g.bench_function("patterns", |b| {
        b.iter(|| {
            patterns
                .iter()
                .filter(|p| p.matches(black_box("rotation.failed")))
                .count()
        });
    });
    g.bench_function("when", |b| b.iter(|| when.matches(black_box(&event))));
    g.finish();
}

fn render<C: Channel>(c: &mut Criterion, label: &str, keys: &str, seed: &str) {
    let channel: C = destination("bench", keys);
    let event = seed_envelope(&seed_event(seed), at(NOW));
    let context = ctx(&event);
    c.bench_function(&format!("render/{label}"), |b| {
        b.iter(|| black_box(channel.render(black_box(&event), &context).is_ok()));
    });
}

fn rendering(c: &mut Criterion) {
    let seed = "dsops-rotation.failed";
    render::<herald_webhook::Webhook>(
        c,
        "webhook",
        "    url: https://hooks.example.com/herald\n    format: envelope\n",
        seed,
    );
    render::<herald_webhook::Webhook>(
        c,
        "webhook+standard-webhooks",
        "    url: https://hooks.example.com/herald\n    format: envelope\n    signing: {scheme: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\n",
        seed,
    );
    render::<herald_webhook::Webhook>(
        c,
        "webhook+template",
        "    url: https://hooks.example.com/herald\n    format: template\n    template: '{\"text\": \"{{.Title}} on {{.Service}}\", \"severity\": \"{{ severity }}\"}'\n",
        seed,
    );
    render::<herald_slack::Slack>(
        c,
        "slack",
        "    webhook_url: https://hooks.slack.com/services/T1/B2/xyz\n",
        seed,
    );
    render::<herald_teams::Teams>(c, "teams", "    url: https://x.logic.azure.com/w\n", seed);
    render::<herald_discord::Discord>(
        c,
        "discord",
        "    webhook_url: https://discord.com/api/webhooks/1/tok\n",
        seed,
    );
    render::<herald_pagerduty::PagerDuty>(
        c,
        "pagerduty",
        "    routing_key: R0UT1NGKEY0000000000000000000000\n",
        seed,
    );
    render::<herald_opsgenie::Opsgenie>(c, "opsgenie", "    api_key: k\n", seed);
    render::<herald_jira::Jira>(
        c,
        "jira",
        "    base_url: https://acme.atlassian.net\n    email: ops@example.com\n    api_token: t0k3n\n    project_key: SEC\n",
        seed,
    );
    render::<herald_email::Email>(
        c,
        "email",
        "    from: Herald <herald@example.com>\n    to: [ops@example.com]\n    smtp: {host: smtp.example.com}\n",
        seed,
    );
    render::<herald_slack::Slack>(
        c,
        "slack/hostile",
        "    webhook_url: https://hooks.slack.com/services/T1/B2/xyz\n",
        "hostile-injection",
    );
}

criterion_group!(benches, ingestion, routing, rendering);
criterion_main!(benches);
