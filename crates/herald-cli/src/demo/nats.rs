//! Starting a throw-away `nats-server` with JetStream for the demo.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long the server may take to accept clients with JetStream ready.
const READY_DEADLINE: Duration = Duration::from_secs(15);
/// How often readiness is polled until the deadline.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Starts tried when the server exits at once (its port was taken meanwhile).
const START_ATTEMPTS: u32 = 3;

/// Why a start attempt failed.
#[derive(Debug)]
enum NotReady {
    /// The server exited: worth another attempt on another port.
    Exited(anyhow::Error),
    /// Anything else.
    Failed(anyhow::Error),
}

/// Where Debian's package installs the server; not on every user's `PATH`.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// Finds `nats-server`: the given path, else `PATH`, else the sbin directories.
pub(crate) fn find_binary(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("nats-server"))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// A running server with its temporary store; killed when stopped or dropped.
#[derive(Debug)]
pub(crate) struct NatsServer {
    child: Child,
    url: String,
    version: String,
    // Dropped after the child is killed: the store outlives the server.
    _dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `binary` on a free loopback port with JetStream and a temporary
    /// store, and waits until JetStream answers. Returns the server and a client.
    ///
    /// # Errors
    /// When the server exits, or JetStream is not ready within the deadline.
    pub(crate) async fn start(binary: &Path) -> anyhow::Result<(Self, async_nats::Client)> {
        let mut attempt = 1;
        loop {
            match Self::start_once(binary).await {
                Ok(started) => return Ok(started),
                // Another process may have taken the free port before the
                // server bound it: try again on another one.
                Err(NotReady::Exited(_)) if attempt < START_ATTEMPTS => attempt += 1,
                Err(NotReady::Exited(e) | NotReady::Failed(e)) => return Err(e),
            }
        }
    }

    async fn start_once(binary: &Path) -> Result<(Self, async_nats::Client), NotReady> {
        let dir = tempfile::Builder::new()
            .prefix("herald-demo-")
            .tempdir()
            .context("cannot create a temporary directory")
            .map_err(NotReady::Failed)?;
        let store = dir.path().join("jetstream");
        let log_path = dir.path().join("nats-server.log");
        let port = free_port().map_err(NotReady::Failed)?;
        let log = std::fs::File::create(&log_path)
            .context("cannot create the server log")
            .map_err(NotReady::Failed)?;
        let child = Command::new(binary)
            .arg("-js")
            .args(["-a", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .arg("-sd")
            .arg(&store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))
            .map_err(NotReady::Failed)?;
        let url = format!("nats://127.0.0.1:{port}");
        let mut server = Self {
            child,
            url,
            version: String::new(),
            _dir: dir,
        };
        match server.wait_ready(&log_path).await {
            Ok(client) => {
                server.version = client.server_info().version;
                Ok((server, client))
            }
            Err(e) => {
                server.stop().await;
                Err(e)
            }
        }
    }

    async fn wait_ready(&mut self, log: &Path) -> Result<async_nats::Client, NotReady> {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let exited = self
                .child
                .try_wait()
                .context("cannot watch nats-server")
                .map_err(NotReady::Failed)?;
            if let Some(status) = exited {
                return Err(NotReady::Exited(anyhow!(
                    "nats-server exited ({status}) before it was ready:\n{}",
                    tail(log)
                )));
            }
            let last_error = match self.try_connect().await {
                Ok(client) => return Ok(client),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(NotReady::Failed(anyhow!(
                    "nats-server was not ready within {}s ({last_error}):\n{}",
                    READY_DEADLINE.as_secs(),
                    tail(log)
                )));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Connects and asks the JetStream API for account information.
    async fn try_connect(&self) -> Result<async_nats::Client, String> {
        let client = async_nats::ConnectOptions::new()
            .name("herald-demo")
            .connection_timeout(Duration::from_secs(1))
            .connect(self.url.as_str())
            .await
            .map_err(|e| e.to_string())?;
        // Any answer from the JetStream API means it is up. (The raw request
        // works on 2.9, whose account info async-nats 0.51 cannot decode.)
        let info = client.request("$JS.API.INFO", bytes::Bytes::new());
        match tokio::time::timeout(Duration::from_secs(2), info).await {
            Ok(Ok(_)) => Ok(client),
            Ok(Err(e)) => Err(format!("JetStream: {e}")),
            Err(_) => Err("JetStream did not answer".into()),
        }
    }

    /// The client URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The server's version (`2.9.10`).
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// Kills the server and waits for it to exit.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A port free on loopback right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The last lines of the server's log, for error messages.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(10);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_path_must_be_executable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nats-server");
        assert_eq!(find_binary(Some(&missing)), None);
    }
}
