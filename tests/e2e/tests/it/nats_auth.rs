//! NATS authentication and transport security, each against a nats-server
//! configured for it: user and password, token, NKey, a JWT credentials file,
//! and TLS with a private CA (mutual TLS, TLS required). In each mode the
//! worker connects and delivers; with a wrong credential it stops with an
//! error that names the problem and never prints the secret.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use herald_testkit::nats_auth::{nkey_user, operator_setup};
use herald_testkit::{
    ConfigFile, NatsServer, Receiver, TestCa, WorkerCommand, event, fleet, publish, webhook,
};
use serde_json::{Value, json};

use crate::support::{SOON, spawn_ready};

const PASSWORD: &str = "nats-pw-Q7rT2mX9";
const TOKEN: &str = "nats-token-Z4kP8vL1";

/// A fleet on `nats` with `nats_keys` merged into its `nats` section.
fn config(nats: &NatsServer, receiver: &Receiver, nats_keys: &Value) -> Result<ConfigFile> {
    let mut doc = fleet(
        &nats.url(),
        &[webhook("hook", &receiver.url(), &["rotation.>"])],
    );
    if let (Some(n), Some(k)) = (doc["nats"].as_object_mut(), nats_keys.as_object()) {
        n.extend(k.clone());
        n.insert("connect_timeout".into(), "10s".into());
    }
    ConfigFile::write(&doc)
}

/// The worker connects with `nats_keys` (and `env`) and delivers one event.
async fn delivers(nats: &NatsServer, nats_keys: &Value, env: &[(&str, &str)]) -> Result<String> {
    let receiver = Receiver::start().await?;
    let cfg = config(nats, &receiver, nats_keys)?;
    let mut command = WorkerCommand::webhook(cfg.path());
    for (k, v) in env {
        command = command.env(k, v);
    }
    let js = nats.jetstream().await?;
    let worker = spawn_ready(&command, &js, "webhook", &[("hook", "rotation.>")]).await?;
    // Each call publishes a new event: the stream drops a repeated id.
    let id = format!(
        "auth-{}",
        receiver.url().rsplit(':').next().unwrap_or_default()
    );
    publish(&js, "rotation.failed", &id, event(&id, &json!({}))).await?;
    let got = receiver
        .wait_for(1, SOON)
        .await
        .with_context(|| worker.stderr())?;
    ensure!(got[0].event_id() == Some(id.as_str()));
    Ok(worker.stderr())
}

