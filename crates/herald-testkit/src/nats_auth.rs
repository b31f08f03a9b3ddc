//! NATS server configurations for authentication tests: a user with a
//! password, a token, an NKey user, and decentralised (operator) JWT
//! authentication with a `.creds` file, built here without `nsc`: the
//! operator, account and user keys are made with the `nkeys` crate and the
//! JWTs signed with them (the format nats-server reads: `ed25519-nkey`,
//! base64url claims).

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use serde_json::{Value, json};

/// An NKey user: the server configuration trusting it and its seed.
#[derive(Debug, Clone)]
pub struct NkeyUser {
    /// The `authorization` block naming the user's public key.
    pub server_config: String,
    /// The user's seed (`SU...`): the client's secret.
    pub seed: String,
}

/// A new NKey user.
///
/// # Errors
/// When the key cannot be encoded.
pub fn nkey_user() -> Result<NkeyUser> {
    let user = KeyPair::new_user();
    Ok(NkeyUser {
        server_config: format!(
            "authorization {{\n  users = [ {{ nkey: \"{}\" }} ]\n}}\n",
            user.public_key()
        ),
        seed: user.seed().context("the user's seed")?,
    })
}

/// Decentralised authentication: an operator trusting one account (with
/// JetStream) held in the server's memory resolver, and a user of that
/// account.
#[derive(Debug, Clone)]
pub struct OperatorSetup {
    /// The server configuration (`operator`, `resolver: MEMORY`, the account preloaded).
    pub server_config: String,
    /// A `.creds` file for the user: the user JWT and its seed.
    pub creds: String,
    /// A `.creds` file for a user of an account the server does not trust.
    pub untrusted_creds: String,
    /// The user's seed, to check it is never printed.
    pub user_seed: String,
}

/// Builds an operator, a system account, an account with JetStream and a user.
///
/// # Errors
/// When a key cannot be encoded or signed with.
pub fn operator_setup() -> Result<OperatorSetup> {
    let operator = KeyPair::new_operator();
    let system = KeyPair::new_account();
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "herald-test-operator",
        &json!({"type": "operator", "version": 2, "system_account": system.public_key()}),
    )?;
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        "SYS",
        &json!({"type": "account", "version": 2, "limits": account_limits(false)}),
    )?;
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "HERALD",
        &json!({"type": "account", "version": 2, "limits": account_limits(true)}),
    )?;
    let user_seed = user.seed().context("the user's seed")?;
    let creds = user_creds(&account, &user, &user_seed)?;

    // A user signed by an account the operator never signed.
    let stranger = KeyPair::new_account();
    let other = KeyPair::new_user();
    let other_seed = other.seed().context("a seed")?;
    let untrusted_creds = user_creds(&stranger, &other, &other_seed)?;

    let server_config = format!(
        "operator: \"{operator_jwt}\"\nsystem_account: \"{sys}\"\nresolver: MEMORY\nresolver_preload: {{\n  {sys}: \"{system_jwt}\"\n  {acc}: \"{account_jwt}\"\n}}\n",
        sys = system.public_key(),
        acc = account.public_key(),
    );
    Ok(OperatorSetup {
        server_config,
        creds,
        untrusted_creds,
        user_seed,
    })
}

fn account_limits(jetstream: bool) -> Value {
    let js = if jetstream { -1 } else { 0 };
    json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": true, "conn": -1, "leaf": -1,
        "mem_storage": js, "disk_storage": js, "streams": js, "consumer": js,
    })
}

fn user_creds(account: &KeyPair, user: &KeyPair, seed: &str) -> Result<String> {
    let user_jwt = jwt(
        account,
        &user.public_key(),
        "herald-worker",
        &json!({"type": "user", "version": 2, "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}),
    )?;
    Ok(format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    ))
}

/// A JWT for `subject` issued and signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: &Value) -> Result<String> {
    let header = json!({"typ": "JWT", "alg": "ed25519-nkey"});
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = json!({
        "jti": format!("{:X}", rand_id(subject, iat)),
        "iat": iat,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = issuer
        .sign(signing_input.as_bytes())
        .context("signing a JWT")?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// A JWT id: unique enough for a test (the server does not check it).
fn rand_id(subject: &str, iat: u64) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    subject.hash(&mut h);
    iat.hash(&mut h);
    h.finish()
}
