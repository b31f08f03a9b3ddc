//! A real `nats-server` with JetStream, on a free loopback port, with a temporary store.

use std::fs::File;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use async_nats::jetstream;
use tempfile::TempDir;
use tokio::time::Instant;

/// How long a starting server may take to accept connections with JetStream on.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// Client options for a server that asks for credentials or TLS.
pub type ClientOptions = Arc<dyn Fn() -> async_nats::ConnectOptions + Send + Sync>;

/// A `nats-server -js` process owned by the test: killed and its store removed on drop.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    /// Extra server configuration (`-c`), such as an `authorization` or `tls` block.
    config: Option<String>,
    /// How the test's own clients connect (credentials, TLS).
    client: ClientOptions,
}

impl std::fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsServer")
            .field("port", &self.port)
            .field("configured", &self.config.is_some())
            .finish_non_exhaustive()
    }
}

/// A port that was free a moment ago on 127.0.0.1.
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl NatsServer {
    /// Starts a server on a free port and waits until JetStream answers.
    ///
    /// # Errors
    /// When `nats-server` is not installed or does not become ready.
    pub async fn start() -> Result<Self> {
        Self::start_inner(None, Arc::new(async_nats::ConnectOptions::new)).await
    }

    /// Starts a server with `config` as its configuration file (`-c`; the
    /// port, address, JetStream and store still come from the command line),
    /// for authentication and TLS tests. `client` makes the options the test's
    /// own connections use (readiness, [`NatsServer::connect`]).
    ///
    /// # Errors
    /// When `nats-server` is not installed or does not become ready.
    pub async fn start_with_config(
        config: &str,
        client: impl Fn() -> async_nats::ConnectOptions + Send + Sync + 'static,
    ) -> Result<Self> {
        Self::start_inner(Some(config.to_owned()), Arc::new(client)).await
    }

    async fn start_inner(config: Option<String>, client: ClientOptions) -> Result<Self> {
        let mut last = None;
        // Another process may take the port between our probe and the server's
        // bind; try a few ports before giving up.
        for _ in 0..3 {
            let mut server = Self {
                child: None,
                port: free_port()?,
                dir: tempfile::Builder::new()
                    .prefix("herald-nats-")
                    .tempdir()
                    .context("creating the nats-server temp dir")?,
                config: config.clone(),
                client: client.clone(),
            };
            match server.launch().await {
                Ok(()) => return Ok(server),
                Err(e) if is_missing_binary(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("nats-server did not start")))
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The server's own log, for diagnostics.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A new client connection.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn connect(&self) -> Result<async_nats::Client> {
        (self.client)()
            .name("herald-testkit")
            .connection_timeout(Duration::from_secs(10))
            .connect(self.url())
            .await
            .with_context(|| format!("connecting to {}", self.url()))
    }

    /// A JetStream context on a new connection.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn jetstream(&self) -> Result<jetstream::Context> {
        Ok(jetstream::new(self.connect().await?))
    }

    /// Kills the server with SIGKILL (no clean shutdown) and waits for it to exit.
    ///
    /// # Errors
    /// When the process cannot be signalled.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing nats-server")?;
            child.wait().context("waiting for nats-server to exit")?;
        }
        Ok(())
    }

    /// Stops the server gracefully (SIGTERM: it flushes its store and closes
    /// client connections) and waits up to `deadline` for it to exit.
    ///
    /// # Errors
    /// When it cannot be signalled or does not exit in time (it is then killed).
    pub async fn terminate(&mut self, deadline: Duration) -> Result<()> {
        terminate_child(&mut self.child, "nats-server", deadline).await
    }

    /// Stops the server gracefully (see [`Self::terminate`]), then starts it
    /// again on the same port and store, and waits until JetStream answers.
    ///
    /// # Errors
    /// When the server does not stop or does not come back.
    pub async fn restart_gracefully(&mut self) -> Result<()> {
        self.terminate(READY_DEADLINE).await?;
        self.launch().await
    }

    /// Kills the server if it runs, then starts it again on the same port and
    /// store, and waits until JetStream answers.
    ///
    /// # Errors
    /// When the server does not come back.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill()?;
        self.launch().await
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    async fn launch(&mut self) -> Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("opening the nats-server log")?;
        let mut command = Command::new(server_binary());
        if let Some(config) = &self.config {
            let path = self.dir.path().join("nats-server.conf");
            std::fs::write(&path, config).context("writing the nats-server configuration")?;
            command.arg("-c").arg(path);
        }
        let child = command
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.store_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => bail!(MISSING),
            Err(e) => return Err(e).context("starting nats-server"),
        };
        self.child = Some(child);
        if let Err(e) = self.wait_ready().await {
            let log = self.log();
            self.kill()?;
            return Err(e.context(format!("nats-server log:\n{}", tail(&log, 20))));
        }
        Ok(())
    }

    /// Waits until the server accepts a client and answers a JetStream API call.
    async fn wait_ready(&mut self) -> Result<()> {
        let url = self.url();
        let end = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("nats-server exited at start ({status})");
            }
            if jetstream_answers(&url, (self.client)()).await {
                return Ok(());
            }
            if Instant::now() >= end {
                bail!("nats-server at {url} did not answer within {READY_DEADLINE:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Sends SIGTERM to `child` (when it runs) and waits up to `deadline` for it
/// to exit; then it is gone (`None`).
///
/// # Errors
/// When it cannot be signalled, or does not exit in time (it is then killed).
pub(crate) async fn terminate_child(
    child: &mut Option<Child>,
    what: &str,
    deadline: Duration,
) -> Result<()> {
    let Some(pid) = child.as_ref().map(Child::id) else {
        return Ok(());
    };
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .context("running kill -TERM")?;
    if !status.success() {
        bail!("kill -TERM {what} failed: {status}");
    }
    let end = Instant::now() + deadline;
    while let Some(c) = child.as_mut()
        && c.try_wait()?.is_none()
    {
        if Instant::now() >= end {
            if let Some(mut c) = child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            bail!("{what} did not stop within {deadline:?} of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    *child = None;
    Ok(())
}

/// True when a client can connect and JetStream answers `$JS.API.INFO`.
pub(crate) async fn jetstream_answers(url: &str, options: async_nats::ConnectOptions) -> bool {
    let Ok(Ok(client)) = tokio::time::timeout(
        Duration::from_secs(2),
        options
            .connection_timeout(Duration::from_secs(1))
            .connect(url),
    )
    .await
    else {
        return false;
    };
    let reply = tokio::time::timeout(
        Duration::from_secs(2),
        client.request("$JS.API.INFO", bytes::Bytes::new()),
    )
    .await;
    let ok = match reply {
        Ok(Ok(msg)) => serde_json::from_slice::<serde_json::Value>(&msg.payload)
            .is_ok_and(|v| v.get("error").is_none()),
        _ => false,
    };
    let _ = client.drain().await;
    ok
}

/// `nats-server` from `PATH`, else Debian's `/usr/sbin/nats-server` (`/usr/sbin`
/// is not on every user's `PATH`).
pub(crate) fn server_binary() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(std::path::PathBuf::from))
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| "nats-server".into())
}

const MISSING: &str = "nats-server is not on PATH: install it with `apt-get install nats-server` (tests need a real server)";

fn is_missing_binary(e: &anyhow::Error) -> bool {
    e.to_string() == MISSING
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
