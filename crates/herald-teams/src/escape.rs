//! Escaping untrusted event text for the Markdown Teams renders.
//!
//! Adaptive Card `TextBlock`s and `FactSet`s render a Markdown subset (bold,
//! italic, lists, links); Teams also turns bare URLs into links. Connector
//! MessageCards render Markdown and a little HTML. Event text must show as
//! typed and never become a link, a list, a heading or markup.
//!
//! Every character that can open a construct anywhere in a line is
//! backslash-escaped (`\ * _ ` ~ [ ] < >`), as are the block markers that only
//! count at the start of a line (`# - + =`, and the `.` or `)` after a leading
//! number), and the `:` of `://` and the `.` of a leading `www.`, so no autolink
//! forms. Characters that mean nothing elsewhere (the `-` in `postgres-prod`, the
//! `.` in `1.27.0`) are left alone: Teams on Android and iOS shows escaping
//! backslashes literally (MicrosoftDocs/msteams-docs#5793), so needless escapes
//! would clutter every card there. For MessageCards, `<`, `>` and `&` become HTML
//! entities instead, since connector text accepts HTML. An `&` that starts an
//! entity (`&amp;`) is escaped so it shows as typed rather than decoded.

/// How `<`, `>` and `&` are neutralised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Angle {
    /// `\<` and `\>` (Adaptive Cards render no HTML; `&` is left as it is).
    Backslash,
    /// `&lt;`, `&gt;`, `&amp;` (connector cards render some HTML).
    Entities,
}

/// Text for an Adaptive Card `TextBlock`, `Fact` or `fallbackText`.
pub(crate) fn adaptive(s: &str) -> String {
    escape(s, Angle::Backslash)
}

/// Text for a connector MessageCard's `title`, `text` or fact.
pub(crate) fn connector(s: &str) -> String {
    escape(s, Angle::Entities)
}

/// Text Teams shows as plain text (button labels, a MessageCard's `summary`):
/// nothing there is rendered, but to be safe in any client the characters that
/// could form markup (`< > [ ] * ` ~`) are dropped, and line breaks and runs
/// of white space become one space.
pub(crate) fn plain(s: &str) -> String {
    let kept: String = s
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '[' | ']' | '*' | '`' | '~'))
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn escape(s: &str, angle: Angle) -> String {
    let normalised = s.replace("\r\n", "\n").replace('\r', "\n");
    let chars: Vec<char> = normalised.chars().collect();
    let mut out = String::with_capacity(normalised.len() + 16);
    let mut line_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            out.push(c);
            line_start = true;
            i += 1;
            continue;
        }
        if line_start {
            if c == ' ' || c == '\t' {
                out.push(c);
                i += 1;
                continue;
            }
            line_start = false;
            if matches!(c, '#' | '-' | '+' | '=') {
                out.push('\\');
                out.push(c);
                i += 1;
                continue;
            }
            if c.is_ascii_digit() {
                while i < chars.len() && chars[i].is_ascii_digit() {
                    out.push(chars[i]);
                    i += 1;
                }
                if i < chars.len() && matches!(chars[i], '.' | ')') {
                    out.push('\\');
                    out.push(chars[i]);
                    i += 1;
                }
                continue;
            }
        }
        match c {
            '<' | '>' | '&' if angle == Angle::Entities => out.push_str(match c {
                '<' => "&lt;",
                '>' => "&gt;",
                _ => "&amp;",
            }),
            '\\' | '*' | '_' | '`' | '~' | '[' | ']' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '&' if entity_at(&chars, i) => out.push_str("\\&"),
            ':' if chars.get(i + 1) == Some(&'/') && chars.get(i + 2) == Some(&'/') => {
                out.push_str("\\:");
            }
            '.' if starts_www(&chars, i) => out.push_str("\\."),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// True when the `&` at `amp` starts an HTML entity (`&amp;`, `&#60;`,
/// `&#x3C;`), which Markdown would decode: escaped, it shows as typed.
fn entity_at(chars: &[char], amp: usize) -> bool {
    let rest = &chars[amp + 1..];
    let Some(end) = rest.iter().take(34).position(|c| *c == ';') else {
        return false;
    };
    let name = &rest[..end];
    match name {
        ['#', 'x' | 'X', hex @ ..] => {
            !hex.is_empty() && hex.len() <= 6 && hex.iter().all(char::is_ascii_hexdigit)
        }
        ['#', dec @ ..] => {
            !dec.is_empty() && dec.len() <= 7 && dec.iter().all(char::is_ascii_digit)
        }
        [first, ..] => first.is_ascii_alphabetic() && name.iter().all(char::is_ascii_alphanumeric),
        [] => false,
    }
}

/// True when the `.` at `dot` ends a word `www`.
fn starts_www(chars: &[char], dot: usize) -> bool {
    dot >= 3
        && chars[dot - 3..dot]
            .iter()
            .all(|c| c.eq_ignore_ascii_case(&'w'))
        && (dot == 3 || !chars[dot - 4].is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_left_alone() {
        for s in [
            "Rotation Completed: postgres-prod",
            "nginx:1.26.0 → nginx:1.27.0",
            "2026-11-23 14:30 UTC",
            "admin@example.com (production)",
        ] {
            assert_eq!(adaptive(s), s);
        }
    }

    #[test]
    fn inline_markup_is_neutralised() {
        assert_eq!(
            adaptive("*bold* _it_ ~s~ `c` [x](https://evil.example) <b>"),
            r"\*bold\* \_it\_ \~s\~ \`c\` \[x\](https\://evil.example) \<b\>"
        );
        assert_eq!(adaptive(r"a \ b"), r"a \\ b");
        assert_eq!(adaptive("see www.evil.example"), r"see www\.evil.example");
        assert_eq!(adaptive("awww.x"), "awww.x");
    }

    #[test]
    fn block_markers_are_neutralised_only_at_line_start() {
        assert_eq!(
            adaptive("# h\n- a\n + b\n1. c\n12) d\n=="),
            "\\# h\n\\- a\n \\+ b\n1\\. c\n12\\) d\n\\=="
        );
        assert_eq!(adaptive("a - b + c # d 1. e"), "a - b + c # d 1. e");
        assert_eq!(adaptive("x\r\n- y\r- z"), "x\n\\- y\n\\- z");
    }

    #[test]
    fn entities_show_as_typed() {
        assert_eq!(
            adaptive("&amp; &lt; &#60; &#x3C; R&D a & b &;"),
            r"\&amp; \&lt; \&#60; \&#x3C; R&D a & b &;"
        );
    }

    #[test]
    fn plain_text_loses_markup_characters() {
        assert_eq!(
            plain("<!here> [x](https://evil.example)\n *runbook*  `now`"),
            "!here x(https://evil.example) runbook now"
        );
        assert_eq!(plain("Approve"), "Approve");
    }

    #[test]
    fn connector_text_uses_entities_for_html() {
        assert_eq!(
            connector("<script>alert(1)</script> &amp; *b*"),
            r"&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; \*b\*"
        );
    }
}
