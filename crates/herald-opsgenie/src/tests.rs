use super::*;
use herald_testkit::{at, envelope, http_reply as reply, try_destination};

fn build(yaml_tail: &str) -> Result<Opsgenie, String> {
    try_destination("og", yaml_tail)
}

fn ctx() -> DeliveryContext {
    DeliveryContext::one_off("og", "e1", at("2026-11-23T15:00:00Z"))
}

fn event(subject: &str, body: &str) -> Envelope {
    envelope(subject, body.as_bytes(), at("2026-11-23T14:30:00Z"))
}

#[test]
fn the_region_picks_the_endpoint_and_api_url_wins() {
    let e = event("rotation.failed", r#"{"id":"e1","correlation":"rot/1 a"}"#);
    let us = build("    api_key: k\n").unwrap();
    let req = us.render(&e, &ctx()).unwrap();
    assert_eq!(req.url.as_str(), "https://api.opsgenie.com/v2/alerts");
    let eu = build("    api_key: k\n    region: eu\n").unwrap();
    assert_eq!(
        eu.render(&e, &ctx()).unwrap().url.as_str(),
        "https://api.eu.opsgenie.com/v2/alerts"
    );
    let local =
        build("    api_key: k\n    region: eu\n    api_url: http://127.0.0.1:9/og/\n").unwrap();
    assert_eq!(
        local.render(&e, &ctx()).unwrap().url.as_str(),
        "http://127.0.0.1:9/og/v2/alerts"
    );
}

#[test]
fn a_success_closes_by_alias_with_the_alias_encoded() {
    let og = build("    api_key: k\n").unwrap();
    let done = event(
        "rotation.completed",
        r#"{"id":"e2","correlation":"rot/1 a%b?c"}"#,
    );
    let req = og.render(&done, &ctx()).unwrap();
    assert_eq!(req.action, Action::Close);
    assert_eq!(req.alias, "rot/1 a%b?c");
    assert_eq!(
        req.url.as_str(),
        "https://api.opsgenie.com/v2/alerts/rot%2F1%20a%25b%3Fc/close?identifierType=alias"
    );
    let body = req.json();
    assert_eq!(body["source"], "Herald");
    assert!(
        body["note"]
            .as_str()
            .unwrap()
            .starts_with("Closed by Herald: ")
    );
    // Without a shared alias there is nothing to close: the success is an alert.
    let lone = event("rotation.completed", r#"{"id":"e3"}"#);
    assert_eq!(og.render(&lone, &ctx()).unwrap().action, Action::Create);
    // And with close_on_success off, every event is an alert.
    let off = build("    api_key: k\n    close_on_success: false\n").unwrap();
    assert_eq!(off.render(&done, &ctx()).unwrap().action, Action::Create);
}

#[test]
fn aliases_come_from_the_correlation_then_the_resource() {
    let c = event(
        "rotation.failed",
        r#"{"id":"a","correlation":"rot-1","service":"pg"}"#,
    );
    assert_eq!(
        alias(&c, "msg_x"),
        Alias {
            value: "rot-1".into(),
            shared: true
        }
    );
    let r = event(
        "rotation.failed",
        r#"{"id":"a","service":"pg","environment":"prod"}"#,
    );
    assert_eq!(alias(&r, "msg_x").value, "rotation/pg/prod");
    let none = event("rotation.failed", r#"{"id":"a"}"#);
    assert_eq!(
        alias(&none, "msg_x"),
        Alias {
            value: "msg_x".into(),
            shared: false
        }
    );
    let long = event(
        "rotation.failed",
        &format!(r#"{{"id":"a","correlation":"{}"}}"#, "c".repeat(600)),
    );
    let a = alias(&long, "msg_x");
    assert!(
        a.value.starts_with("herald-") && a.value.len() <= 512,
        "{a:?}"
    );
    assert_eq!(a, alias(&long, "msg_y"), "stable");
}

#[test]
fn priorities_follow_severity_unless_configured() {
    let failed = event("rotation.failed", r#"{"id":"a"}"#);
    let critical = event("incident.detected", r#"{"id":"b"}"#);
    let og = build("    api_key: k\n").unwrap();
    assert_eq!(og.render(&failed, &ctx()).unwrap().json()["priority"], "P2");
    assert_eq!(
        og.render(&critical, &ctx()).unwrap().json()["priority"],
        "P1"
    );
    let fixed = build("    api_key: k\n    priority: P3\n").unwrap();
    assert_eq!(
        fixed.render(&critical, &ctx()).unwrap().json()["priority"],
        "P3"
    );
    let mapped = build("    api_key: k\n    priority: {error: P1}\n").unwrap();
    assert_eq!(
        mapped.render(&failed, &ctx()).unwrap().json()["priority"],
        "P1"
    );
    assert_eq!(
        mapped.render(&critical, &ctx()).unwrap().json()["priority"],
        "P1"
    );
    let e = build("    api_key: k\n    priority: P9\n").unwrap_err();
    assert!(e.contains("priority"), "{e}");
}

#[test]
fn responders_tags_details_entity_and_source() {
    let og = build(
        "    api_key: k\n    responders: [{type: team, name: platform-oncall}, {type: user, username: jane@example.com}]\n    tags: [herald]\n    details: {team: platform}\n    entity: db-fleet\n    source: dsops-prod\n    user: Herald\n",
    )
    .unwrap();
    let e = event(
        "rotation.failed",
        r#"{"id":"a","source":"dsops","service":"pg","environment":"production","fields":{"Strategy":"two-key"}}"#,
    );
    let b = og.render(&e, &ctx()).unwrap().json();
    assert_eq!(
        b["responders"],
        serde_json::json!([{"type":"team","name":"platform-oncall"},{"type":"user","username":"jane@example.com"}])
    );
    assert_eq!(
        b["tags"],
        serde_json::json!(["herald", "rotation.failed", "error", "dsops", "production"])
    );
    assert_eq!(b["details"]["Strategy"], "two-key");
    assert_eq!(b["details"]["Environment"], "production");
    assert_eq!(b["details"]["team"], "platform");
    assert_eq!(b["details"]["Event id"], "a");
    assert_eq!(b["entity"], "db-fleet");
    assert_eq!(b["source"], "dsops-prod");
    assert_eq!(b["user"], "Herald");
    let plain = build("    api_key: k\n    event_tags: false\n").unwrap();
    let b = plain.render(&e, &ctx()).unwrap().json();
    assert!(b.get("tags").is_none());
    assert_eq!(b["entity"], "pg");
    assert_eq!(b["source"], "dsops");
}

#[test]
fn build_errors_name_the_field() {
    let e = build("    api_key: k\n    responders: [{type: team}]\n").unwrap_err();
    assert!(e.contains("responders[0]"), "{e}");
    let e = build("    api_key: k\n    responders: [{type: user, name: jane}]\n").unwrap_err();
    assert!(e.contains("username"), "{e}");
    let e = build("    api_key: k\n    responders: [{type: robot, name: r}]\n").unwrap_err();
    assert!(e.contains("responders"), "{e}");
    let e = build(&format!(
        "    api_key: k\n    tags: [\"{}\"]\n",
        "t".repeat(51)
    ))
    .unwrap_err();
    assert!(e.contains("tags[0]") && e.contains("50"), "{e}");
    let e = build("    api_key: k\n    api_url: ftp://x\n").unwrap_err();
    assert!(e.contains("api_url"), "{e}");
    let e = build("    api_key: k\n    api_url: https://u:p@og.example\n").unwrap_err();
    assert!(e.contains("credentials"), "{e}");
    let e = build("    api_key: k\n    region: mars\n").unwrap_err();
    assert!(e.contains("region"), "{e}");
    let e = build("    api_key: {from: {env: HERALD_TEST_SURELY_UNSET}}\n").unwrap_err();
    assert!(e.contains("HERALD_TEST_SURELY_UNSET"), "{e}");
    let e = build("    api_key: k\n    colour: red\n").unwrap_err();
    assert!(e.contains("unknown field `colour`"), "{e}");
}

#[test]
fn the_preview_hides_the_key() {
    let og = build("    api_key: s3cr3t-key\n").unwrap();
    let req = og
        .render(&event("rotation.failed", r#"{"id":"a"}"#), &ctx())
        .unwrap();
    let p = og.preview(&req);
    assert_eq!(p.method, "POST");
    assert!(!format!("{p:?} {og:?} {req:?}").contains("s3cr3t"));
    assert!(
        p.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v.contains("<redacted>"))
    );
}

#[test]
fn answers_are_classified_as_documented() {
    let ok = reply(
        202,
        &[],
        r#"{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}"#,
    );
    assert_eq!(
        send::classify(&ok, Action::Create),
        Outcome::Delivered {
            handle: Some("43a29c5c-3dbf-4fa4-9c26-f4f71023e120".into()),
            status: Some(202),
            hold: None
        }
    );
    let err = r#"{"message":"Message can not be empty.","took":0.001,"requestId":"r1"}"#;
    for status in [400, 422] {
        let Outcome::Permanent(f) = send::classify(&reply(status, &[], err), Action::Create) else {
            panic!("{status} should be permanent");
        };
        assert!(f.reason.contains("Message can not be empty."), "{f:?}");
        assert!(!f.broken);
        assert_eq!(f.status, Some(status));
    }
    for status in [401, 402, 403, 404] {
        let Outcome::Permanent(f) = send::classify(&reply(status, &[], err), Action::Create) else {
            panic!("{status} should be permanent");
        };
        assert!(f.broken, "{status} means the destination is broken");
    }
    assert!(matches!(
        send::classify(&reply(404, &[], err), Action::Close),
        Outcome::Delivered { .. }
    ));
    let Outcome::Retry(f) =
        send::classify(&reply(429, &[("retry-after", "7")], "{}"), Action::Create)
    else {
        panic!("429 retries");
    };
    assert!(f.throttled);
    assert_eq!(f.retry_after, Some(Duration::from_secs(7)));
    let Outcome::Retry(f) = send::classify(
        &reply(429, &[("x-ratelimit-period-in-sec", "60")], "{}"),
        Action::Create,
    ) else {
        panic!("429 retries");
    };
    assert_eq!(f.retry_after, Some(Duration::from_secs(60)));
    for status in [408, 500, 502, 503] {
        assert!(matches!(
            send::classify(&reply(status, &[], ""), Action::Create),
            Outcome::Retry(_)
        ));
    }
}

#[test]
fn env_only_configuration() {
    let vars = [
        ("OPSGENIE_API_KEY", "k"),
        ("OPSGENIE_REGION", "EU"),
        ("HERALD_EVENTS", "rotation.>, cert.>"),
    ];
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_string())
    };
    let d = Opsgenie::env_destination(&get).unwrap();
    assert_eq!(d["api_key"]["from"]["env"], "OPSGENIE_API_KEY");
    assert_eq!(d["region"], "eu");
    assert_eq!(d["events"], serde_json::json!(["rotation.>", "cert.>"]));
    assert!(Opsgenie::env_destination(&|_| None).is_none());
}
