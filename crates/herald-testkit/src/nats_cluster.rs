//! A cluster of real `nats-server` processes with JetStream: each node on its
//! own free client, route and monitoring ports with its own store, so a test
//! can SIGKILL one (the stream leader, say) and start it again on its store.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use async_nats::jetstream;
use tempfile::TempDir;
use tokio::time::Instant;

use crate::nats::{free_port, server_binary, tail, terminate_child};

/// How long a cluster may take to elect its JetStream meta leader.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// One node of a [`NatsCluster`].
#[derive(Debug)]
struct Node {
    name: String,
    port: u16,
    route_port: u16,
    http_port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl Node {
    fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

/// `n` clustered `nats-server -js` processes, killed and their stores removed on drop.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<Node>,
}

impl NatsCluster {
    /// Starts `n` nodes (`n1`, `n2`, ... in cluster `herald`), routed to each
    /// other, and waits until every one answers JetStream API calls (a meta
    /// leader is elected).
    ///
    /// # Errors
    /// When `nats-server` is missing or the cluster does not form in time.
    pub async fn start(n: usize) -> Result<Self> {
        let mut cluster = Self::configure(n)?;
        for i in 0..n {
            cluster.launch(i)?;
        }
        for i in 0..n {
            cluster.wait_ready(i).await?;
        }
        Ok(cluster)
    }

    /// Configures `n` nodes but starts only the first `running` of them, and
    /// waits until each accepts clients. With fewer than a majority running,
    /// the cluster has no JetStream meta leader: JetStream API calls go
    /// unanswered or are refused as unavailable until [`Self::restart`] starts
    /// enough of the others.
    ///
    /// # Errors
    /// When `nats-server` is missing or a node does not accept clients in time.
    pub async fn start_some(n: usize, running: usize) -> Result<Self> {
        let mut cluster = Self::configure(n)?;
        for i in 0..running.min(n) {
            cluster.launch(i)?;
            cluster.wait_accepting(i).await?;
        }
        Ok(cluster)
    }

    /// The URL of node `i` alone.
    pub fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    fn configure(n: usize) -> Result<Self> {
        let mut nodes = Vec::with_capacity(n);
        for i in 1..=n {
            nodes.push(Node {
                name: format!("n{i}"),
                port: free_port()?,
                route_port: free_port()?,
                http_port: free_port()?,
                dir: tempfile::Builder::new()
                    .prefix("herald-nats-cluster-")
                    .tempdir()
                    .context("creating a node's temp dir")?,
                child: None,
            });
        }
        Ok(Self { nodes })
    }

    /// How many nodes it has.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's client URL, comma-separated (what `NATS_URL` takes).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The server name of node `i` (`n1` for 0).
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// The node called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Whether node `i` runs.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.nodes[i]
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Node `i`'s own log, for diagnostics.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].log_path()).unwrap_or_default()
    }

    /// A JetStream context on a client that knows every node (it reconnects
    /// to another when its node goes away).
    ///
    /// # Errors
    /// When no node can be reached.
    pub async fn jetstream(&self) -> Result<jetstream::Context> {
        let client = async_nats::ConnectOptions::new()
            .name("herald-testkit")
            .connection_timeout(Duration::from_secs(10))
            .max_reconnects(None)
            .connect(self.nodes.iter().map(Node::url).collect::<Vec<_>>())
            .await
            .with_context(|| format!("connecting to {}", self.urls()))?;
        Ok(jetstream::new(client))
    }

    /// The node leading `stream` (by its `STREAM.INFO` cluster leader), asked
    /// through `js`.
    ///
    /// # Errors
    /// When JetStream does not answer or names no known leader.
    pub async fn stream_leader(&self, js: &jetstream::Context, stream: &str) -> Result<usize> {
        let mut s = js
            .get_stream(stream)
            .await
            .with_context(|| format!("stream {stream}"))?;
        let info = s
            .info()
            .await
            .with_context(|| format!("stream {stream} info"))?;
        let leader = info
            .cluster
            .as_ref()
            .and_then(|c| c.leader.clone())
            .with_context(|| format!("stream {stream} has no leader"))?;
        self.index_of(&leader)
            .with_context(|| format!("stream {stream} is led by unknown node {leader}"))
    }

