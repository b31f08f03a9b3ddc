//! The demo's mail catcher: a small SMTP server on loopback that accepts every
//! mail (plain SMTP, as a local relay would on port 25) and records its
//! recipients and subject for the transcript. The email tests use a full SMTP
//! server with STARTTLS and AUTH; the demo needs only somewhere to deliver.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::providers::Call;

/// The largest mail accepted, in bytes.
const MAX_MAIL: usize = 10 * 1024 * 1024;

/// A running catcher.
#[derive(Debug)]
pub(crate) struct Mailbox {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Mailbox {
    /// Starts listening on a free loopback port; each mail becomes a [`Call`]
    /// of provider `email` on `calls`.
    pub(crate) async fn start(calls: watch::Sender<Vec<Call>>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot open the demo's mail catcher")?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let calls = calls.clone();
                tokio::spawn(async move {
                    if let Err(e) = session(stream, &calls).await {
                        tracing::debug!(error = %e, "A demo SMTP session ended early.");
                    }
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// The port mail is accepted on.
    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops accepting mail.
    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

/// One SMTP conversation: greeting, envelope, data, as many mails as the client sends.
async fn session(stream: TcpStream, calls: &watch::Sender<Vec<Call>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 herald-demo ESMTP ready\r\n").await?;
    let mut rcpts: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-herald-demo\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "MAIL" => {
                rcpts.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let to = command
                    .split_once(':')
                    .map(|(_, a)| a.trim().trim_start_matches('<').trim_end_matches('>'))
                    .unwrap_or_default();
                rcpts.push(to.to_owned());
                b"250 OK\r\n"
            }
            "RSET" => {
                rcpts.clear();
                b"250 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mail = read_data(&mut lines).await?;
                let call = Call {
                    provider: "email".to_owned(),
                    action: format!("mail to {}", rcpts.join(", ")),
                    text: header(&mail, "Subject").unwrap_or_default(),
                    status: 250,
                };
                calls.send_modify(|all| all.push(call));
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The mail up to the lone `.` line, dot-stuffing undone.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut R) -> std::io::Result<String> {
    let mut mail = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 || line.trim_end_matches(['\r', '\n']) == "." {
            return Ok(mail);
        }
        if mail.len() < MAX_MAIL {
            mail.push_str(line.strip_prefix('.').unwrap_or(&line));
        }
    }
}

/// An unfolded header of the mail, if present.
fn header(mail: &str, name: &str) -> Option<String> {
    let head = mail.split("\r\n\r\n").next().unwrap_or(mail);
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_headers_are_read_whole() {
        let mail = "From: a@example.com\r\nSubject: [dsops] Rotation Failed:\r\n postgres-prod (production)\r\nX-Priority: 1\r\n\r\nbody\r\nSubject: no\r\n";
        assert_eq!(
            header(mail, "subject").as_deref(),
            Some("[dsops] Rotation Failed: postgres-prod (production)")
        );
        assert_eq!(header(mail, "X-Priority").as_deref(), Some("1"));
        assert_eq!(header(mail, "Cc"), None);
    }
}
