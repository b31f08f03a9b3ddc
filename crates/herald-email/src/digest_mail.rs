//! The mail for a digest (many events of one window) and for the expiry report
//! (the certificates and secrets those events say expire within the horizon).
//!
//! Both have a plain-text and an HTML part built from the same rows; every piece
//! of event text is escaped in HTML and kept on one line in text.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use herald_core::digest::{Batch, Digest, ExpiryItem, expiry_items};
use herald_core::envelope::Severity;
use herald_core::text::{escape_html, truncate};
use herald_core::{DeliveryContext, Envelope};

use crate::config::Priority;
use crate::header::{header_text, message_id};
use crate::render::{Composer, LINK_TITLE_CHARS, Mail, SUBJECT_TITLE_CHARS, one_line, safe_url};

/// Events listed in a digest; a last line says how many more there were.
pub const DIGEST_MAX_EVENTS: usize = 500;
/// Characters of an event's summary kept in a digest line.
pub const DIGEST_SUMMARY_CHARS: usize = 300;
/// Rows listed in the expiry report.
pub const REPORT_MAX_ROWS: usize = 1000;

/// What a destination with a schedule sends when a window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Every event of the window, grouped by type and severity.
    Digest,
    /// The expiry report, looking `horizon` ahead.
    Expiry {
        /// How far ahead items are listed.
        horizon: TimeDelta,
    },
}

fn label(batch: Batch) -> &'static str {
    match batch {
        Batch::Hourly => "Hourly",
        Batch::Daily => "Daily",
        Batch::Weekly => "Weekly",
        Batch::Immediate | Batch::Every(_) => "",
    }
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

const HTML_HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width\">\n";
const BODY: &str = "<body style=\"margin:0;padding:16px;font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#111827;background:#ffffff;\">\n";
const TH: &str = "text-align:left;padding:4px 12px 4px 0;color:#4b5563;border-bottom:1px solid #e5e7eb;white-space:nowrap;";
const TD: &str = "padding:4px 12px 4px 0;vertical-align:top;border-bottom:1px solid #f3f4f6;";

/// What differs between a digest's mail and the report's.
struct Parts {
    subject: String,
    priority: Priority,
    kind: &'static str,
    id: String,
    text: String,
    html: String,
}

impl Composer {
    fn prefix_for(&self, events: &[Envelope]) -> String {
        match &self.subject_prefix {
            Some(p) => header_text(p.trim(), 60),
            None => {
                let first = events.first().and_then(|e| e.source.as_deref());
                match first {
                    Some(s) if events.iter().all(|e| e.source.as_deref() == Some(s)) => {
                        format!("[{}]", header_text(s.trim(), 58))
                    }
                    _ => "[Herald]".to_owned(),
                }
            }
        }
    }

    fn mail(&self, ctx: &DeliveryContext, parts: Parts) -> Mail {
        let Parts {
            subject,
            priority,
            kind,
            id,
            text,
            html,
        } = parts;
        let a = &self.addresses;
        Mail {
            from: a.from.clone(),
            to: a.to.clone(),
            cc: a.cc.clone(),
            bcc: a.bcc.clone(),
            reply_to: a.reply_to.clone(),
            message_id: message_id(&ctx.idempotency_key, a.from.email.domain()),
            date: ctx.now,
            priority,
            event_id: header_text(&id, 200),
            event_type: kind.to_owned(),
            text,
            html,
            subject,
        }
    }

    /// The mail for a closed window: a digest or the expiry report.
    pub(crate) fn compose_window(
        &self,
        d: &Digest,
        batch: Batch,
        tz: Tz,
        kind: Kind,
        ctx: &DeliveryContext,
    ) -> Option<Mail> {
        match kind {
            Kind::Digest => Some(self.compose_digest(d, batch, tz, ctx)),
            Kind::Expiry { horizon } => self.compose_report(d, batch, tz, horizon, ctx),
        }
    }

