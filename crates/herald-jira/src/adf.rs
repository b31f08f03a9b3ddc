//! Atlassian Document Format: the few nodes Herald writes.
//!
//! Event text only ever becomes the `text` of text nodes, which Jira shows as
//! it is: a `<script>`, a `[x](url)` or an `@mention` stays inert text (mentions
//! and links are separate nodes and marks in ADF). The builders never make an
//! empty text node (ADF rejects them), drop control characters, turn line
//! breaks into `hardBreak` nodes, and mark links only for http and https URLs.

use serde_json::{Value, json};

/// A document: `{"version": 1, "type": "doc", "content": [...]}`.
pub(crate) fn doc(content: Vec<Value>) -> Value {
    let mut node = json!({"version": 1, "type": "doc"});
    node["content"] = Value::Array(content);
    node
}

/// A heading of `level` (1 to 6).
pub(crate) fn heading(level: u8, inline: Vec<Value>) -> Value {
    let mut node = json!({"type": "heading", "attrs": {"level": level.clamp(1, 6)}});
    if !inline.is_empty() {
        node["content"] = Value::Array(inline);
    }
    node
}

/// A paragraph (with no `content` when `inline` is empty: an empty paragraph
/// is valid, an empty text node is not).
pub(crate) fn paragraph(inline: Vec<Value>) -> Value {
    let mut node = json!({"type": "paragraph"});
    if !inline.is_empty() {
        node["content"] = Value::Array(inline);
    }
    node
}

/// Inline nodes for `s`: one text node per non-empty line, `hardBreak`s
/// between lines, control characters dropped (tabs become spaces).
pub(crate) fn text(s: &str) -> Vec<Value> {
    marked(s, &[])
}

/// Like [`text`], with `marks` on every text node.
pub(crate) fn marked(s: &str, marks: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut lines = clean(s).split('\n').map(str::to_owned).collect::<Vec<_>>();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    for (i, line) in lines.iter().enumerate() {
        if i > 0 && !out.is_empty() {
            out.push(json!({"type": "hardBreak"}));
        }
        if !line.is_empty() {
            let mut node = json!({"type": "text", "text": line});
            if !marks.is_empty() {
                node["marks"] = Value::Array(marks.to_vec());
            }
            out.push(node);
        }
    }
    out
}

/// Inline nodes for a link: `title` marked with a link to `url` when `url` is
/// an absolute http(s) URL (written in its normalised, percent-encoded form),
/// else `title (url)` as plain text. The URL stands in for an empty title.
pub(crate) fn link(title: &str, url: &str) -> Vec<Value> {
    let title = one_line(title);
    match reqwest::Url::parse(url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            let href = u.to_string();
            let shown = if title.is_empty() {
                href.clone()
            } else {
                title
            };
            marked(&shown, &[json!({"type": "link", "attrs": {"href": href}})])
        }
        _ if title.is_empty() => text(&one_line(url)),
        _ => text(&format!("{title} ({})", one_line(url))),
    }
}

/// A two-column table: a header cell (the label) and a cell (the value) per row.
pub(crate) fn table(rows: &[(String, String)]) -> Option<Value> {
    if rows.is_empty() {
        return None;
    }
    let rows: Vec<Value> = rows
        .iter()
        .map(|(label, value)| {
            json!({"type": "tableRow", "content": [
                {"type": "tableHeader", "content": [paragraph(text(label))]},
                {"type": "tableCell", "content": [paragraph(text(value))]},
            ]})
        })
        .collect();
    Some(json!({
        "type": "table",
        "attrs": {"isNumberColumnEnabled": false, "layout": "default"},
        "content": rows,
    }))
}

/// A bullet list with one paragraph per item; `None` without items.
pub(crate) fn bullet_list(items: Vec<Vec<Value>>) -> Option<Value> {
    let items: Vec<Value> = items
        .into_iter()
        .map(|inline| json!({"type": "listItem", "content": [paragraph(inline)]}))
        .collect();
    (!items.is_empty()).then(|| json!({"type": "bulletList", "content": items}))
}

/// The text of every text node in `node`, in order (to look for a marker).
pub(crate) fn plain_text(node: &Value) -> String {
    let mut out = String::new();
    collect(node, &mut out);
    out
}

fn collect(node: &Value, out: &mut String) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("text") {
                out.push_str(t);
                out.push(' ');
            }
            if let Some(content) = map.get("content") {
                collect(content, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}

/// `s` without control characters other than line feeds; tabs and carriage
/// returns become spaces.
fn clean(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' | '\r' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// `s` on one line: breaks and runs of spaces as one space, control
/// characters dropped, trimmed.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
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
    fn no_empty_text_nodes() {
        assert!(text("").is_empty());
        assert!(text("\n\n  \n").is_empty());
        let t = text("a\n\nb\u{0}\t");
        assert_eq!(
            t,
            vec![
                json!({"type":"text","text":"a"}),
                json!({"type":"hardBreak"}),
                json!({"type":"hardBreak"}),
                json!({"type":"text","text":"b "}),
            ]
        );
        assert_eq!(paragraph(text("")), json!({"type": "paragraph"}));
    }

    #[test]
    fn only_http_links_are_marked() {
        let l = link("Runbook", "https://wiki.example.com/a b?x=<y>");
        assert_eq!(
            l[0]["marks"][0]["attrs"]["href"],
            "https://wiki.example.com/a%20b?x=%3Cy%3E"
        );
        let j = link("x", "javascript:alert(1)");
        assert_eq!(
            j,
            vec![json!({"type":"text","text":"x (javascript:alert(1))"})]
        );
        assert!(link("", "https://e.example/")[0]["text"] == "https://e.example/");
    }

    #[test]
    fn plain_text_finds_markers() {
        let d = doc(vec![paragraph(text("hello")), paragraph(text("msg_1"))]);
        assert!(plain_text(&d).contains("msg_1"));
    }
}
