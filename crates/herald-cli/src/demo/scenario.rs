//! What the demo configures and publishes: two webhook destinations and a
//! dsops-style rotation lifecycle for `postgres-prod`.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::receiver::Verifier;

/// The destination signed with Standard Webhooks, generic JSON body.
pub(crate) const MONITORING: &str = "monitoring";
/// The destination signed with HMAC-SHA256, dsops payload template.
pub(crate) const DSOPS_HOOK: &str = "dsops-hook";
/// Every destination, in the order they are shown.
pub(crate) const DESTINATIONS: &[&str] = &[MONITORING, DSOPS_HOOK];

/// The fleet configuration the demo runs with. `@...@` markers are replaced by
/// [`config_yaml`]; the secrets are generated for each run and never printed.
const CONFIG: &str = r#"# The configuration `herald demo` runs with.
nats:
  url: "@NATS_URL@"
worker:
  pull_expires: 1s
  shutdown_timeout: 5s
destinations:
  - name: monitoring
    channel: webhook
    events: ["rotation.>"]
    url: "@MONITORING_URL@"
    format: generic
    signing:
      scheme: standard-webhooks
      secret: "@WHSEC@"
    retry: {max_attempts: 3, schedule: [1s]}
  - name: dsops-hook
    channel: webhook
    events: ["rotation.>"]
    url: "@DSOPS_URL@"
    format: template
    template: |
      {
        "event_type": "{{.EventType}}",
        "service": "{{.ServiceName}}",
        "environment": "{{.Environment}}",
        "status": "{{.Status}}",
        "strategy": "{{.Strategy}}",
        "duration_seconds": {{.Duration}},
        "timestamp": "{{.Timestamp}}",
        "rotation_id": "{{.RotationID}}",
        "error": "{{.Error}}"
      }
    signing:
      scheme: hmac-sha256
      secret: "@HMAC_SECRET@"
    retry: {max_attempts: 3, schedule: [1s]}
"#;

/// The signing secrets of one run.
pub(crate) struct Secrets {
    whsec_key: [u8; 32],
    hmac_secret: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

impl Secrets {
    /// Fresh random secrets.
    pub(crate) fn generate() -> Self {
        Self {
            whsec_key: rand::random(),
            hmac_secret: hex::encode(rand::random::<[u8; 32]>()),
        }
    }

    /// The `whsec_` secret given to Herald.
    fn whsec(&self) -> String {
        format!("whsec_{}", STANDARD.encode(self.whsec_key))
    }