    fn compose_digest(&self, d: &Digest, batch: Batch, tz: Tz, ctx: &DeliveryContext) -> Mail {
        let n = d.events.len();
        let failures = d.events.iter().filter(|e| e.severity.is_failure()).count();
        let counts: Vec<String> = d
            .severity_counts()
            .iter()
            .map(|(s, c)| format!("{c} {}", s.as_str()))
            .collect();
        let title = format!("{} digest", label(batch)).trim().to_owned();
        let mut subject = format!(
            "{} {}: {}",
            self.prefix_for(&d.events),
            capitalise(&title),
            plural(n, "event", "events")
        );
        if failures > 0 {
            subject.push_str(&format!(", {}", plural(failures, "failure", "failures")));
        }
        subject.push_str(&format!(
            " ({} to {})",
            local(d.start, tz),
            local(d.end, tz)
        ));
        let subject = header_text(&subject, SUBJECT_TITLE_CHARS + 80);
        let priority = if failures > 0 {
            self.priority.on_failure
        } else if d.events.iter().all(|e| e.severity == Severity::Success) {
            self.priority.on_success
        } else {
            self.priority.otherwise
        };
        let window = format!("{} to {} ({tz})", local(d.start, tz), local(d.end, tz));

        let mut text = format!(
            "{}\n{window}\n\n{}\n",
            one_line(&subject),
            counts.join(" · ")
        );
        let mut html = String::with_capacity(8192);
        html.push_str(HTML_HEAD);
        html.push_str(&format!(
            "<title>{}</title>\n</head>\n{BODY}",
            escape_html(&subject)
        ));
        html.push_str(&format!(
            "<h1 style=\"font-size:18px;margin:0 0 4px;\">{}</h1>\n<p style=\"margin:0 0 12px;color:#4b5563;\">{} · {}</p>\n",
            escape_html(&format!("{}: {}", capitalise(&title), plural(n, "event", "events"))),
            escape_html(&window),
            escape_html(&counts.join(" · "))
        ));
        let mut shown = 0;
        for g in d.groups() {
            let heading = format!(
                "{} · {} ({})",
                g.event_type,
                g.severity.as_str(),
                g.events.len()
            );
            text.push_str(&format!("\n{}\n", one_line(&heading)));
            html.push_str(&format!(
                "<h2 style=\"font-size:15px;margin:16px 0 4px;border-left:4px solid {};padding-left:8px;\">{}</h2>\n",
                g.severity.color_hex(),
                escape_html(&heading)
            ));
            html.push_str(&format!("<table style=\"border-collapse:collapse;font-size:13px;width:100%;max-width:900px;\">\n<tr><th style=\"{TH}\">Time</th><th style=\"{TH}\">Event</th><th style=\"{TH}\">Summary</th></tr>\n"));
            for e in &g.events {
                if shown == DIGEST_MAX_EVENTS {
                    break;
                }
                shown += 1;
                let when = local(e.time, tz);
                let title = truncate(&one_line(&e.title), SUBJECT_TITLE_CHARS).into_owned();
                let env = e
                    .environment
                    .as_deref()
                    .map(|v| format!(" ({})", one_line(v)))
                    .unwrap_or_default();
                let summary = truncate(&one_line(&e.summary), DIGEST_SUMMARY_CHARS).into_owned();
                let link = e
                    .links
                    .iter()
                    .find_map(|l| safe_url(&l.url).map(|u| (l, u)));
                text.push_str(&format!("- {when}  {title}{env}"));
                if !summary.is_empty() {
                    text.push_str(&format!(" — {summary}"));
                }
                if let Some((_, url)) = &link {
                    text.push_str(&format!(" <{url}>"));
                }
                text.push('\n');
                let title_html = match &link {
                    Some((l, url)) => format!(
                        "<a href=\"{}\" title=\"{}\">{}</a>",
                        escape_html(url),
                        escape_html(&truncate(&one_line(&l.title), LINK_TITLE_CHARS)),
                        escape_html(&title)
                    ),
                    None => escape_html(&title).into_owned(),
                };
                html.push_str(&format!(
                    "<tr><td style=\"{TD}white-space:nowrap;\">{}</td><td style=\"{TD}\">{title_html}{}</td><td style=\"{TD}\">{}</td></tr>\n",
                    escape_html(&when),
                    escape_html(&env),
                    escape_html(&summary)
                ));
            }
            html.push_str("</table>\n");
        }
        if n > shown {
            let more = format!("… {} more not shown", n - shown);
            text.push_str(&format!("\n{more}\n"));
            html.push_str(&format!("<p style=\"color:#6b7280;\">{more}</p>\n"));
        }
        let footer = format!(
            "Digest of {} · {} · sent by Herald",
            d.destination, d.schedule
        );
        text.push_str(&format!("\n-- \n{}\n", one_line(&footer)));
        html.push_str(&format!(
            "<p style=\"margin:16px 0 0;font-size:12px;color:#6b7280;\">{}</p>\n</body>\n</html>\n",
            escape_html(&footer)
        ));
        let id = format!("digest:{}:{}", d.destination, d.end.timestamp_millis());
        self.mail(
            ctx,
            Parts {
                subject,
                priority,
                kind: "digest",
                id,
                text,
                html,
            },
        )
    }

