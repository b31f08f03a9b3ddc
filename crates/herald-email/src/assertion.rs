//! The certificate credential of Microsoft's client-credentials flow: a JWT
//! client assertion (RS256) whose header names the certificate by its SHA-1
//! thumbprint (`x5t`), signed with the certificate's private key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

/// How long an assertion is valid (Microsoft accepts up to ten minutes).
const LIFETIME_SECS: i64 = 600;

/// A certificate and its RSA private key, ready to sign assertions.
pub struct CertificateKey {
    key: RsaKeyPair,
    x5t: String,
}

impl std::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateKey")
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

impl CertificateKey {
    /// Reads the first certificate of `cert_pem` and the RSA key of `key_pem`
    /// (or of `cert_pem` when it holds both).
    ///
    /// # Errors
    /// A message when there is no certificate or no usable RSA key.
    pub fn from_pem(cert_pem: &str, key_pem: Option<&str>) -> Result<Self, String> {
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| format!("no PEM certificate found: {e}"))?;
        let key_text = key_pem.unwrap_or(cert_pem);
        let key = PrivateKeyDer::from_pem_slice(key_text.as_bytes())
            .map_err(|e| format!("no PEM private key found: {e}"))?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err("the private key must be an RSA key (PKCS#8 or PKCS#1)".into()),
        }
        .map_err(|e| format!("not a usable RSA private key: {e}"))?;
        let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
        Ok(Self {
            key,
            x5t: URL_SAFE_NO_PAD.encode(thumbprint.as_ref()),
        })
    }

    /// The certificate's SHA-1 thumbprint, base64url (the `x5t` header).
    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// A signed assertion for `client_id` at the token endpoint `audience`,
    /// issued at `now` (Unix seconds), with the unique id `jti`.
    ///
    /// # Errors
    /// A message when signing fails.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
        jti: &str,
    ) -> Result<String, String> {
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t});
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": jti,
            "nbf": now,
            "iat": now,
            "exp": now + LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the client assertion failed".to_owned())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}
