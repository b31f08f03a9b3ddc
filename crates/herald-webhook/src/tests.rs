use super::*;
use herald_testkit::{at, envelope, example_settings, try_destination};

fn build(yaml_tail: &str) -> Result<Webhook, String> {
    try_destination("hook", yaml_tail)
}

fn ctx() -> DeliveryContext {
    DeliveryContext {
        destination: "hook".into(),
        idempotency_key: "msg_abc".into(),
        attempt: 1,
        now: at("2025-12-09T14:30:00Z"),
        memory: herald_core::memory::Memory::local(),
    }
}

fn event() -> Envelope {
    envelope(
        "rotation.failed",
        br#"{"id":"e1","service":"pg","error":"x"}"#,
        chrono::Utc::now(),
    )
}

#[test]
fn standard_webhooks_headers_verify() {
    let w = build(
        "    url: https://example.com/hook?token=abc\n    signing: {scheme: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\n",
    )
    .unwrap();
    let req = w.render(&event(), &ctx()).unwrap();
    assert_eq!(req.header("webhook-id"), Some("msg_abc"));
    assert_eq!(req.header("webhook-timestamp"), Some("1765290600"));
    let key = StandardWebhooksKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert_eq!(
        req.header("webhook-signature"),
        Some(key.sign("msg_abc", 1_765_290_600, &req.body).as_str())
    );
    let preview = w.preview(&req);
    assert_eq!(preview.target, "https://example.com/…");
    assert!(!format!("{preview:?}").contains("token=abc"));
}

#[test]
fn hmac_header_name_is_configurable() {
    let w = build(
        "    url: http://127.0.0.1:9/x\n    headers: {Authorization: Bearer t0k3n, X-Team: sre}\n    signing: {scheme: hmac-sha256, secret: k, header: X-Headwind-Signature}\n",
    )
    .unwrap();
    let req = w.render(&event(), &ctx()).unwrap();
    assert_eq!(
        req.header("X-Headwind-Signature"),
        Some(hmac_sha256_hex(b"k", &req.body).as_str())
    );
    let preview = format!("{:?}", w.preview(&req));
    assert!(!preview.contains("t0k3n"), "{preview}");
    assert!(preview.contains("sre"), "{preview}");
}

#[test]
fn build_errors_name_the_field_and_line() {
    let e = build("    url: ftp://x\n").unwrap_err();
    assert!(e.starts_with("f.yaml:5:"), "{e}");
    assert!(e.contains("destinations[hook].url"), "{e}");
    let e = build("    url: https://x\n    format: template\n").unwrap_err();
    assert!(e.contains("needs a `template`"), "{e}");
    let e =
        build("    url: https://x\n    format: template\n    template: \"{{ oops\"\n").unwrap_err();
    assert!(e.contains("f.yaml:7:") && e.contains("template"), "{e}");
    let e =
        build("    url: https://x\n    signing: {scheme: standard-webhooks, secret: \"whsec_\"}\n")
            .unwrap_err();
    assert!(e.contains("signing.secret"), "{e}");
    let e = build("    url: {from: {env: HERALD_TEST_SURELY_UNSET}}\n").unwrap_err();
    assert!(e.contains("HERALD_TEST_SURELY_UNSET"), "{e}");
    let e = build("    url: https://x\n    method: DELETE\n").unwrap_err();
    assert!(e.contains("f.yaml:6:"), "{e}");
}

#[test]
fn template_errors_are_render_errors() {
    let w = build("    url: https://x\n    format: template\n    template: '{\"e\": \"{{ data.missing.deeper }}\"}'\n").unwrap();
    let err = w.render(&event(), &ctx()).unwrap_err();
    assert!(err.0.contains("template"), "{err}");
}

#[test]
fn env_only_configuration() {
    let vars = [("WEBHOOK_URL", "https://x/y"), ("WEBHOOK_MAX_RETRIES", "3")];
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_string())
    };
    let d = Webhook::env_destination(&get).unwrap();
    assert_eq!(d["retry"]["max_attempts"], 4);
    assert_eq!(d["url"]["from"]["env"], "WEBHOOK_URL");
    assert!(Webhook::env_destination(&|_| None).is_none());
}

/// The example configuration shipped in `deploy/config` stays valid.
#[test]
fn the_example_configuration_parses() {
    assert_eq!(example_settings::<WebhookSettings>("webhook").len(), 4);
}
