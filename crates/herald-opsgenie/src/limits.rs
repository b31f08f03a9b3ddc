//! Opsgenie's documented field limits (characters), and text kept within them.
//!
//! Message, alias, description and tags come from the Alert API documentation
//! (`docs.opsgenie.com/docs/alert-api`, "Alerts and Alert Fields"); details,
//! entity, source, user and note from the same field table. Opsgenie documents
//! HTML formatting in the message; the description and notes are escaped the
//! same way, to be safe wherever they are shown. The limit is counted on the
//! escaped text.

use herald_core::text::{ELLIPSIS, escape_html};

/// `message`.
pub const MESSAGE: usize = 130;
/// `alias`.
pub const ALIAS: usize = 512;
/// `description`.
pub const DESCRIPTION: usize = 15_000;
/// Tags per alert.
pub const TAGS: usize = 20;
/// Characters per tag.
pub const TAG: usize = 50;
/// `details`: keys and values together.
pub const DETAILS: usize = 8_000;
/// `entity`.
pub const ENTITY: usize = 512;
/// `source`.
pub const SOURCE: usize = 100;
/// `user`.
pub const USER: usize = 100;
/// `note`.
pub const NOTE: usize = 25_000;
/// Responders per alert.
pub const RESPONDERS: usize = 50;

/// `raw` HTML-escaped, cut so the escaped text has at most `max` characters
/// (ending in `…` when cut). An entity (`&amp;`) is never split.
pub fn html_within(raw: &str, max: usize) -> String {
    let escaped = escape_html(raw);
    if escaped.chars().count() <= max {
        return escaped.into_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    let mut buf = [0u8; 4];
    for c in raw.chars() {
        let piece = escape_html(c.encode_utf8(&mut buf));
        let n = piece.chars().count();
        if used + n + 1 > max {
            break;
        }
        used += n;
        out.push_str(&piece);
    }
    if max > 0 {
        out.push(ELLIPSIS);
    }
    out
}

/// Line breaks, tabs and other control characters as single spaces, trimmed:
/// for one-line fields.
pub fn one_line(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut space = false;
    for c in raw.chars() {
        if c.is_control() || c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_is_cut_between_entities() {
        assert_eq!(html_within("a<b", 10), "a&lt;b");
        let cut = html_within("&&&&&&", 12);
        assert_eq!(cut, "&amp;&amp;…");
        assert!(cut.chars().count() <= 12);
        assert_eq!(html_within(&"x".repeat(200), 130).chars().count(), 130);
    }

    #[test]
    fn one_line_collapses_breaks() {
        assert_eq!(one_line("  a\r\n\tb  c \n"), "a b c");
    }
}
