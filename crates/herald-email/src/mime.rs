//! The SMTP wire form: a `multipart/alternative` MIME message (text, then
//! HTML) built with lettre, and its envelope. Deterministic for one event and
//! destination: the date comes from the context and the boundary from the
//! idempotency key, so a golden file can hold it.

use std::time::SystemTime;

use lettre::Message;
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use crate::render::Mail;

/// A header lettre has no type for, from text that is already one line.
fn raw(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned())
}

/// A boundary that none of the parts contains: a hash of the key, changed
/// until it is absent from the content (a hostile event cannot end a part).
fn boundary(key: &str, mail: &Mail) -> String {
    let mut n = 0u32;
    loop {
        let digest = Sha256::digest(format!("{key}:{n}").as_bytes());
        let b = format!("herald-{}", hex::encode(&digest[..12]));
        if !mail.text.contains(&b) && !mail.html.contains(&b) && !mail.subject.contains(&b) {
            return b;
        }
        n += 1;
    }
}

/// The message, formatted, and its envelope (`bcc` included, never in a header).
///
/// # Errors
/// lettre's message when the message cannot be built (no recipient).
pub(crate) fn build(mail: &Mail, key: &str) -> Result<(Envelope, Vec<u8>), String> {
    let mut b = Message::builder()
        .from(mail.from.clone())
        .subject(mail.subject.clone())
        .date(SystemTime::from(mail.date))
        .message_id(Some(mail.message_id.clone()))
        .user_agent(format!("herald-email/{}", env!("CARGO_PKG_VERSION")));
    for m in &mail.to {
        b = b.to(m.clone());
    }
    for m in &mail.cc {
        b = b.cc(m.clone());
    }
    for m in &mail.bcc {
        b = b.bcc(m.clone());
    }
    if let Some(r) = &mail.reply_to {
        b = b.reply_to(r.clone());
    }
    b = b
        .raw_header(raw("X-Priority", mail.priority.x_priority()))
        .raw_header(raw("Importance", mail.priority.importance()))
        .raw_header(raw("Auto-Submitted", "auto-generated"))
        .raw_header(raw("X-Auto-Response-Suppress", "All"))
        .raw_header(raw("X-Herald-Event-Id", &mail.event_id))
        .raw_header(raw("X-Herald-Event-Type", &mail.event_type));
    let body = MultiPart::alternative()
        .boundary(boundary(key, mail))
        .singlepart(SinglePart::plain(mail.text.clone()))
        .singlepart(SinglePart::html(mail.html.clone()));
    let message = b.multipart(body).map_err(|e| e.to_string())?;
    Ok((message.envelope().clone(), message.formatted()))
}
