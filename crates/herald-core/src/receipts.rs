//! Idempotency receipts: which events each destination has already received.
//!
//! A receipt is written after the provider accepted an event and before the ack.
//! When the worker dies between the two, the redelivered event finds the receipt
//! and is acked without a second send.

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a receipt records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// When the provider accepted the event.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub delivered_at: DateTime<Utc>,
    /// The provider's handle (Slack `ts`, Jira key, Message-ID), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// The attempt that succeeded.
    pub attempt: u32,
}

/// A receipts read or write failed.
#[derive(Debug, thiserror::Error)]
#[error("receipts: {0}")]
pub struct ReceiptError(String);

/// The receipts bucket.
#[derive(Debug, Clone)]
pub struct Receipts {
    store: kv::Store,
    client: async_nats::Client,
    subject_prefix: String,
}

/// The receipt key for an event and destination: `<destination>.<sha256(id) hex>`
/// (event ids may hold characters keys cannot).
pub fn receipt_key(destination: &str, event_id: &str) -> String {
    let digest = Sha256::digest(event_id.as_bytes());
    let mut key = String::with_capacity(destination.len() + 1 + 40);
    key.push_str(destination);
    key.push('.');
    push_hex(&mut key, &digest[..20]);
    key
}

/// Appends `bytes` as lowercase hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// A key stable across every attempt of one event to one destination, safe in
/// headers and ids (`msg_<hex>`): the provider-facing idempotency key.
pub fn idempotency_key(destination: &str, event_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(destination.as_bytes());
    h.update([0]);
    h.update(event_id.as_bytes());
    let mut key = String::with_capacity(4 + 32);
    key.push_str("msg_");
    push_hex(&mut key, &h.finalize()[..16]);
    key
}

impl Receipts {
    /// Wraps an opened bucket; `client` is the connection receipts are written on
    /// (the one that also sends the acks).
    pub fn new(store: kv::Store, client: async_nats::Client, bucket: &str) -> Self {
        Self {
            store,
            client,
            subject_prefix: format!("$KV.{bucket}."),
        }
    }

    /// The receipt for `key`, if the event was delivered.
    ///
    /// # Errors
    /// [`ReceiptError`] when the bucket cannot be read.
    pub async fn get(&self, key: &str) -> Result<Option<Receipt>, ReceiptError> {
        let entry = self
            .store
            .get(key)
            .await
            .map_err(|e| ReceiptError(e.to_string()))?;
        Ok(entry.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Records a delivery, without waiting for the server's confirmation.
    ///
    /// The receipt is published on the same connection as the ack that follows
    /// it, and the server handles one connection's messages in order, so the
    /// receipt is stored before the ack takes effect. Waiting for the PubAck would
    /// cost a round trip and a message per delivery and buy only a log line: a
    /// receipt matters only for a redelivery, and a lost connection loses the ack
    /// too, so the event comes back and is sent again with the same idempotency key.
    ///
    /// # Errors
    /// [`ReceiptError`] when the write cannot be queued on the connection.
    pub async fn record(&self, key: &str, receipt: &Receipt) -> Result<(), ReceiptError> {
        let bytes = serde_json::to_vec(receipt).map_err(|e| ReceiptError(e.to_string()))?;
        let mut subject = String::with_capacity(self.subject_prefix.len() + key.len());
        subject.push_str(&self.subject_prefix);
        subject.push_str(key);
        self.client
            .publish(subject, bytes.into())
            .await
            .map_err(|e| ReceiptError(e.to_string()))
    }

    /// Forgets a receipt, so the event can be delivered again (its digest
    /// failed and it was dead-lettered).
    ///
    /// # Errors
    /// [`ReceiptError`] when the bucket refuses.
    pub async fn forget(&self, key: &str) -> Result<(), ReceiptError> {
        self.store
            .delete(key)
            .await
            .map_err(|e| ReceiptError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_and_stable() {
        let k = receipt_key("ops-hook", "evt 1/ä.*>");
        assert!(k.starts_with("ops-hook."));
        assert!(
            k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(k, receipt_key("ops-hook", "evt 1/ä.*>"));
        assert_ne!(k, receipt_key("other", "evt 1/ä.*>"));
        // The hex is the one `hex` writes (receipts written before stay readable).
        let digest = Sha256::digest("evt 1/ä.*>".as_bytes());
        assert_eq!(k, format!("ops-hook.{}", hex::encode(&digest[..20])));
        let mut h = Sha256::new();
        h.update(b"ops-hook\0evt 1");
        assert_eq!(
            idempotency_key("ops-hook", "evt 1"),
            format!("msg_{}", hex::encode(&h.finalize()[..16]))
        );
    }
}
