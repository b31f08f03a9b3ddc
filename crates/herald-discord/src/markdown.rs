//! Discord text: event text escaped for Discord's Markdown, cut to a limit.
//!
//! Every character that could start emphasis, code, a masked link, a heading, a
//! quote, a spoiler, a timestamp or a mention (`<@…>`) gets a backslash
//! ([`herald_core::text::escape_markdown`]). Lengths are counted in UTF-16 code
//! units, as Discord counts them.

use herald_core::text::{ELLIPSIS, escape_markdown};

/// The length Discord's limits are checked against (UTF-16 code units).
pub fn len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Event text escaped for Markdown, then cut to at most `max` units with `…`. The
/// cut never separates a backslash from the character it escapes.
pub fn fit(raw: &str, max: usize) -> String {
    let escaped = escape_markdown(raw);
    clip(&escaped, max)
}

/// Text cut to at most `max` units, ending in `…` when cut; a dangling escape
/// backslash at the cut is dropped.
pub fn clip(text: &str, max: usize) -> String {
    if len(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let room = max - ELLIPSIS.len_utf16();
    let mut used = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if used + c.len_utf16() > room {
            break;
        }
        used += c.len_utf16();
        end = i + c.len_utf8();
    }
    let head = &text[..end];
    let trailing = head.len() - head.trim_end_matches('\\').len();
    let head = if trailing % 2 == 1 {
        &head[..head.len() - 1]
    } else {
        head
    };
    format!("{head}{ELLIPSIS}")
}

/// A URL Discord may link to: an absolute `http(s)` URL of at most 2,048
/// characters, with parentheses percent-encoded so it cannot close a Markdown
/// link early. `None` for anything else.
pub fn safe_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let s = url.as_str().replace('(', "%28").replace(')', "%29");
    (len(&s) <= 2048).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_text_is_escaped_and_cut_cleanly() {
        assert_eq!(
            fit("[x](https://e.example) *b*", 100),
            "\\[x\\](https://e.example) \\*b\\*"
        );
        assert_eq!(fit("<@123> @everyone", 100), "\\<@123\\> @everyone");
        // `a\*…` not `a\…`: the cut drops the lone backslash.
        assert_eq!(fit("a*bcdef", 3), "a…");
        let long = fit(&"*".repeat(5000), 1024);
        assert!(len(&long) <= 1024 && long.ends_with('…'));
        assert!(long.trim_end_matches('…').ends_with("\\*"));
        assert_eq!(clip("😀😀😀", 3), "😀…");
    }

    #[test]
    fn only_web_urls_are_linked() {
        assert_eq!(
            safe_url("https://e.example/a_(b)").as_deref(),
            Some("https://e.example/a_%28b%29")
        );
        assert_eq!(safe_url("javascript:alert(1)"), None);
    }
}
