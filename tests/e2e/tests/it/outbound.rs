//! Outbound connections: HTTPS certificates are verified (a destination may
//! add a private CA, or turn verification off loudly), redirects are never
//! followed, and the deployment's allow-list keeps destinations away from
//! hosts and networks outside it.

use anyhow::{Context as _, Result, ensure};
use herald_testkit::{
    ConfigFile, DeadLetter, NatsServer, Receiver, Reply, TestCa, WorkerCommand, event, fleet,
    publish, wait_for_dead_letters, webhook,
};
use serde_json::{Value, json};

use crate::support::{SOON, spawn_ready, wait_idle};

fn letter_for<'a>(letters: &'a [DeadLetter], destination: &str) -> Result<&'a DeadLetter> {
    letters
        .iter()
        .find(|d| d.subject.ends_with(&format!(".{destination}")))
        .with_context(|| format!("no dead letter for {destination}: {letters:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_certificates_are_verified_unless_a_ca_is_added_or_verification_is_off() -> Result<()>
{
    let nats = NatsServer::start().await?;
    let ca = TestCa::new()?;
    let https = Receiver::start_tls(&ca.server_cert(), &ca.server_key()).await?;
    let mut with_ca = webhook("with-ca", &https.url(), &["rotation.>"]);
    with_ca["tls"] = json!({"ca_file": ca.ca_file()});
    let mut insecure = webhook("insecure", &https.url(), &["rotation.>"]);
    insecure["tls"] = json!({"insecure_skip_verify": true});
    let destinations = [
        webhook("default", &https.url(), &["rotation.>"]),
        with_ca,
        insecure,
    ];
    let cfg = ConfigFile::write(&fleet(&nats.url(), &destinations))?;
    let js = nats.jetstream().await?;
    let worker = spawn_ready(
        &WorkerCommand::webhook(cfg.path()),
        &js,
        "webhook",
        &[
            ("default", "rotation.>"),
            ("with-ca", "rotation.>"),
            ("insecure", "rotation.>"),
        ],
    )
    .await?;
    let stderr = worker.stderr();
    ensure!(
        stderr.contains("TLS certificate verification is OFF") && stderr.contains("insecure"),
        "the insecure destination is announced at start:\n{stderr}"
    );

    publish(&js, "rotation.failed", "tls-1", event("tls-1", &json!({}))).await?;
    let letters = wait_for_dead_letters(&js, 1, SOON)
        .await
        .with_context(|| worker.stderr())?;
    https.wait_for(2, SOON).await?;
    for d in ["default", "with-ca", "insecure"] {
        wait_idle(&js, d, "rotation.>").await?;
    }
    ensure!(
        https.count() == 2,
        "only the verified and the insecure destinations deliver"
    );
    let refused = letter_for(&letters, "default")?;
    ensure!(refused.reason() == Some("permanent"), "{refused:?}");
    ensure!(
        refused.attempts() == Some(1),
        "a certificate failure is not retried"
    );
    let error = refused.error().unwrap_or_default();
    ensure!(
        error.contains("certificate is not trusted") && error.contains("tls.ca_file"),
        "{error}"
    );
    ensure!(
        worker.stderr().contains("The destination is broken"),
        "{}",
        worker.stderr()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() -> Result<()> {
    let nats = NatsServer::start().await?;
    let elsewhere = Receiver::start().await?;
    let hook =
        Receiver::start_with_default(Reply::status(307).header("location", &elsewhere.url()))
            .await?;
    let cfg = ConfigFile::write(&fleet(
        &nats.url(),
        &[webhook("moved", &hook.url(), &["rotation.>"])],
    ))?;
    let js = nats.jetstream().await?;
    let worker = spawn_ready(
        &WorkerCommand::webhook(cfg.path()),
        &js,
        "webhook",
        &[("moved", "rotation.>")],
    )
    .await?;
    publish(
        &js,
        "rotation.failed",
        "moved-1",
        event("moved-1", &json!({})),
    )
    .await?;
    let letters = wait_for_dead_letters(&js, 1, SOON)
        .await
        .with_context(|| worker.stderr())?;
    wait_idle(&js, "moved", "rotation.>").await?;
    ensure!(hook.count() == 1);
    ensure!(elsewhere.count() == 0, "the redirect was followed");
    let d = &letters[0];
    ensure!(
        d.reason() == Some("permanent") && d.status() == Some(307),
        "{d:?}"
    );
    ensure!(
        d.error()
            .unwrap_or_default()
            .contains("redirect (307) not followed"),
        "{d:?}"
    );
    Ok(())
}

/// Runs a webhook worker with `worker.outbound.allow: allow` and one
/// destination posting to `url`; publishes one event; returns the dead
/// letters (none when it was delivered) once the worker is idle.
async fn through_allow_list(allow: &Value, url: &str, id: &str) -> Result<Vec<DeadLetter>> {
    let nats = NatsServer::start().await?;
    let mut doc = fleet(&nats.url(), &[webhook("guarded", url, &["rotation.>"])]);
    doc["worker"]["outbound"] = json!({"allow": allow});
    let cfg = ConfigFile::write(&doc)?;
    let js = nats.jetstream().await?;
    let worker = spawn_ready(
        &WorkerCommand::webhook(cfg.path()),
        &js,
        "webhook",
        &[("guarded", "rotation.>")],
    )
    .await?;
    publish(&js, "rotation.failed", id, event(id, &json!({}))).await?;
    wait_idle(&js, "guarded", "rotation.>")
        .await
        .with_context(|| worker.stderr())?;
    herald_testkit::dead_letters(&js).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_refuses_hosts_and_networks_outside_it() -> Result<()> {
    let receiver = Receiver::start().await?;
    let port = receiver
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let by_name = format!("http://localhost:{port}");

    // Allowed: the loopback network, and the name itself.
    let none = through_allow_list(&json!(["127.0.0.0/8"]), &receiver.url(), "allow-1").await?;
    ensure!(none.is_empty(), "{none:?}");
    let none = through_allow_list(&json!(["localhost"]), &by_name, "allow-2").await?;
    ensure!(none.is_empty(), "{none:?}");
    ensure!(receiver.count() == 2);

    // A literal address outside the only allowed network.
    let refused = through_allow_list(&json!(["10.0.0.0/8"]), &receiver.url(), "deny-1").await?;
    // A name that is not allowed, resolving to an address outside every network.
    let refused_name = through_allow_list(&json!(["example.com"]), &by_name, "deny-2").await?;
    ensure!(
        receiver.count() == 2,
        "a refused request reached the receiver"
    );
    for (letters, target) in [
        (&refused, "127.0.0.1 is outside"),
        (&refused_name, "localhost ("),
    ] {
        ensure!(letters.len() == 1, "{letters:?}");
        let d = &letters[0];
        ensure!(
            d.reason() == Some("permanent") && d.attempts() == Some(1),
            "{d:?}"
        );
        let error = d.error().unwrap_or_default();
        ensure!(
            error.contains(target) && error.contains("outbound allow-list"),
            "{error}"
        );
    }
    Ok(())
}
