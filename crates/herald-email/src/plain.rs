//! The plain-text part, laid out like dsops' mails: the headline, the summary,
//! one `Label: value` line per fact, the links, and where the event came from.
//! Plain text needs no escaping; control characters are removed and every
//! piece is cut to its limit.

use herald_core::present::View;
use herald_core::text::truncate;

use crate::render::{
    LINK_TITLE_CHARS, MAX_LINKS, SUBJECT_TITLE_CHARS, SUMMARY_CHARS, lines, one_line, rows,
    safe_url,
};

/// The text part for one event.
pub(crate) fn text(view: &View<'_>) -> String {
    let mut out = String::new();
    out.push_str(&truncate(
        &one_line(&view.headline()),
        SUBJECT_TITLE_CHARS + 8,
    ));
    out.push_str("\n\n");
    let summary = lines(view.summary);
    let summary = summary.trim();
    if !summary.is_empty() {
        out.push_str(&truncate(summary, SUMMARY_CHARS));
        out.push_str("\n\n");
    }
    let (rows, hidden) = rows(view);
    for r in &rows {
        out.push_str(&r.title);
        out.push_str(": ");
        out.push_str(&r.value);
        out.push('\n');
    }
    if hidden > 0 {
        out.push_str(&format!("… {hidden} more not shown\n"));
    }
    for (heading, links) in [("Links", view.links), ("Actions", view.actions)] {
        let shown: Vec<(String, String)> = links
            .iter()
            .filter_map(|l| {
                safe_url(&l.url).map(|u| {
                    (
                        truncate(&one_line(&l.title), LINK_TITLE_CHARS).into_owned(),
                        u,
                    )
                })
            })
            .take(MAX_LINKS)
            .collect();
        if shown.is_empty() {
            continue;
        }
        out.push('\n');
        out.push_str(heading);
        out.push_str(":\n");
        for (title, url) in shown {
            out.push_str(&format!("- {title}: {url}\n"));
        }
    }
    out.push_str("\n-- \n");
    out.push_str(&one_line(&view.footer));
    out.push_str(" · sent by Herald\n");
    out
}
