//! The console's API against a real nats-server, a real in-process webhook
//! worker and real HTTP receivers. Every answer is checked for the
//! configured secrets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use herald_core::config::FleetConfig;
use herald_core::worker::Worker;
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, Reply, event, fleet, jira as jira_destination, publish,
    teams, wait_for_dead_letters, wait_for_some, wait_until, webhook,
};
use herald_webhook::Webhook;
use serde_json::{Value, json};

use super::{Access, Console, router};

/// Generous: other builds share the two cores.
const SOON: Duration = Duration::from_secs(30);

/// Secrets written in the test configuration; no answer may contain them.
const SECRETS: &[&str] = &[
    "HOOKTOKEN0123456789",
    "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3",
    "TEAMSSIG0123456789",
    "JIRATOKEN0123456789",
];

/// A fleet with a console in front of it.
struct Bench {
    _nats: NatsServer,
    _config: ConfigFile,
    js: async_nats::jetstream::Context,
    worker: Option<Worker>,
    addr: SocketAddr,
    http: reqwest::Client,
    /// Every answer body, for the secrets check.
    seen: Arc<Mutex<Vec<String>>>,
}

impl Bench {
    /// Starts nats-server, a webhook worker for the webhook destinations and
    /// the console (with `access`) on a free loopback port.
    async fn start(nats: NatsServer, destinations: &[Value], access: Access) -> Result<Self> {
        let config = ConfigFile::write(&fleet(&nats.url(), destinations))?;
        let file = config.name();
        let parsed =
            FleetConfig::from_yaml(&config.text()?, &file).map_err(|e| anyhow::anyhow!("{e}"))?;
        let worker = if parsed.destinations_for("webhook").next().is_some() {
            Some(Worker::start::<Webhook>(&parsed, &file).await?)
        } else {
            None
        };
        let console =
            Console::start(parsed, file, Some("http://jaeger.test:16686".into()), 50).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, router(console, access)).await;
        });
        Ok(Self {
            js: nats.jetstream().await?,
            _nats: nats,
            _config: config,
            worker,
            addr,
            http: reqwest::Client::new(),
            seen: Arc::default(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn answer(&self, r: reqwest::RequestBuilder) -> Result<(u16, Value)> {
        let r = r.send().await.context("calling the console")?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        self.seen
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(text.clone());
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    async fn get(&self, path: &str) -> Result<(u16, Value)> {
        self.answer(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.answer(
            self.http
                .post(self.url(path))
                .header("X-Herald-Console", "1")
                .json(body),
        )
        .await
    }

    /// No answer so far held a configured secret.
    fn assert_no_secrets(&self) {
        let seen = self.seen.lock().unwrap();
        assert!(!seen.is_empty());
        for body in seen.iter() {
            for secret in SECRETS {
                assert!(!body.contains(secret), "a secret was sent: {body}");
            }
        }
    }

    async fn stop(mut self) {
        if let Some(w) = self.worker.take() {
            w.shutdown().await;
        }
    }
}

fn signed_webhook(name: &str, receiver: &Receiver) -> Value {
    let mut d = webhook(
        name,
        &format!("{}?token={}", receiver.url(), SECRETS[0]),
        &["rotation.>"],
    );
    d["signing"] = json!({"scheme": "standard-webhooks", "secret": SECRETS[1]});
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_show_and_a_test_send_reaches_the_receiver() -> Result<()> {
    let receiver =
        Receiver::start_with_default(Reply::ok().body("accepted by the test receiver")).await?;
    let bench = Bench::start(
        NatsServer::start().await?,
        &[signed_webhook("ops", &receiver)],
        Access::new(None, None)?,
    )
    .await?;

    let (status, body) = bench.get("/api/destinations").await?;
    assert_eq!(status, 200, "{body}");
    let ops = &body["destinations"][0];
    assert_eq!(ops["destination"], "ops");
    assert_eq!(ops["channel"], "webhook");
    assert_eq!(ops["events"], json!(["rotation.>"]));
    assert_eq!(ops["state"], "idle");
    assert_eq!(ops["pending"], 0);
    assert!(ops["test_notice"].is_null());

    // Actions need the console's header.
    let (status, _) = bench
        .answer(
            bench
                .http
                .post(bench.url("/api/destinations/ops/test"))
                .json(&json!({})),
        )
        .await?;
    assert_eq!(status, 403);
    assert_eq!(receiver.count(), 0);

    let (status, body) = bench.post("/api/destinations/ops/test", &json!({})).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["delivered"], true, "{body}");
    assert!(
        body["message"].as_str().unwrap_or_default().contains("200"),
        "{body}"
    );
    assert_eq!(
        body["request"]["target"],
        format!("{}/…", receiver.base_url())
    );
    let got = receiver.wait_for(1, SOON).await?;
    assert_eq!(got[0].json()?["type"], "herald.test", "{}", got[0].text());
    assert!(got[0].header("webhook-signature").is_some());

    let (status, _) = bench
        .post("/api/destinations/nope/test", &json!({}))
        .await?;
    assert_eq!(status, 404);
    bench.assert_no_secrets();
    bench.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jira_test_is_refused_until_confirmed() -> Result<()> {
    let jira = Receiver::start().await?;
    let destination = jira_destination("sec-jira", &jira.base_url(), SECRETS[3], &["cert.>"]);
    let bench = Bench::start(
        NatsServer::start().await?,
        &[destination],
        Access::new(None, None)?,
    )
    .await?;
    let (_, body) = bench.get("/api/destinations").await?;
    assert!(
        body["destinations"][0]["test_notice"]
            .as_str()
            .unwrap_or_default()
            .contains("real issue"),
        "{body}"
    );
    let (status, body) = bench
        .post("/api/destinations/sec-jira/test", &json!({}))
        .await?;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["needs_confirmation"], true);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("confirm"),
        "{body}"
    );
    assert_eq!(
        jira.count(),
        0,
        "nothing may reach Jira without confirmation"
    );
    bench.assert_no_secrets();
    bench.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_are_redacted_and_template_errors_name_their_line() -> Result<()> {
    let receiver = Receiver::start().await?;
    let mut templated = webhook("templated", &receiver.url(), &["rotation.>"]);
    templated["format"] = json!("template");
    templated["content_type"] = json!("application/json");
    templated["template"] =
        json!("{\n  \"title\": \"{{ title }}\",\n  \"team\": \"{{ data.owner.team }}\"\n}\n");
    let teams = teams(
        "ops-teams",
        &format!(
            "{}/workflows/x/invoke?sig={}",
            receiver.base_url(),
            SECRETS[2]
        ),
        &["rotation.>"],
    );
    let bench = Bench::start(
        NatsServer::start().await?,
        &[signed_webhook("ops", &receiver), templated, teams],
        Access::new(None, None)?,
    )
    .await?;

    let (status, body) = bench
        .post(
            "/api/preview",
            &json!({"destination": "ops-teams", "seed": "dsops-rotation.failed"}),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["channel"], "teams");
    assert_eq!(body["subject"], "rotation.failed");
    let card: Value = serde_json::from_str(body["request"]["body"].as_str().unwrap_or_default())?;
    assert_eq!(card["attachments"][0]["content"]["type"], "AdaptiveCard");
    assert!(
        body["request"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("postgres-prod")
    );

    let (status, body) = bench
        .post(
            "/api/preview",
            &json!({"destination": "ops", "seed": "hostile-injection"}),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    let headers = body["request"]["headers"].to_string();
    assert!(headers.contains("webhook-signature"), "{headers}");

    // Pasted JSON, with a subject the destination does not take: a note says so.
    let pasted =
        json!({"id": "p-1", "type": "cert.expiring", "title": "Cert expiring", "data": {}});
    let (status, body) = bench
        .post(
            "/api/preview",
            &json!({"destination": "ops", "event": pasted}),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["note"]
            .as_str()
            .unwrap_or_default()
            .contains("does not subscribe"),
        "{body}"
    );

    // `data.owner` is undefined on line 3 of the template.
    let (status, body) = bench
        .post(
            "/api/preview",
            &json!({"destination": "templated", "seed": "dsops-rotation.failed"}),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["kind"], "render", "{body}");
    assert_eq!(body["template_line"], 3, "{body}");

    let (status, body) = bench
        .post(
            "/api/preview",
            &json!({"destination": "ops", "event": {"title": "no id"}}),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["kind"], "event");
    assert_eq!(receiver.count(), 0, "a preview sends nothing");
    bench.assert_no_secrets();
    bench.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_replayed_and_purged() -> Result<()> {
    let receiver = Receiver::start_with_default(Reply::status(400).body("no such project")).await?;
    let bench = Bench::start(
        NatsServer::start().await?,
        &[webhook("flaky", &receiver.url(), &["rotation.>"])],
        Access::new(Some("T0KEN-for-tests"), None)?,
    )
    .await?;
    let auth = |r: reqwest::RequestBuilder| r.bearer_auth("T0KEN-for-tests");

    publish(
        &bench.js,
        "rotation.failed",
        "dl-1",
        event("dl-1", &json!({"service": "pg"})),
    )
    .await?;
    let letters = wait_for_dead_letters(&bench.js, 1, SOON).await?;
    let seq = letters[0].sequence;

    let (status, _) = bench.get("/api/dlq?destination=flaky").await?;
    assert_eq!(status, 401, "credentials are required");
    let (status, body) = bench
        .answer(auth(
            bench.http.get(bench.url("/api/dlq?destination=flaky")),
        ))
        .await?;
    assert_eq!(status, 200, "{body}");
    let letter = &body["letters"][0];
    assert_eq!(letter["seq"], seq);
    assert_eq!(letter["event_id"], "dl-1");
    assert_eq!(letter["reason"], "permanent");
    assert_eq!(letter["status"], "400");
    assert_eq!(letter["attempts"], "1");
    let (status, _) = bench
        .answer(auth(bench.http.get(bench.url("/api/dlq?destination=%3E"))))
        .await?;
    assert_eq!(status, 400, "a wildcard is not a destination");

    // The live feed saw the dead letter.
    let recent = |after: u64| {
        let bench = &bench;
        async move {
            bench
                .answer(auth(
                    bench
                        .http
                        .get(bench.url(&format!("/api/deliveries?after={after}"))),
                ))
                .await
        }
    };
    wait_for_some(SOON, "the dead letter on the live feed", || async {
        let (_, body) = recent(0).await.ok()?;
        body["entries"]
            .as_array()?
            .iter()
            .any(|e| {
                e["event_id"] == "dl-1" && e["outcome"] == "dead_lettered" && e["status"] == 400
            })
            .then_some(())
    })
    .await?;

    // Fixed: the provider accepts now; replay the letter.
    receiver.set_default(Reply::ok());
    let (status, body) = bench
        .answer(
            auth(
                bench
                    .http
                    .post(bench.url(&format!("/api/dlq/{seq}/replay"))),
            )
            .header("X-Herald-Console", "1"),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replayed"][0]["destination"], "flaky");
    wait_until(SOON, "the replayed event to arrive", || async {
        receiver.by_event().get("dl-1").copied().unwrap_or(0) >= 2
    })
    .await?;
    let delivered = wait_for_some(SOON, "the delivery on the live feed", || async {
        let (_, body) = recent(0).await.ok()?;
        body["entries"]
            .as_array()?
            .iter()
            .find(|e| e["event_id"] == "dl-1" && e["outcome"] == "delivered")
            .cloned()
    })
    .await?;
    assert_eq!(delivered["subject"], "rotation.failed", "{delivered}");
    assert_eq!(delivered["channel"], "webhook");

    // Purge: refused unconfirmed, done when confirmed.
    receiver.set_default(Reply::status(400));
    publish(
        &bench.js,
        "rotation.failed",
        "dl-2",
        event("dl-2", &json!({})),
    )
    .await?;
    wait_for_dead_letters(&bench.js, 2, SOON).await?;
    let purge = |confirm: bool| {
        let bench = &bench;
        async move {
            bench
                .answer(
                    auth(
                        bench
                            .http
                            .post(bench.url("/api/dlq/purge?destination=flaky")),
                    )
                    .header("X-Herald-Console", "1")
                    .json(&json!({"confirm": confirm})),
                )
                .await
        }
    };
    let (status, body) = purge(false).await?;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["would_delete"], 2);
    let (status, body) = purge(true).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["purged"], 2);
    let (_, body) = bench
        .answer(auth(
            bench.http.get(bench.url("/api/dlq?destination=flaky")),
        ))
        .await?;
    assert_eq!(body["letters"], json!([]));
    bench.assert_no_secrets();
    bench.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_host_are_checked() -> Result<()> {
    let bench = Bench::start(
        NatsServer::start().await?,
        &[],
        Access::new(None, Some("alice:wonder-land"))?,
    )
    .await?;
    let (status, _) = bench.get("/api/destinations").await?;
    assert_eq!(status, 401);
    let r = bench.http.get(bench.url("/")).send().await?;
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    let (status, _) = bench
        .answer(
            bench
                .http
                .get(bench.url("/api/info"))
                .basic_auth("alice", Some("nope")),
        )
        .await?;
    assert_eq!(status, 401);
    let (status, body) = bench
        .answer(
            bench
                .http
                .get(bench.url("/api/info"))
                .basic_auth("alice", Some("wonder-land")),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["who"], "alice");
    assert!(body["seeds"].as_array().is_some_and(|s| s.len() > 5));
    bench.stop().await;

    // Without credentials, only loopback host names are answered.
    let open = Bench::start(NatsServer::start().await?, &[], Access::new(None, None)?).await?;
    let r = open.http.get(open.url("/")).send().await?;
    assert_eq!(r.status().as_u16(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .context("no CSP")?;
    assert!(csp.to_str()?.contains("default-src 'none'"));
    assert!(r.text().await?.contains("adaptivecards.min.js"));
    let r = open
        .http
        .get(open.url("/api/info"))
        .header("Host", "rebound.example:8080")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    let r = open
        .http
        .get(open.url("/vendor/adaptivecards.min.js"))
        .send()
        .await?;
    if r.status().as_u16() != 200 || !r.text().await?.contains("AdaptiveCard") {
        bail!("the Adaptive Card renderer is not served");
    }
    open.stop().await;
    Ok(())
}
