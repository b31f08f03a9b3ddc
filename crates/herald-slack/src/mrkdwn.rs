//! Slack text: escaping untrusted event text, cutting escaped text to a limit, and
//! the few control sequences Herald itself writes (links).
//!
//! Slack reads `&`, `<` and `>` as control characters: `<!here>`, `<@U123>`,
//! `<#C123>` and `<https://x|label>` are mentions and links. Event text has all
//! three escaped (`&amp;`, `&lt;`, `&gt;`), so no sequence in it can become a
//! mention, a channel ping or a disguised link. Text blocks holding event text are
//! also sent with `verbatim: true`, so Slack does not auto-link bare names either.
//!
//! Lengths are counted in UTF-16 code units, never fewer than Slack's characters,
//! so a limit kept here is kept there.

use std::borrow::Cow;

use herald_core::text::ELLIPSIS;

/// `s` with `&`, `<` and `>` escaped.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The length Slack's limits are checked against (UTF-16 code units).
pub fn len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Already escaped (or Herald-written) text cut to at most `max` units, ending in
/// `…` when cut. The cut never splits an entity (`&amp;`) or a control sequence
/// (`<https://x|label>`): it moves back before it.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if len(text) <= max {
        return Cow::Borrowed(text);
    }
    if max == 0 {
        return Cow::Borrowed("");
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
    let mut head = &text[..end];
    if let Some(open) = head.rfind('<')
        && !head[open..].contains('>')
    {
        head = &head[..open];
    }
    if let Some(amp) = head.rfind('&')
        && !head[amp..].contains(';')
    {
        head = &head[..amp];
    }
    let mut out = String::with_capacity(head.len() + ELLIPSIS.len_utf8());
    out.push_str(head);
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// Event text escaped, then cut to `max` units.
pub fn fit(raw: &str, max: usize) -> String {
    clip(&escape(raw), max).into_owned()
}

/// A URL Slack may link to or put on a button: an absolute `http`/`https` URL of
/// at most 3,000 characters, normalised (spaces and quotes percent-encoded).
/// `None` for anything else (`javascript:`, relative paths, garbage).
pub fn safe_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let s = url.as_str();
    (len(s) <= 3000).then(|| s.to_owned())
}

/// `<url|label>`: a link written in message text. The URL must come from
/// [`safe_url`]; `|` and `>` in it are percent-encoded and `&` escaped, and the
/// label is escaped event text.
pub fn link(url: &str, label: &str) -> String {
    let mut target = String::with_capacity(url.len() + 8);
    for c in url.chars() {
        match c {
            '&' => target.push_str("&amp;"),
            '<' => target.push_str("%3C"),
            '>' => target.push_str("%3E"),
            '|' => target.push_str("%7C"),
            c => target.push(c),
        }
    }
    format!("<{target}|{}>", fit(label, 200))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_disarms_control_sequences() {
        assert_eq!(
            escape("<!channel> <@U1> <https://e|x> a&b"),
            "&lt;!channel&gt; &lt;@U1&gt; &lt;https://e|x&gt; a&amp;b"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn clipping_keeps_the_limit_and_whole_entities() {
        assert_eq!(clip("hello", 5), "hello");
        assert_eq!(clip("hello!", 5), "hell…");
        // Cutting at 5 would split `&amp;`: the cut moves before it.
        assert_eq!(clip("ab&amp;cd", 5), "ab…");
        assert_eq!(clip("x <https://e.example|lbl> y", 12), "x …");
        assert_eq!(clip("abc", 0), "");
        let long = fit(&"<".repeat(5000), 3000);
        assert!(len(&long) <= 3000);
        assert!(long.ends_with("&lt;…"));
        // Emoji count as two units.
        assert!(len(&clip(&"😀".repeat(10), 7)) <= 7);
    }

    #[test]
    fn only_web_urls_become_links() {
        assert_eq!(
            safe_url("https://example.com/a?b=1&c=<d>").as_deref(),
            Some("https://example.com/a?b=1&c=%3Cd%3E")
        );
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url("/relative"), None);
        assert_eq!(
            link("https://e.example/?a=1&b=|", "<@U1> *go*"),
            "<https://e.example/?a=1&amp;b=%7C|&lt;@U1&gt; *go*>"
        );
    }
}
