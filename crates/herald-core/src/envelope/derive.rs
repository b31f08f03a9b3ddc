//! Defaults derived from the event type when the publisher leaves them out.

use super::Severity;

/// The severity an event type implies: `failed` → error, `expiring` → warning,
/// `completed` → success, anything else → info.
pub fn derive_severity(event_type: &str) -> Severity {
    let event = event_type
        .rsplit_once('.')
        .map_or(event_type, |(_, e)| e)
        .to_ascii_lowercase();
    // Split once; the words are looked up many times below.
    let words: Vec<&str> = event.split(['_', '-']).collect();
    let has = |w: &str| words.contains(&w);
    if has("critical") || has("detected") && event_type.starts_with("incident") {
        Severity::Critical
    } else if has("failed") || has("failure") || has("error") || has("expired") {
        Severity::Error
    } else if has("expiring")
        || has("rollback")
        || has("triggered")
        || has("conflict")
        || has("rejected")
        || has("warning")
    {
        Severity::Warning
    } else if has("completed") || has("success") || has("succeeded") || has("approved") {
        Severity::Success
    } else {
        Severity::Info
    }
}

/// Turns `update.request_created` into `Update Request Created`.
pub fn humanize(event_type: &str) -> String {
    let mut out = String::with_capacity(event_type.len() + 4);
    for word in event_type
        .split(['.', '_', '-', ' '])
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The default title: `Rotation Failed: postgres-prod`, or just `Rotation Failed`.
pub fn derive_title(event_type: &str, resource: Option<&str>) -> String {
    let base = humanize(event_type);
    match resource {
        Some(r) if !r.is_empty() => format!("{base}: {r}"),
        _ => base,
    }
}

/// The default summary: `Rotation failed for postgres-prod in production.`
pub(super) fn derive_summary(
    event_type: &str,
    resource: Option<&str>,
    environment: Option<&str>,
    error: Option<&str>,
) -> String {
    let mut words = humanize(event_type).to_lowercase();
    if let Some(first) = words.get(..1) {
        let upper = first.to_uppercase();
        words.replace_range(..1, &upper);
    }
    if let Some(r) = resource.filter(|r| !r.is_empty()) {
        words.push_str(" for ");
        words.push_str(r);
    }
    if let Some(e) = environment.filter(|e| !e.is_empty()) {
        words.push_str(" in ");
        words.push_str(e);
    }
    match error.filter(|e| !e.is_empty()) {
        Some(err) => format!("{words}: {err}"),
        None => format!("{words}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_the_event_name() {
        assert_eq!(derive_severity("rotation.failed"), Severity::Error);
        assert_eq!(derive_severity("update.rollback_failed"), Severity::Error);
        assert_eq!(derive_severity("cert.expired"), Severity::Error);
        assert_eq!(derive_severity("cert.expiring"), Severity::Warning);
        assert_eq!(derive_severity("rotation.rollback"), Severity::Warning);
        assert_eq!(derive_severity("sync.conflict"), Severity::Warning);
        assert_eq!(derive_severity("update.completed"), Severity::Success);
        assert_eq!(derive_severity("rotation.success"), Severity::Success);
        assert_eq!(derive_severity("update.approved"), Severity::Success);
        assert_eq!(derive_severity("rotation.started"), Severity::Info);
        assert_eq!(derive_severity("incident.detected"), Severity::Critical);
        assert_eq!(derive_severity("vault.error"), Severity::Error);
        assert_eq!(derive_severity("report"), Severity::Info);
    }

    #[test]
    fn titles_and_summaries_read_well() {
        assert_eq!(
            derive_title("rotation.failed", Some("postgres-prod")),
            "Rotation Failed: postgres-prod"
        );
        assert_eq!(
            derive_title("update.request_created", None),
            "Update Request Created"
        );
        assert_eq!(
            derive_summary(
                "rotation.failed",
                Some("postgres-prod"),
                Some("production"),
                Some("timeout")
            ),
            "Rotation failed for postgres-prod in production: timeout"
        );
        assert_eq!(
            derive_summary("scan.completed", None, None, None),
            "Scan completed."
        );
    }
}