    /// Waits until `stream` has a leader and every one of its replicas is
    /// current (none offline or lagging), as `STREAM.INFO` reports it.
    ///
    /// # Errors
    /// When that does not happen within `deadline`.
    pub async fn wait_stream_current(
        &self,
        js: &jetstream::Context,
        stream: &str,
        deadline: Duration,
    ) -> Result<()> {
        crate::wait_until(
            deadline,
            &format!("every replica of {stream} current"),
            || async {
                let Ok(mut s) = js.get_stream(stream).await else {
                    return false;
                };
                let Ok(info) = s.info().await else {
                    return false;
                };
                info.cluster.as_ref().is_some_and(|c| {
                    c.leader.is_some()
                        && c.replicas.len() + 1 == self.nodes.len()
                        && c.replicas.iter().all(|r| r.current && !r.offline)
                })
            },
        )
        .await
    }

    /// Kills node `i` with SIGKILL (no clean shutdown) and waits for it to exit.
    ///
    /// # Errors
    /// When it cannot be signalled.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut child) = self.nodes[i].child.take() {
            child.kill().context("killing nats-server")?;
            child.wait().context("waiting for nats-server to exit")?;
        }
        Ok(())
    }

    /// Stops node `i` gracefully (SIGTERM) and waits up to `deadline` for it to
    /// exit (then kills it).
    ///
    /// # Errors
    /// When it cannot be signalled or does not exit in time.
    pub async fn terminate(&mut self, i: usize, deadline: Duration) -> Result<()> {
        let what = format!("nats-server {}", self.nodes[i].name);
        terminate_child(&mut self.nodes[i].child, &what, deadline).await
    }

    /// Starts node `i` again on its ports and store (after [`Self::kill`] or
    /// [`Self::terminate`], or for the first time after [`Self::start_some`])
    /// and waits until it answers JetStream API calls.
    ///
    /// # Errors
    /// When it does not come back.
    pub async fn restart(&mut self, i: usize) -> Result<()> {
        self.kill(i)?;
        self.launch(i)?;
        self.wait_ready(i).await
    }

    fn config(&self, i: usize) -> String {
        let node = &self.nodes[i];
        let routes = self
            .nodes
            .iter()
            .filter(|n| n.name != node.name)
            .map(|n| format!("\"nats-route://127.0.0.1:{}\"", n.route_port))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "server_name: {name}\nlisten: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{http}\"\n\
             jetstream {{ store_dir: \"{store}\" }}\n\
             cluster {{ name: herald, listen: \"127.0.0.1:{route}\", routes: [{routes}] }}\n",
            name = node.name,
            port = node.port,
            http = node.http_port,
            store = node.store_dir().display(),
            route = node.route_port,
        )
    }

    fn launch(&mut self, i: usize) -> Result<()> {
        let config = self.config(i);
        let node = &mut self.nodes[i];
        let path = node.dir.path().join("nats-server.conf");
        std::fs::write(&path, config).context("writing a node's configuration")?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(node.log_path())
            .context("opening a node's log")?;
        let child = Command::new(server_binary())
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting nats-server (is it installed?)")?;
        node.child = Some(child);
        Ok(())
    }

    /// Fails, with the end of its log, when node `i` has exited.
    fn still_running(&mut self, i: usize) -> Result<()> {
        if let Some(status) = self.nodes[i]
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            bail!(
                "nats-server {} exited at start ({status}):\n{}",
                self.nodes[i].name,
                tail(&self.log(i), 20)
            );
        }
        Ok(())
    }

    /// Waits until node `i` accepts a client connection.
    async fn wait_accepting(&mut self, i: usize) -> Result<()> {
        let url = self.nodes[i].url();
        let end = Instant::now() + READY_DEADLINE;
        loop {
            self.still_running(i)?;
            let connect = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(1))
                .connect(url.as_str());
            if let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(2), connect).await {
                let _ = client.drain().await;
                return Ok(());
            }
            if Instant::now() >= end {
                bail!(
                    "nats-server {} at {url} accepted no client within {READY_DEADLINE:?}:\n{}",
                    self.nodes[i].name,
                    tail(&self.log(i), 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until node `i` accepts a client and answers `$JS.API.INFO`
    /// without an error (which needs a meta leader).
    async fn wait_ready(&mut self, i: usize) -> Result<()> {
        let url = self.nodes[i].url();
        let end = Instant::now() + READY_DEADLINE;
        loop {
            self.still_running(i)?;
            if crate::nats::jetstream_answers(&url, async_nats::ConnectOptions::new()).await {
                return Ok(());
            }
            if Instant::now() >= end {
                bail!(
                    "nats-server {} at {url} did not answer within {READY_DEADLINE:?}:\n{}",
                    self.nodes[i].name,
                    tail(&self.log(i), 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
