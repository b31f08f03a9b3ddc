//! Dead-lettering: undeliverable events, kept with why they failed.
//!
//! A dead letter is the original payload and headers, published to
//! `<prefix>.<channel>.<destination>` on the DLQ stream, plus `Herald-Dlq-*`
//! headers. The worker awaits the PubAck before it terminates the original, so an
//! event is never dropped: if the DLQ cannot be written, the event is retried.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, Message};
use chrono::{DateTime, Utc};

/// Why an event was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The message is not a usable event (not JSON, no id, too large, ...).
    BadInput,
    /// The event could not be rendered (a template error).
    Render,
    /// The provider refused it in a way retrying cannot fix.
    Permanent,
    /// Every attempt failed.
    Exhausted,
}

impl DeadLetterReason {
    /// The name used in the `Herald-Dlq-Reason` header and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::BadInput => "bad_input",
            DeadLetterReason::Render => "render",
            DeadLetterReason::Permanent => "permanent",
            DeadLetterReason::Exhausted => "exhausted",
        }
    }
}

/// What is recorded with a dead letter.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    /// The class of failure.
    pub reason: DeadLetterReason,
    /// The error, for the operator.
    pub error: &'a str,
    /// The provider's status, if it answered.
    pub status: Option<u16>,
    /// The start of the provider's answer.
    pub excerpt: Option<&'a str>,
    /// Attempts made.
    pub attempts: u32,
}

/// Header names written on dead letters.
pub mod headers {
    /// `bad_input`, `render`, `permanent` or `exhausted`.
    pub const REASON: &str = "Herald-Dlq-Reason";
    /// The error message.
    pub const ERROR: &str = "Herald-Dlq-Error";
    /// The provider's status code.
    pub const STATUS: &str = "Herald-Dlq-Status";
    /// The start of the provider's answer.
    pub const RESPONSE: &str = "Herald-Dlq-Response";
    /// Attempts made.
    pub const ATTEMPTS: &str = "Herald-Dlq-Attempts";
    /// The subject the event was published on.
    pub const SUBJECT: &str = "Herald-Dlq-Subject";
    /// The event's sequence in the event stream.
    pub const STREAM_SEQ: &str = "Herald-Dlq-Stream-Seq";
    /// The destination that gave up.
    pub const DESTINATION: &str = "Herald-Dlq-Destination";
    /// Its channel.
    pub const CHANNEL: &str = "Herald-Dlq-Channel";
    /// When it gave up (RFC 3339).
    pub const FAILED_AT: &str = "Herald-Dlq-Failed-At";
    /// The original `Nats-Msg-Id`, if any.
    pub const ORIGINAL_MSG_ID: &str = "Herald-Dlq-Msg-Id";
}

impl<'a> DeadLetter<'a> {
    /// A dead letter for a failure the provider never saw (bad input, render errors).
    pub fn local(reason: DeadLetterReason, error: &'a str, attempts: u32) -> Self {
        Self {
            reason,
            error,
            status: None,
            excerpt: None,
            attempts,
        }
    }
}

/// A dead letter could not be stored.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to the dead-letter stream: {0}")]
pub struct DlqError(String);

/// Where dead letters go.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    js: jetstream::Context,
    prefix: String,
    max_text: usize,
}

/// Header values may not hold line breaks; keep them printable and bounded.
fn header_safe(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > max {
        let mut end = max;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

impl DeadLetters {
    /// Dead letters published under `prefix`; texts cut to `max_text` bytes.
    pub fn new(js: jetstream::Context, prefix: impl Into<String>, max_text: usize) -> Self {
        Self {
            js,
            prefix: prefix.into(),
            max_text,
        }
    }

    /// The subject for a destination's dead letters.
    pub fn subject(&self, channel: &str, destination: &str) -> String {
        format!("{}.{channel}.{destination}", self.prefix)
    }

    /// Stores a dead letter and waits until JetStream has it. Returns its sequence.
    ///
    /// # Errors
    /// [`DlqError`] when the DLQ stream does not confirm the write.
    pub async fn publish(
        &self,
        channel: &str,
        destination: &str,
        msg: &Message,
        letter: &DeadLetter<'_>,
        now: DateTime<Utc>,
    ) -> Result<u64, DlqError> {
        let (stream, seq) = msg
            .info()
            .map(|i| (i.stream.to_string(), i.stream_sequence))
            .unwrap_or_default();
        let mut h = HeaderMap::new();
        let mut original_id = None;
        if let Some(orig) = &msg.headers {
            for (name, values) in orig.iter() {
                let name_str: &str = name.as_ref();
                if name_str.eq_ignore_ascii_case("Nats-Msg-Id") {
                    original_id = values.first().map(|v| v.as_str().to_string());
                    continue;
                }
                for v in values {
                    h.append(name.clone(), v.clone());
                }
            }
        }
        let max = self.max_text;
        h.insert(headers::REASON, letter.reason.as_str());
        h.insert(
            headers::ERROR,
            header_safe(letter.error, max.max(64)).as_str(),
        );
        if let Some(s) = letter.status {
            h.insert(headers::STATUS, s.to_string().as_str());
        }
        if let Some(x) = letter.excerpt {
            h.insert(headers::RESPONSE, header_safe(x, max).as_str());
        }
        h.insert(headers::ATTEMPTS, letter.attempts.to_string().as_str());
        // A replayed event keeps the subject it was first published on.
        let subject =
            crate::replay::original_subject(msg.headers.as_ref()).unwrap_or(msg.subject.as_str());
        h.insert(headers::SUBJECT, subject);
        h.insert(headers::STREAM_SEQ, seq.to_string().as_str());
        h.insert(headers::DESTINATION, destination);
        h.insert(headers::CHANNEL, channel);
        h.insert(
            headers::FAILED_AT,
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .as_str(),
        );
        if let Some(id) = original_id {
            h.insert(headers::ORIGINAL_MSG_ID, id.as_str());
        }
        h.insert(
            "Nats-Msg-Id",
            format!("dlq-{destination}-{stream}-{seq}").as_str(),
        );
        let ack = self
            .js
            .publish_with_headers(self.subject(channel, destination), h, msg.payload.clone())
            .await
            .map_err(|e| DlqError(e.to_string()))?
            .await
            .map_err(|e| DlqError(e.to_string()))?;
        Ok(ack.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_single_line_and_bounded() {
        assert_eq!(header_safe("a\r\nb", 10), "a  b");
        assert_eq!(header_safe("ééé", 3), "é…");
    }
}