    fn compose_report(
        &self,
        d: &Digest,
        batch: Batch,
        tz: Tz,
        horizon: TimeDelta,
        ctx: &DeliveryContext,
    ) -> Option<Mail> {
        let rows = expiry_items(&d.events, ctx.now, horizon);
        if rows.is_empty() {
            return None;
        }
        let days = horizon.num_days();
        let certs = rows
            .iter()
            .filter(|r| r.kind == herald_core::digest::ItemKind::Certificate)
            .count();
        let secrets = rows.len() - certs;
        let expired = rows.iter().filter(|r| r.days_left < 0).count();
        let title = format!("{} expiry report", label(batch)).trim().to_owned();
        let summary = format!(
            "{} and {} expire within {days} days{}",
            plural(certs, "certificate", "certificates"),
            plural(secrets, "secret", "secrets"),
            if expired > 0 {
                format!(" ({expired} already expired)")
            } else {
                String::new()
            }
        );
        let subject = header_text(
            &format!(
                "{} {}: {summary}",
                self.prefix_for(&d.events),
                capitalise(&title)
            ),
            SUBJECT_TITLE_CHARS + 80,
        );
        let soonest = rows.first().map_or(i64::MAX, |r| r.days_left);
        let priority = if soonest <= 7 {
            self.priority.on_failure
        } else {
            self.priority.otherwise
        };
        let as_of = local(ctx.now, tz);

        let mut text = format!(
            "{}\nAs of {as_of} ({tz}), sorted by expiry date.\n\n",
            one_line(&subject)
        );
        text.push_str("Expires     Days  Kind         Name · Where · Source · Environment\n");
        let mut html = String::with_capacity(8192);
        html.push_str(HTML_HEAD);
        html.push_str(&format!(
            "<title>{}</title>\n</head>\n{BODY}",
            escape_html(&subject)
        ));
        html.push_str(&format!(
            "<h1 style=\"font-size:18px;margin:0 0 4px;\">{}</h1>\n<p style=\"margin:0 0 12px;color:#4b5563;\">{} · as of {} ({})</p>\n",
            escape_html(&capitalise(&title)),
            escape_html(&summary),
            escape_html(&as_of),
            escape_html(&tz.to_string())
        ));
        html.push_str(&format!(
            "<table style=\"border-collapse:collapse;font-size:13px;width:100%;max-width:900px;\">\n<tr><th style=\"{TH}\">Expires</th><th style=\"{TH}\">Days left</th><th style=\"{TH}\">Kind</th><th style=\"{TH}\">Name</th><th style=\"{TH}\">Where</th><th style=\"{TH}\">Source</th><th style=\"{TH}\">Environment</th></tr>\n"
        ));
        for r in rows.iter().take(REPORT_MAX_ROWS) {
            text.push_str(&report_line(r));
            html.push_str(&report_row(r));
        }
        if rows.len() > REPORT_MAX_ROWS {
            let more = format!("… {} more not shown", rows.len() - REPORT_MAX_ROWS);
            text.push_str(&format!("{more}\n"));
            html.push_str(&format!(
                "<tr><td colspan=\"7\" style=\"{TD}color:#6b7280;\">{more}</td></tr>\n"
            ));
        }
        html.push_str("</table>\n");
        let footer = format!(
            "Expiry report of {} · {} · sent by Herald",
            d.destination, d.schedule
        );
        text.push_str(&format!("\n-- \n{}\n", one_line(&footer)));
        html.push_str(&format!(
            "<p style=\"margin:16px 0 0;font-size:12px;color:#6b7280;\">{}</p>\n</body>\n</html>\n",
            escape_html(&footer)
        ));
        let id = format!("report:{}:{}", d.destination, d.end.timestamp_millis());
        Some(self.mail(
            ctx,
            Parts {
                subject,
                priority,
                kind: "report.expiry",
                id,
                text,
                html,
            },
        ))
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn cell(v: Option<&str>) -> String {
    v.map(|s| truncate(&one_line(s), 120).into_owned())
        .unwrap_or_default()
}

fn report_line(r: &ExpiryItem) -> String {
    let rest: Vec<String> = [
        Some(r.name.as_str()),
        r.container.as_deref(),
        r.source.as_deref(),
        r.environment.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(|s| cell(Some(s)))
    .collect();
    format!(
        "{}  {:>4}  {:<11}  {}\n",
        r.expires,
        r.days_left,
        r.kind.as_str(),
        rest.join(" · ")
    )
}

fn report_row(r: &ExpiryItem) -> String {
    let colour = if r.days_left < 0 {
        "#b91c1c"
    } else if r.days_left <= 14 {
        "#b45309"
    } else {
        "#111827"
    };
    let name = escape_html(&cell(Some(&r.name))).into_owned();
    let name = match r.link.as_deref().and_then(safe_url) {
        Some(url) => format!("<a href=\"{}\">{name}</a>", escape_html(&url)),
        None => name,
    };
    format!(
        "<tr><td style=\"{TD}white-space:nowrap;color:{colour};\">{}</td><td style=\"{TD}color:{colour};\">{}</td><td style=\"{TD}\">{}</td><td style=\"{TD}\">{name}</td><td style=\"{TD}\">{}</td><td style=\"{TD}\">{}</td><td style=\"{TD}\">{}</td></tr>\n",
        r.expires,
        r.days_left,
        r.kind.as_str(),
        escape_html(&cell(r.container.as_deref())),
        escape_html(&cell(r.source.as_deref())),
        escape_html(&cell(r.environment.as_deref())),
    )
}
