//! Request signatures: Standard Webhooks and plain HMAC-SHA256.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A Standard Webhooks signing key (the decoded bytes of a `whsec_` secret),
/// held as a keyed HMAC state: each signature clones it instead of hashing the
/// key again.
#[derive(Clone)]
pub struct StandardWebhooksKey(HmacSha256);

impl std::fmt::Debug for StandardWebhooksKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StandardWebhooksKey(<redacted>)")
    }
}

impl StandardWebhooksKey {
    /// Reads a secret written `whsec_<base64>` (the prefix and padding are optional).
    ///
    /// # Errors
    /// A message when the secret is empty or not base64.
    pub fn parse(secret: &str) -> Result<Self, String> {
        let b64 = secret.strip_prefix("whsec_").unwrap_or(secret).trim();
        if b64.is_empty() {
            return Err("the signing secret is empty".into());
        }
        let bytes = STANDARD
            .decode(b64)
            .or_else(|_| STANDARD_NO_PAD.decode(b64.trim_end_matches('=')))
            .map_err(|_| {
                "a standard-webhooks secret must be `whsec_` followed by base64".to_string()
            })?;
        if bytes.is_empty() {
            return Err("the signing secret is empty".into());
        }
        let mac = HmacSha256::new_from_slice(&bytes).unwrap_or_else(|_| unreachable_hmac());
        Ok(Self(mac))
    }

    /// The `webhook-signature` value for one attempt: `v1,<base64>` over
    /// `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(itoa_i64(timestamp).as_bytes());
        mac.update(b".");
        mac.update(body);
        let mut out = String::with_capacity(3 + 44);
        out.push_str("v1,");
        STANDARD.encode_string(mac.finalize().into_bytes(), &mut out);
        out
    }
}

/// The decimal text of `n` without the formatting machinery.
fn itoa_i64(n: i64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(21);
    if n < 0 {
        out.push('-');
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
    out
}

/// `sha256=<hex>` of HMAC-SHA256 over the body, keyed by the secret's bytes.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// HMAC accepts keys of any length, so construction cannot fail.
fn unreachable_hmac() -> HmacSha256 {
    #[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
    HmacSha256::new_from_slice(&[0]).expect("HMAC accepts any key length")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official vectors, copied into `tests/fixtures/standard-webhooks-vectors.json`.
    #[test]
    fn matches_the_standard_webhooks_vectors() {
        let raw = include_str!("../../../tests/fixtures/standard-webhooks-vectors.json");
        let doc: serde_json::Value = serde_json::from_str(raw).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 2);
        for v in vectors {
            let key = StandardWebhooksKey::parse(v["secret"].as_str().unwrap()).unwrap();
            let sig = key.sign(
                v["msg_id"].as_str().unwrap(),
                v["timestamp"].as_i64().unwrap(),
                v["payload"].as_str().unwrap().as_bytes(),
            );
            assert_eq!(
                sig,
                v["expected_signature"].as_str().unwrap(),
                "{}",
                v["name"]
            );
        }
        let neg = &doc["negative_vectors"][0];
        let key = StandardWebhooksKey::parse(neg["secret"].as_str().unwrap()).unwrap();
        let sig = key.sign(
            neg["msg_id"].as_str().unwrap(),
            neg["timestamp"].as_i64().unwrap(),
            neg["payload"].as_str().unwrap().as_bytes(),
        );
        assert_ne!(sig, neg["signature_header"].as_str().unwrap());
        for bad in doc["negative_vectors"][2]["secrets"].as_array().unwrap() {
            assert!(StandardWebhooksKey::parse(bad.as_str().unwrap()).is_err());
        }
    }

    #[test]
    fn timestamps_are_written_in_decimal() {
        for n in [0, 7, 10, 1_700_000_000, -1, -42, i64::MAX, i64::MIN] {
            assert_eq!(itoa_i64(n), n.to_string());
        }
    }

    #[test]
    fn unpadded_secrets_are_accepted() {
        let a = StandardWebhooksKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let b = StandardWebhooksKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(a.sign("i", 1, b"x"), b.sign("i", 1, b"x"));
    }

    #[test]
    fn hmac_matches_the_headwind_format() {
        // Computed independently: Python's
        // hmac.new(b"your-secret-key", b'{"a":1}', hashlib.sha256).hexdigest()
        assert_eq!(
            hmac_sha256_hex(b"your-secret-key", br#"{"a":1}"#),
            "sha256=1461cc79254b3283a481c081ebfd6064a4aca96fd7dec2560fab32872b707f80"
        );
    }
}
