//! A channel worker binary (`herald-webhook`) run as a child process.

use std::ffi::OsString;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tempfile::TempDir;
use tokio::time::Instant;

use crate::binaries::binary;

/// A worker process: killed on drop; its standard error goes to a temp file.
#[derive(Debug)]
pub struct WorkerProcess {
    name: String,
    child: Child,
    exited: Option<ExitStatus>,
    logs: TempDir,
}

/// How to start a worker.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    binary: String,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
}

impl WorkerCommand {
    /// `<binary> --config <config>`, logging at `info` and serving metrics on a
    /// free loopback port (`HERALD_METRICS_LISTEN=127.0.0.1:0`, so parallel
    /// workers never fight over the default port) unless `env` says otherwise.
    pub fn new(binary: &str, config: &Path) -> Self {
        Self {
            binary: binary.to_string(),
            args: vec!["--config".into(), config.as_os_str().to_owned()],
            env: vec![
                ("HERALD_LOG".into(), "info".into()),
                ("HERALD_METRICS_LISTEN".into(), "127.0.0.1:0".into()),
            ],
        }
    }

    /// `herald-webhook --config <config>`.
    pub fn webhook(config: &Path) -> Self {
        Self::new("herald-webhook", config)
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable (`NATS_URL`, `HERALD_LOG`, ...).
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Starts the process.
    ///
    /// # Errors
    /// When the binary cannot be built or started.
    pub fn spawn(&self) -> Result<WorkerProcess> {
        let path = binary(&self.binary)?;
        let logs = tempfile::Builder::new()
            .prefix("herald-worker-")
            .tempdir()?;
        let stderr = File::create(logs.path().join("stderr.log"))?;
        let stdout = File::create(logs.path().join("stdout.log"))?;
        let mut cmd = Command::new(&path);
        cmd.args(&self.args)
            .env_remove("HERALD_CONFIG")
            .env_remove("NATS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", path.display()))?;
        Ok(WorkerProcess {
            name: self.binary.clone(),
            child,
            exited: None,
            logs,
        })
    }

    /// Runs the process to completion (for `--check` and failing starts), with a deadline.
    ///
    /// # Errors
    /// When it cannot start or does not finish within `deadline`.
    pub async fn run(&self, deadline: Duration) -> Result<Finished> {
        let mut p = self.spawn()?;
        let status = p.wait_exit(deadline).await?;
        Ok(Finished {
            status,
            stdout: p.stdout(),
            stderr: p.stderr(),
        })
    }
}

/// A process that ran to its end.
#[derive(Debug, Clone)]
pub struct Finished {
    /// How it ended.
    pub status: ExitStatus,
    /// What it printed on standard output.
    pub stdout: String,
    /// What it printed on standard error.
    pub stderr: String,
}

impl WorkerProcess {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with SIGKILL and waits for it to exit.
    ///
    /// # Errors
    /// When the process cannot be signalled or reaped.
    pub fn kill(&mut self) -> Result<()> {
        if self.exited.is_some() {
            return Ok(());
        }
        if self.child.try_wait()?.is_none() {
            self.child.kill().context("killing the worker")?;
        }
        self.exited = Some(self.child.wait().context("reaping the worker")?);
        Ok(())
    }

    /// Asks it to stop gracefully with SIGTERM (does not wait; see [`Self::wait_exit`]).
    ///
    /// # Errors
    /// When `kill -TERM` fails.
    pub fn terminate(&self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed: {status}", self.pid());
        }
        Ok(())
    }

    /// Waits until it exits, failing (and killing it) after `deadline`.
    ///
    /// # Errors
    /// When it is still running after `deadline`.
    pub async fn wait_exit(&mut self, deadline: Duration) -> Result<ExitStatus> {
        if let Some(s) = self.exited {
            return Ok(s);
        }
        let end = Instant::now() + deadline;
        loop {
            if let Some(s) = self.child.try_wait()? {
                self.exited = Some(s);
                return Ok(s);
            }
            if Instant::now() >= end {
                self.kill()?;
                bail!(
                    "{} did not exit within {deadline:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Its peak resident set size so far in KiB (`VmHWM` in `/proc/<pid>/status`).
    ///
    /// # Errors
    /// When the process has exited or the file has no `VmHWM` line.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no VmHWM in {path}"))
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.exited.is_none() && matches!(self.child.try_wait(), Ok(None))
    }

    /// The address its `/metrics`, `/healthz` and `/readyz` server bound, read
    /// from its log (`Serving /metrics, ... address=<addr>`), waiting for it.
    ///
    /// # Errors
    /// When it does not log the address within `deadline`.
    pub async fn metrics_addr(&mut self, deadline: Duration) -> Result<SocketAddr> {
        let end = Instant::now() + deadline;
        loop {
            if let Some(addr) = metrics_addr_in(&self.stderr()) {
                return Ok(addr);
            }
            if !self.is_running() || Instant::now() >= end {
                bail!(
                    "{} did not log its metrics address; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Where its standard error is written.
    pub fn stderr_path(&self) -> PathBuf {
        self.logs.path().join("stderr.log")
    }

    /// Its standard error so far (its logs).
    pub fn stderr(&self) -> String {
        read_lossy(&self.stderr_path())
    }

    /// Its standard output so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.logs.path().join("stdout.log"))
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address in a `Serving /metrics ... address=<addr>` log line (text or
/// JSON logs, with or without colours).
fn metrics_addr_in(log: &str) -> Option<SocketAddr> {
    let line = log.lines().find(|l| l.contains("Serving /metrics"))?;
    let plain = strip_ansi(line);
    let at = plain.find("address")?;
    plain[at + "address".len()..]
        .trim_start_matches(|c: char| c == '"' || c == '=' || c == ':' || c.is_whitespace())
        .split(|c: char| c == '"' || c == ',' || c == '}' || c.is_whitespace())
        .next()?
        .parse()
        .ok()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_address_is_read_from_text_and_json_logs() {
        let text = "2025 INFO herald_core::worker: Serving /metrics, /healthz and /readyz. \u{1b}[3maddress\u{1b}[0m\u{1b}[2m=\u{1b}[0m127.0.0.1:41234\n";
        assert_eq!(metrics_addr_in(text), "127.0.0.1:41234".parse().ok());
        let json = r#"{"fields":{"message":"Serving /metrics, /healthz and /readyz.","address":"127.0.0.1:9"}}"#;
        assert_eq!(metrics_addr_in(json), "127.0.0.1:9".parse().ok());
        assert_eq!(metrics_addr_in("nothing"), None);
    }
}
