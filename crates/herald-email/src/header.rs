//! Header safety: event text that goes into a header, and the stable Message-ID.
//!
//! No CR or LF from an event may reach a header (it would start a new header or
//! the body), so every control character becomes a space before the text is used.

use herald_core::text::truncate;

/// `text` fit for one header line: control characters (CR, LF, tab, the other C0
/// and C1 controls, the Unicode line and paragraph separators) become spaces,
/// runs of spaces collapse, and the result is cut to `max` characters with `…`.
pub fn header_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if !space && !out.is_empty() {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    let trimmed = out.trim_end();
    truncate(trimmed, max).into_owned()
}

/// The Message-ID of one event's mail to one destination: `<key@domain>`, where
/// `key` is the delivery's idempotency key (a hash of the destination and the
/// event id, `msg_<hex>`), so every retry of the same mail carries the same id.
pub fn message_id(idempotency_key: &str, domain: &str) -> String {
    let key: String = idempotency_key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    let domain: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        .collect();
    let domain = if domain.is_empty() {
        "herald.invalid"
    } else {
        &domain
    };
    format!("<{key}@{domain}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_break_survives() {
        let t = header_text(
            "Rotation\r\nBcc: victim@example.com\n\tX-Evil: 1\u{2028}end",
            200,
        );
        assert_eq!(t, "Rotation Bcc: victim@example.com X-Evil: 1 end");
        assert!(!t.contains(['\r', '\n']));
        assert_eq!(header_text("  a   b ", 10), "a b");
        assert_eq!(header_text(&"x".repeat(20), 5), "xxxx…");
    }

    #[test]
    fn message_ids_are_stable_and_clean() {
        assert_eq!(
            message_id("msg_0123abcd", "example.com"),
            "<msg_0123abcd@example.com>"
        );
        assert_eq!(
            message_id("msg_1>\r\nX: y", "ex>ample.com"),
            "<msg_1Xy@example.com>"
        );
        assert_eq!(message_id("k", ""), "<k@herald.invalid>");
    }
}
