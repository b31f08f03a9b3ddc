//! A rendered mail with its wire form, and how `herald render` shows it.

use herald_core::channel::RequestPreview;
use lettre::address::Envelope;

use crate::render::Mail;

/// What goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// An SMTP transaction: the envelope (`bcc` included) and the MIME message.
    Smtp {
        /// `MAIL FROM` and the `RCPT TO` list.
        envelope: Envelope,
        /// The formatted message, as sent after `DATA`.
        mime: Vec<u8>,
    },
    /// A Graph `sendMail` request body (JSON).
    Graph {
        /// The JSON body.
        body: Vec<u8>,
    },
}

/// A rendered email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailPayload {
    /// The mail itself.
    pub mail: Mail,
    /// Its wire form for this destination's transport.
    pub wire: Wire,
}

impl EmailPayload {
    /// The MIME message as text, when the transport is SMTP.
    pub fn mime_text(&self) -> Option<String> {
        match &self.wire {
            Wire::Smtp { mime, .. } => Some(String::from_utf8_lossy(mime).into_owned()),
            Wire::Graph { .. } => None,
        }
    }

    /// The `sendMail` body, when the transport is Graph.
    pub fn graph_json(&self) -> Option<serde_json::Value> {
        match &self.wire {
            Wire::Graph { body } => serde_json::from_slice(body).ok(),
            Wire::Smtp { .. } => None,
        }
    }

    /// The mail's headers as a reader sees them (Bcc shown for the operator).
    pub fn headers(&self) -> Vec<(String, String)> {
        let m = &self.mail;
        let list = |v: &[lettre::message::Mailbox]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut h = vec![("From".to_owned(), m.from.to_string())];
        for (name, value) in [
            ("To", list(&m.to)),
            ("Cc", list(&m.cc)),
            ("Bcc", list(&m.bcc)),
        ] {
            if !value.is_empty() {
                h.push((name.to_owned(), value));
            }
        }
        if let Some(r) = &m.reply_to {
            h.push(("Reply-To".to_owned(), r.to_string()));
        }
        h.extend([
            ("Subject".to_owned(), m.subject.clone()),
            ("Message-ID".to_owned(), m.message_id.clone()),
            ("Date".to_owned(), m.date.to_rfc2822()),
            ("X-Priority".to_owned(), m.priority.x_priority().to_owned()),
            ("Importance".to_owned(), m.priority.importance().to_owned()),
            ("X-Herald-Event-Id".to_owned(), m.event_id.clone()),
            ("X-Herald-Event-Type".to_owned(), m.event_type.clone()),
        ]);
        h
    }

    /// The preview: for SMTP the mail's headers, then its text and HTML parts;
    /// for Graph the request, token redacted, with its JSON body.
    pub(crate) fn preview(&self, target: String) -> RequestPreview {
        match &self.wire {
            Wire::Smtp { envelope, .. } => {
                let mut headers = vec![
                    (
                        "MAIL FROM".to_owned(),
                        envelope.from().map(ToString::to_string).unwrap_or_default(),
                    ),
                    (
                        "RCPT TO".to_owned(),
                        envelope
                            .to()
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ];
                headers.extend(self.headers());
                let body = format!(
                    "----- text/plain -----\n{}\n----- text/html -----\n{}",
                    self.mail.text, self.mail.html
                );
                RequestPreview {
                    method: "SMTP".to_owned(),
                    target,
                    headers,
                    body,
                }
            }
            Wire::Graph { body } => RequestPreview {
                method: "POST".to_owned(),
                target,
                headers: vec![
                    ("Authorization".to_owned(), "Bearer <redacted>".to_owned()),
                    ("Content-Type".to_owned(), "application/json".to_owned()),
                ],
                body: String::from_utf8_lossy(body).into_owned(),
            },
        }
    }
}