    /// How the receiver checks each destination.
    pub(crate) fn verifiers(&self) -> HashMap<String, Verifier> {
        HashMap::from([
            (
                MONITORING.to_string(),
                Verifier::StandardWebhooks {
                    key: self.whsec_key.to_vec(),
                },
            ),
            (
                DSOPS_HOOK.to_string(),
                Verifier::HmacSha256 {
                    key: self.hmac_secret.as_bytes().to_vec(),
                    header: "X-Herald-Signature".into(),
                },
            ),
        ])
    }
}

/// The demo configuration for a server, receiver URLs (by destination) and secrets.
pub(crate) fn config_yaml(
    nats_url: &str,
    url_for: impl Fn(&str) -> String,
    secrets: &Secrets,
) -> String {
    CONFIG
        .replace("@NATS_URL@", nats_url)
        .replace("@MONITORING_URL@", &url_for(MONITORING))
        .replace("@DSOPS_URL@", &url_for(DSOPS_HOOK))
        .replace("@WHSEC@", &secrets.whsec())
        .replace("@HMAC_SECRET@", &secrets.hmac_secret)
}

/// The rotation lifecycle dsops would publish for `postgres-prod`: one run that
/// completes, and one that fails verification, is rolled back, and completes when
/// retried (which resolves its incident and its ticket).
pub(crate) fn lifecycle(now: DateTime<Utc>) -> Vec<(&'static str, Value)> {
    let day = now.format("%Y-%m-%d");
    let version = now.format("%Y-%m-%d-%H%M").to_string();
    let run_ok = format!("rot-{day}-a1f3");
    let run_failed = format!("rot-{day}-b7c9");
    let base = |correlation: &str| {
        json!({
            "source": "dsops",
            "service": "postgres-prod",
            "environment": "production",
            "strategy": "two-key",
            "correlation": correlation,
        })
    };
    let with = |mut doc: Value, extra: Value| {
        if let (Some(d), Value::Object(e)) = (doc.as_object_mut(), extra) {
            d.extend(e);
        }
        doc
    };
    vec![
        (
            "rotation.started",
            with(
                base(&run_ok),
                json!({"fields": {
                    "Environment": "production",
                    "Strategy": "two-key",
                    "Initiated by": "automation (schedule)",
                }}),
            ),
        ),
        (
            "rotation.completed",
            with(
                base(&run_ok),
                json!({
                    "duration_seconds": 45,
                    "fields": {
                        "Environment": "production",
                        "Strategy": "two-key",
                        "Duration": "45s",
                        "New version": version,
                        "Previous version": "marked for deletion (grace period: 24h)",
                    },
                }),
            ),
        ),
        (
            "rotation.failed",
            with(
                base(&run_failed),
                json!({
                    "duration_seconds": 12,
                    "error": "Connection verification failed",
                    "fields": {
                        "Environment": "production",
                        "Error": "Connection verification failed",
                        "Suggestion": "Check database connectivity and credentials",
                        "Rollback": "Automatic rollback initiated",
                    },
                    "links": [{"title": "Runbook", "url": "https://wiki.example.com/runbooks/rotation-failure"}],
                }),
            ),
        ),
        (
            "rotation.rollback",
            with(
                base(&run_failed),
                json!({
                    "duration_seconds": 8,
                    "fields": {
                        "Environment": "production",
                        "Restored": "previous credentials",
                        "Reason": "Connection verification failed",
                    },
                }),
            ),
        ),
        (
            "rotation.completed",
            with(
                base(&run_failed),
                json!({
                    "duration_seconds": 51,
                    "fields": {
                        "Environment": "production",
                        "Strategy": "two-key",
                        "Duration": "51s",
                        "New version": format!("{version}-retry"),
                        "Initiated by": "operator (retry)",
                    },
                }),
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::config::FleetConfig;
    use herald_core::worker::prepare;
    use herald_webhook::Webhook;

    #[test]
    fn the_demo_configuration_builds_and_hides_its_secrets() {
        let secrets = Secrets::generate();
        let yaml = config_yaml(
            "nats://127.0.0.1:4222",
            |d| format!("http://127.0.0.1:9/hooks/{d}"),
            &secrets,
        );
        let config = FleetConfig::from_yaml(&yaml, "<demo>").unwrap();
        let prepared = prepare::<Webhook>(&config, "<demo>").unwrap();
        assert_eq!(prepared.len(), 2);
        for p in &prepared {
            let built = format!("{:?}", p.channel);
            assert!(!built.contains(&secrets.hmac_secret), "{built}");
            assert!(!built.contains(&secrets.whsec()), "{built}");
        }
        assert!(!format!("{secrets:?}").contains(&secrets.hmac_secret));
        assert!(yaml.contains("{{.ServiceName}}"));
    }

    #[test]
    fn the_lifecycle_has_the_four_dsops_events() {
        let events = lifecycle(Utc::now());
        let subjects: Vec<&str> = events.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            subjects,
            [
                "rotation.started",
                "rotation.completed",
                "rotation.failed",
                "rotation.rollback",
                "rotation.completed"
            ]
        );
        assert_eq!(events[4].1["correlation"], events[2].1["correlation"]);
        assert_eq!(events[2].1["error"], "Connection verification failed");
        assert_eq!(events[0].1["service"], "postgres-prod");
    }
}
