//! The HTML part: the headline, the summary, a table of the facts, the links
//! and action buttons, with inline styles (mail clients ignore style sheets).
//! Every piece of event text is HTML-escaped; only http(s) links of the event's
//! `links` and `actions` become anchors.

use herald_core::present::View;
use herald_core::text::{escape_html, truncate};

use crate::render::{
    LINK_TITLE_CHARS, MAX_LINKS, SUBJECT_TITLE_CHARS, SUMMARY_CHARS, lines, one_line, rows,
    safe_url,
};

/// The HTML part for one event; `subject` becomes the document title.
pub(crate) fn html(view: &View<'_>, subject: &str) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width\">\n");
    out.push_str(&format!("<title>{}</title>\n", escape_html(subject)));
    out.push_str("</head>\n<body style=\"margin:0;padding:16px;font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#111827;background:#ffffff;\">\n");
    out.push_str(&format!(
        "<table role=\"presentation\" style=\"border-collapse:collapse;width:100%;max-width:680px;border-left:4px solid {};\">\n<tr><td style=\"padding:12px 16px;\">\n",
        view.color
    ));
    let headline = truncate(&one_line(&view.headline()), SUBJECT_TITLE_CHARS + 8).into_owned();
    out.push_str(&format!(
        "<h1 style=\"font-size:18px;margin:0 0 12px;\">{}</h1>\n",
        escape_html(&headline)
    ));
    let summary = lines(view.summary);
    let summary = summary.trim();
    if !summary.is_empty() {
        let summary = truncate(summary, SUMMARY_CHARS);
        out.push_str("<p style=\"margin:0 0 12px;\">");
        out.push_str(&escape_html(&summary).replace('\n', "<br>\n"));
        out.push_str("</p>\n");
    }
    let (rows, hidden) = rows(view);
    out.push_str("<table style=\"border-collapse:collapse;font-size:14px;margin:0 0 12px;\">\n");
    for r in &rows {
        out.push_str(&format!(
            "<tr><th style=\"text-align:left;vertical-align:top;padding:4px 16px 4px 0;color:#4b5563;white-space:nowrap;\">{}</th><td style=\"padding:4px 0;\">{}</td></tr>\n",
            escape_html(&r.title),
            escape_html(&r.value)
        ));
    }
    if hidden > 0 {
        out.push_str(&format!(
            "<tr><td colspan=\"2\" style=\"padding:4px 0;color:#6b7280;\">… {hidden} more not shown</td></tr>\n"
        ));
    }
    out.push_str("</table>\n");
    let links = anchors(view.links);
    if !links.is_empty() {
        out.push_str("<p style=\"margin:0 0 12px;font-size:14px;\">");
        let joined: Vec<String> = links
            .iter()
            .map(|(title, url)| format!("<a href=\"{url}\">{title}</a>"))
            .collect();
        out.push_str(&joined.join(" · "));
        out.push_str("</p>\n");
    }
    let actions = anchors(view.actions);
    if !actions.is_empty() {
        out.push_str("<p style=\"margin:0 0 12px;\">");
        for (title, url) in &actions {
            out.push_str(&format!(
                "<a href=\"{url}\" style=\"display:inline-block;margin:0 8px 8px 0;padding:6px 14px;border-radius:4px;background:#1f2937;color:#ffffff;text-decoration:none;font-size:14px;\">{title}</a>\n"
            ));
        }
        out.push_str("</p>\n");
    }
    out.push_str(&format!(
        "<p style=\"margin:12px 0 0;font-size:12px;color:#6b7280;\">{} · sent by Herald</p>\n",
        escape_html(&one_line(&view.footer))
    ));
    out.push_str("</td></tr>\n</table>\n</body>\n</html>\n");
    out
}

/// `(escaped title, escaped URL)` of the links that may be anchors.
fn anchors(links: &[herald_core::envelope::Link]) -> Vec<(String, String)> {
    links
        .iter()
        .filter_map(|l| {
            let url = safe_url(&l.url)?;
            let title = truncate(&one_line(&l.title), LINK_TITLE_CHARS).into_owned();
            Some((
                escape_html(&title).into_owned(),
                escape_html(&url).into_owned(),
            ))
        })
        .take(MAX_LINKS)
        .collect()
}
