//! `herald dlq list` and `herald dlq show`.

use std::process::ExitCode;

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use herald_core::config::FleetConfig;
use herald_core::dlq::headers as dlq;

use super::read::{self, Letter};

/// Longest error shown in a list row.
const ERROR_WIDTH: usize = 60;

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn row(l: &Letter) -> String {
    format!(
        "{:<6} {:<20} {:<20} {:<10} {:<6} {:<24} {:<24} {}",
        l.seq,
        l.time.format("%Y-%m-%d %H:%M:%SZ"),
        l.destination(),
        l.header(dlq::REASON).unwrap_or("-"),
        l.header(dlq::STATUS).unwrap_or("-"),
        l.header(dlq::SUBJECT).unwrap_or("-"),
        cut(&l.event_id(), 24),
        cut(l.header(dlq::ERROR).unwrap_or("-"), ERROR_WIDTH),
    )
}

pub(super) async fn list(
    js: &jetstream::Context,
    config: &FleetConfig,
    destination: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<ExitCode> {
    let stream = read::dlq_stream(js, config).await?;
    let letters = read::all(&stream, &read::filter(config, destination), since).await?;
    if letters.is_empty() {
        println!(
            "No dead letters{}.",
            destination.map(|d| format!(" for {d}")).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<6} {:<20} {:<20} {:<10} {:<6} {:<24} {:<24} ERROR",
        "ID", "FAILED AT", "DESTINATION", "REASON", "STATUS", "SUBJECT", "EVENT ID"
    );
    for l in &letters {
        println!("{}", row(l));
    }
    println!("{} dead letter(s).", letters.len());
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn show(
    js: &jetstream::Context,
    config: &FleetConfig,
    id: u64,
) -> anyhow::Result<ExitCode> {
    let stream = read::dlq_stream(js, config).await?;
    let l = read::one(&stream, config, id).await?;
    println!("Dead letter {}", l.seq);
    let facts = [
        ("Destination", dlq::DESTINATION),
        ("Channel", dlq::CHANNEL),
        ("Reason", dlq::REASON),
        ("Error", dlq::ERROR),
        ("Status", dlq::STATUS),
        ("Response", dlq::RESPONSE),
        ("Attempts", dlq::ATTEMPTS),
        ("Subject", dlq::SUBJECT),
        ("Stream seq", dlq::STREAM_SEQ),
        ("Failed at", dlq::FAILED_AT),
    ];
    for (title, header) in facts {
        if let Some(v) = l.header(header) {
            println!("  {title:<12} {v}");
        }
    }
    println!("  {:<12} {}", "Event id", l.event_id());
    let others: Vec<String> = l
        .headers
        .iter()
        .filter(|(k, _)| {
            !AsRef::<str>::as_ref(*k)
                .to_ascii_lowercase()
                .starts_with("herald-dlq-")
        })
        .flat_map(|(k, vs)| {
            let k: &str = k.as_ref();
            vs.iter().map(move |v| format!("    {k}: {}", v.as_str()))
        })
        .collect();
    if !others.is_empty() {
        println!("Original headers:");
        for h in others {
            println!("{h}");
        }
    }
    println!("Payload:");
    match serde_json::from_slice::<serde_json::Value>(&l.payload) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Err(_) => println!("{}", String::from_utf8_lossy(&l.payload)),
    }
    Ok(ExitCode::SUCCESS)
}
