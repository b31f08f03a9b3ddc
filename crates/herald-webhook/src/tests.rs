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

/// Rotation: with two active secrets each request carries two signatures,
/// and each verifies on its own. The first is checked against the official
/// Standard Webhooks vector; the second against an HMAC computed here.
#[test]
fn several_secrets_sign_the_same_request_each() {
    use base64::Engine as _;
    use hmac::Mac as _;
    let raw = include_str!("../../../tests/fixtures/standard-webhooks-vectors.json");
    let doc: serde_json::Value = serde_json::from_str(raw).unwrap();
    let (v0, v1) = (&doc["vectors"][0], &doc["vectors"][1]);
    let (old, new) = (
        v0["secret"].as_str().unwrap(),
        v1["secret"].as_str().unwrap(),
    );
    let payload = v0["payload"].as_str().unwrap();
    let w = build(&format!(
        "    url: https://example.com/hook\n    format: template\n    template: '{payload}'\n    signing: {{scheme: standard-webhooks, secrets: [\"{old}\", {{from: {{env: HERALD_WEBHOOK_TEST_NEW_KEY}}}}]}}\n"
    ));
    // The second key comes from the environment; without it the build names it.
    let e = w.unwrap_err();
    assert!(
        e.contains("signing.secrets[1]") && e.contains("HERALD_WEBHOOK_TEST_NEW_KEY"),
        "{e}"
    );
    let w = build(&format!(
        "    url: https://example.com/hook\n    format: template\n    template: '{payload}'\n    signing: {{scheme: standard-webhooks, secrets: [\"{old}\", \"{new}\"]}}\n"
    ))
    .unwrap();
    let ctx = DeliveryContext {
        idempotency_key: v0["msg_id"].as_str().unwrap().into(),
        now: chrono::DateTime::from_timestamp(v0["timestamp"].as_i64().unwrap(), 0).unwrap(),
        ..ctx()
    };
    let req = w.render(&event(), &ctx).unwrap();
    assert_eq!(std::str::from_utf8(&req.body).unwrap(), payload);
    let header = req.header("webhook-signature").unwrap();
    let sigs: Vec<&str> = header.split(' ').collect();
    assert_eq!(sigs.len(), 2, "{header}");
    assert_eq!(sigs[0], v0["expected_signature"].as_str().unwrap());
    let key = base64::engine::general_purpose::STANDARD
        .decode(new.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}.{}.{payload}",
            v0["msg_id"].as_str().unwrap(),
            v0["timestamp"]
        )
        .as_bytes(),
    );
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(sigs[1], format!("v1,{expected}"));
    assert_ne!(sigs[0], sigs[1]);
}

#[test]
fn signing_needs_exactly_one_of_secret_or_secrets() {
    let e = build("    url: https://x\n    signing: {scheme: standard-webhooks}\n").unwrap_err();
    assert!(
        e.contains("destinations[hook].signing") && e.contains("`secrets`"),
        "{e}"
    );
    let e = build(
        "    url: https://x\n    signing: {scheme: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]}\n",
    )
    .unwrap_err();
    assert!(e.contains("not both"), "{e}");
    let e = build("    url: https://x\n    signing: {scheme: hmac-sha256, secrets: [a, b]}\n")
        .unwrap_err();
    assert!(e.contains("hmac-sha256 carries one signature"), "{e}");
}
