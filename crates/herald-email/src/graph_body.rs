//! The Microsoft Graph wire form: the JSON body of `POST /users/{sender}/sendMail`.
//!
//! Graph's JSON `message` carries one body, so the HTML part is sent and
//! Exchange derives the text view. The Message-ID goes in `internetMessageId`,
//! the priority in `importance`, Herald's own headers in `internetMessageHeaders`
//! (Graph accepts only custom `x-` headers there).

use lettre::message::Mailbox;
use serde_json::{Value, json};

use crate::render::Mail;

fn recipient(m: &Mailbox) -> Value {
    match &m.name {
        Some(name) if !name.is_empty() => {
            json!({"emailAddress": {"address": m.email.to_string(), "name": name}})
        }
        _ => json!({"emailAddress": {"address": m.email.to_string()}}),
    }
}

/// The `sendMail` body. `from` is set only when it is not the sending mailbox
/// (sending as a shared mailbox).
pub(crate) fn body(mail: &Mail, sender: &str, save_to_sent_items: bool) -> Value {
    let mut message = serde_json::Map::new();
    message.insert("subject".into(), json!(mail.subject));
    message.insert(
        "body".into(),
        json!({"contentType": "HTML", "content": mail.html}),
    );
    for (key, list) in [
        ("toRecipients", &mail.to),
        ("ccRecipients", &mail.cc),
        ("bccRecipients", &mail.bcc),
    ] {
        if !list.is_empty() {
            message.insert(key.into(), list.iter().map(recipient).collect());
        }
    }
    if let Some(r) = &mail.reply_to {
        message.insert("replyTo".into(), json!([recipient(r)]));
    }
    if !mail.from.email.to_string().eq_ignore_ascii_case(sender) {
        message.insert("from".into(), recipient(&mail.from));
    }
    message.insert("importance".into(), json!(mail.priority.importance()));
    message.insert("internetMessageId".into(), json!(mail.message_id));
    message.insert(
        "internetMessageHeaders".into(),
        json!([
            {"name": "X-Herald-Event-Id", "value": mail.event_id},
            {"name": "X-Herald-Event-Type", "value": mail.event_type},
            {"name": "X-Auto-Response-Suppress", "value": "All"},
        ]),
    );
    json!({"message": Value::Object(message), "saveToSentItems": save_to_sent_items})
}