/// The worker refuses to start with `nats_keys`; its error contains `expect`
/// and none of `secrets`.
async fn refused(
    nats: &NatsServer,
    nats_keys: &Value,
    env: &[(&str, &str)],
    expect: &str,
    secrets: &[&str],
) -> Result<()> {
    let receiver = Receiver::start().await?;
    let cfg = config(nats, &receiver, nats_keys)?;
    let mut command = WorkerCommand::webhook(cfg.path());
    for (k, v) in env {
        command = command.env(k, v);
    }
    let done = command.run(Duration::from_secs(60)).await?;
    ensure!(
        !done.status.success(),
        "the worker must not start:\n{}",
        done.stderr
    );
    let all = format!("{}{}", done.stdout, done.stderr);
    ensure!(all.contains(expect), "expected `{expect}` in:\n{all}");
    for s in secrets {
        ensure!(!all.contains(s), "a secret was printed:\n{all}");
    }
    ensure!(receiver.count() == 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_password_from_the_environment() -> Result<()> {
    let server_config = format!(
        "authorization {{\n  users = [ {{ user: \"herald\", password: \"{PASSWORD}\" }} ]\n}}\n"
    );
    let nats = NatsServer::start_with_config(&server_config, || {
        async_nats::ConnectOptions::with_user_and_password("herald".into(), PASSWORD.into())
    })
    .await?;
    let stderr = delivers(
        &nats,
        &json!({}),
        &[("NATS_USER", "herald"), ("NATS_PASSWORD", PASSWORD)],
    )
    .await?;
    ensure!(!stderr.contains(PASSWORD), "{stderr}");
    // The same credentials written in the file, by reference.
    delivers(
        &nats,
        &json!({"user": "herald", "password": {"from": {"env": "HERALD_TEST_NATS_PW"}}}),
        &[("HERALD_TEST_NATS_PW", PASSWORD)],
    )
    .await?;
    refused(
        &nats,
        &json!({}),
        &[("NATS_USER", "herald"), ("NATS_PASSWORD", "wrong-pw-Hh3")],
        "authorization violation",
        &["wrong-pw-Hh3", PASSWORD],
    )
    .await?;
    // A password in the URL is not printed either.
    refused(
        &nats,
        &json!({"url": nats.url().replace("nats://", "nats://herald:url-pw-Kk8@")}),
        &[],
        "nats://<redacted>@127.0.0.1",
        &["url-pw-Kk8"],
    )
    .await?;
    refused(
        &nats,
        &json!({"user": "herald"}),
        &[],
        "`nats.user` needs `nats.password`",
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token() -> Result<()> {
    let server_config = format!("authorization {{\n  token: \"{TOKEN}\"\n}}\n");
    let nats = NatsServer::start_with_config(&server_config, || {
        async_nats::ConnectOptions::with_token(TOKEN.into())
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n"))?;
    delivers(
        &nats,
        &json!({"token": {"from": {"file": token_file}}}),
        &[],
    )
    .await?;
    delivers(&nats, &json!({}), &[("NATS_TOKEN", TOKEN)]).await?;
    refused(
        &nats,
        &json!({"token": "not-the-token-Yy5"}),
        &[],
        "authorization violation",
        &["not-the-token-Yy5", TOKEN],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nkey_seed() -> Result<()> {
    let user = nkey_user()?;
    let seed = user.seed.clone();
    let nats = NatsServer::start_with_config(&user.server_config, move || {
        async_nats::ConnectOptions::with_nkey(seed.clone())
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let seed_file = dir.path().join("user.nk");
    std::fs::write(&seed_file, format!("{}\n", user.seed))?;
    delivers(
        &nats,
        &json!({"nkey_seed": {"from": {"file": &seed_file}}}),
        &[],
    )
    .await?;
    delivers(
        &nats,
        &json!({}),
        &[("NATS_NKEY", seed_file.to_str().unwrap_or_default())],
    )
    .await?;
    // Another user's seed: the server does not know its public key.
    let stranger = nkey_user()?;
    refused(
        &nats,
        &json!({"nkey_seed": stranger.seed}),
        &[],
        "authorization violation",
        &[&stranger.seed, &user.seed],
    )
    .await?;
    refused(
        &nats,
        &json!({"nkey_seed": "not-a-seed"}),
        &[],
        "is not an NKey user seed",
        &["not-a-seed"],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credentials_file_with_operator_jwts() -> Result<()> {
    let setup = operator_setup()?;
    let creds = setup.creds.clone();
    let nats = NatsServer::start_with_config(&setup.server_config, move || {
        async_nats::ConnectOptions::new()
            .credentials(&creds)
            .unwrap_or_default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let good = dir.path().join("worker.creds");
    std::fs::write(&good, &setup.creds)?;
    delivers(&nats, &json!({"credentials_file": &good}), &[]).await?;
    delivers(
        &nats,
        &json!({}),
        &[("NATS_CREDS", good.to_str().unwrap_or_default())],
    )
    .await?;
    let bad = dir.path().join("stranger.creds");
    std::fs::write(&bad, &setup.untrusted_creds)?;
    refused(
        &nats,
        &json!({"credentials_file": &bad}),
        &[],
        "refused the credentials",
        &[&setup.user_seed],
    )
    .await?;
    refused(
        &nats,
        &json!({"credentials_file": dir.path().join("missing.creds")}),
        &[],
        "`nats.credentials_file`",
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_a_client_certificate() -> Result<()> {
    let ca = TestCa::new()?;
    let server_config = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify: true\n}}\n",
        ca.server_cert().display(),
        ca.server_key().display(),
        ca.ca_file().display(),
    );
    let (ca_file, cert, key) = (ca.ca_file(), ca.client_cert(), ca.client_key());
    let nats = NatsServer::start_with_config(&server_config, move || {
        async_nats::ConnectOptions::new()
            .add_root_certificates(ca_file.clone())
            .add_client_certificate(cert.clone(), key.clone())
            .require_tls(true)
    })
    .await?;
    delivers(
        &nats,
        &json!({"tls": {"ca_file": ca.ca_file(), "cert_file": ca.client_cert(),
                        "key_file": ca.client_key(), "required": true}}),
        &[],
    )
    .await?;
    // The same from the nats command's variables.
    delivers(
        &nats,
        &json!({}),
        &[
            ("NATS_CA", ca.ca_file().to_str().unwrap_or_default()),
            ("NATS_CERT", ca.client_cert().to_str().unwrap_or_default()),
            ("NATS_KEY", ca.client_key().to_str().unwrap_or_default()),
        ],
    )
    .await?;
    // Without the private CA the server's certificate is not trusted.
    refused(
        &nats,
        &json!({"tls": {"cert_file": ca.client_cert(), "key_file": ca.client_key()}}),
        &[],
        "TLS failed",
        &[],
    )
    .await?;
    refused(
        &nats,
        &json!({"tls": {"ca_file": "/nonexistent/ca.pem"}}),
        &[],
        "`nats.tls.ca_file` /nonexistent/ca.pem",
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_refuses_a_plain_server() -> Result<()> {
    let nats = NatsServer::start().await?;
    refused(
        &nats,
        &json!({"tls": {"required": true}}),
        &[],
        "cannot connect to NATS",
        &[],
    )
    .await
}
