//! Reading dead letters back from the `HERALD_DLQ` stream.
//!
//! A dead letter is the original payload and headers, on
//! `herald.dlq.<channel>.<destination>`, with `Herald-Dlq-*` headers saying why.

use std::time::Duration;

use anyhow::{Context as _, Result};
use async_nats::jetstream;
use bytes::Bytes;

use crate::wait::wait_for_some;

/// The dead-letter stream workers create by default.
pub const DLQ_STREAM: &str = "HERALD_DLQ";

/// One stored dead letter.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its sequence in the DLQ stream.
    pub sequence: u64,
    /// `herald.dlq.<channel>.<destination>`.
    pub subject: String,
    /// Every header, names as stored.
    pub headers: Vec<(String, String)>,
    /// The original payload.
    pub payload: Bytes,
}

impl DeadLetter {
    /// The first value of a header (name compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Herald-Dlq-Reason`: `bad_input`, `render`, `permanent` or `exhausted`.
    pub fn reason(&self) -> Option<&str> {
        self.header("Herald-Dlq-Reason")
    }

    /// `Herald-Dlq-Error`.
    pub fn error(&self) -> Option<&str> {
        self.header("Herald-Dlq-Error")
    }

    /// `Herald-Dlq-Status`, as a number.
    pub fn status(&self) -> Option<u16> {
        self.header("Herald-Dlq-Status")?.parse().ok()
    }

    /// `Herald-Dlq-Response`: the start of the provider's answer.
    pub fn response(&self) -> Option<&str> {
        self.header("Herald-Dlq-Response")
    }

    /// `Herald-Dlq-Attempts`, as a number.
    pub fn attempts(&self) -> Option<u32> {
        self.header("Herald-Dlq-Attempts")?.parse().ok()
    }

    /// `Herald-Dlq-Destination`.
    pub fn destination(&self) -> Option<&str> {
        self.header("Herald-Dlq-Destination")
    }

    /// The payload as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// Every dead letter in [`DLQ_STREAM`], oldest first; none when the stream does not exist yet.
///
/// # Errors
/// When the stream exists but cannot be read.
pub async fn dead_letters(js: &jetstream::Context) -> Result<Vec<DeadLetter>> {
    let Ok(stream) = js.get_stream(DLQ_STREAM).await else {
        return Ok(Vec::new());
    };
    let info = stream.get_info().await.context("reading the DLQ stream")?;
    let mut out = Vec::new();
    if info.state.messages == 0 {
        return Ok(out);
    }
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let Ok(m) = stream.get_raw_message(seq).await else {
            continue;
        };
        let headers = m
            .headers
            .iter()
            .flat_map(|(k, vs)| {
                let k: &str = k.as_ref();
                vs.iter()
                    .map(move |v| (k.to_string(), v.as_str().to_string()))
            })
            .collect();
        out.push(DeadLetter {
            sequence: m.sequence,
            subject: m.subject.to_string(),
            headers,
            payload: m.payload,
        });
    }
    Ok(out)
}

/// Waits until at least `n` dead letters are stored, and returns them all.
///
/// # Errors
/// When fewer than `n` are stored after `deadline`.
pub async fn wait_for_dead_letters(
    js: &jetstream::Context,
    n: usize,
    deadline: Duration,
) -> Result<Vec<DeadLetter>> {
    wait_for_some(
        deadline,
        &format!("{n} dead letter(s) in {DLQ_STREAM}"),
        || async { dead_letters(js).await.ok().filter(|d| d.len() >= n) },
    )
    .await
}
