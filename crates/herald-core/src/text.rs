//! Text helpers every renderer needs: cutting to a provider's limit and escaping
//! untrusted event text for its target markup.
//!
//! Event text is untrusted: a publisher (or whoever controls a resource name)
//! must never be able to ping a channel, inject a link or break a layout. Each
//! renderer escapes with the function for its target, then truncates with
//! [`truncate`] so the marker `…` shows that text was cut.

use std::borrow::Cow;

/// `s` on one line: every run of line breaks and other control characters
/// (CR, LF, tab, NUL, escape, the Unicode line and paragraph separators)
/// becomes one space. For one-line provider fields (a title, a summary, an
/// email header) that event text must not split or spoof.
pub fn one_line(s: &str) -> Cow<'_, str> {
    let breaks = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !s.contains(breaks) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if breaks(c) {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    Cow::Owned(out)
}

/// The marker appended to cut text.
pub const ELLIPSIS: char = '…';

/// `s` cut to at most `max` characters (Unicode scalar values), ending in `…`
/// when it was cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if max == 0 {
        return Cow::Borrowed("");
    }
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let end = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            let mut out = String::with_capacity(end + ELLIPSIS.len_utf8());
            out.push_str(&s[..end]);
            out.push(ELLIPSIS);
            Cow::Owned(out)
        }
    }
}

/// `s` cut to at most `max` UTF-16 code units (the unit JavaScript-based APIs
/// such as Discord and Teams count), ending in `…` when it was cut.
pub fn truncate_utf16(s: &str, max: usize) -> Cow<'_, str> {
    if s.encode_utf16().count() <= max {
        return Cow::Borrowed(s);
    }
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        if used + c.len_utf16() + 1 > max {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    if max > 0 {
        out.push(ELLIPSIS);
    }
    Cow::Owned(out)
}

/// `s` cut to at most `max` bytes on a character boundary, ending in `…` (which
/// counts towards `max`) when it was cut.
pub fn truncate_bytes(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let room = max.saturating_sub(ELLIPSIS.len_utf8());
    let mut end = room;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(max);
    out.push_str(&s[..end]);
    if max >= ELLIPSIS.len_utf8() {
        out.push(ELLIPSIS);
    }
    Cow::Owned(out)
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Escapes text for Markdown (CommonMark and Discord's dialect): a backslash
/// before every character that could start emphasis, code, a link, a spoiler, a
/// table cell or an HTML tag anywhere (`\ * _ ~ ` | [ ] < >`), and before the
/// characters that only mean something at the start of a line (a heading `#`, a
/// quote `>`, a list `-` `+` or `1.`, a setext rule `=`). So `postgres-prod`
/// stays readable while `- item` and `# title` stay text.
pub fn escape_markdown(s: &str) -> Cow<'_, str> {
    const ANYWHERE: &[char] = &['\\', '*', '_', '~', '`', '|', '[', ']', '<', '>'];
    const LINE_START: &[char] = &['#', '-', '+', '='];
    let needs = s.contains(ANYWHERE)
        || s.lines().any(|l| {
            let t = l.trim_start();
            t.starts_with(LINE_START) || ordered_marker(t).is_some()
        });
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let body = line.trim_start();
        out.push_str(&line[..line.len() - body.len()]);
        let mut rest = body;
        if rest.starts_with(LINE_START) {
            out.push('\\');
        } else if let Some(digits) = ordered_marker(rest) {
            // `1.` or `1)` starts an ordered list: escape the punctuation.
            out.push_str(&rest[..digits]);
            out.push('\\');
            rest = &rest[digits..];
        }
        for c in rest.chars() {
            if ANYWHERE.contains(&c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The length of the digits of an ordered-list marker (`12.` or `12)`) that
/// starts `line`, if one does.
fn ordered_marker(line: &str) -> Option<usize> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0 && matches!(line.as_bytes().get(digits), Some(b'.' | b')'))).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_limits_and_marks_the_cut() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello!", 5), "hell…");
        assert_eq!(truncate("héllo wörld", 4).chars().count(), 4);
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate_bytes("héllo", 4), "h…");
        assert!(truncate_bytes(&"é".repeat(100), 51).len() <= 51);
        // 😀 is two UTF-16 units.
        let smileys = "😀".repeat(10);
        let t = truncate_utf16(&smileys, 7);
        assert!(t.encode_utf16().count() <= 7, "{t}");
        assert!(t.ends_with('…'));
        assert_eq!(truncate_utf16("short", 10), "short");
    }

    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            escape_html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            escape_markdown("[x](https://evil.example) *b* `c`"),
            "\\[x\\](https://evil.example) \\*b\\* \\`c\\`"
        );
        assert_eq!(escape_markdown("plain words"), "plain words");
        assert_eq!(escape_markdown("postgres-prod v1.2"), "postgres-prod v1.2");
        assert_eq!(
            escape_markdown("# title\n - item\n12. step\n> quote ||spoiler||"),
            "\\# title\n \\- item\n12\\. step\n\\> quote \\|\\|spoiler\\|\\|"
        );
        assert_eq!(escape_markdown("a\\b <@123>"), "a\\\\b \\<@123\\>");
    }

    #[test]
    fn one_line_flattens_breaks_and_controls() {
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(
            one_line("a\r\nX-Injected: 1\u{0}\u{1b}[31m\u{2028}b"),
            "a X-Injected: 1 [31m b"
        );
        assert!(matches!(one_line("no breaks"), Cow::Borrowed(_)));
    }
}
