//! The scenarios, one module each; [`Scenario`] names them and runs one.

pub mod backlog;
pub mod cluster;
pub mod dlq;
pub mod kill;
pub mod nats_restart;
pub mod receivers;
pub mod replicas;
pub mod shutdown;

use anyhow::Result;

use crate::figures::Figures;
use crate::scale::Scale;

/// One scenario of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// [`kill`]: SIGKILL the worker again and again under load.
    Kill,
    /// [`nats_restart`]: restart and kill nats-server under load.
    NatsRestart,
    /// [`receivers`]: 503s, hangs, an outage, a 429 storm; a healthy neighbour.
    Receivers,
    /// [`dlq`]: a receiver answering 400, then `herald dlq replay`.
    Dlq,
    /// [`shutdown`]: SIGTERM under load.
    Shutdown,
    /// [`backlog`]: a large backlog behind a slow destination.
    Backlog,
    /// [`replicas`]: two and four replicas, no faults.
    Replicas,
    /// [`cluster`]: three clustered nats-servers, the stream leader killed,
    /// a rolling restart.
    Cluster,
}

impl Scenario {
    /// Every scenario, in the order the suite runs them.
    pub const ALL: [Self; 8] = [
        Self::Kill,
        Self::NatsRestart,
        Self::Receivers,
        Self::Dlq,
        Self::Shutdown,
        Self::Backlog,
        Self::Replicas,
        Self::Cluster,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::NatsRestart => "nats-restart",
            Self::Receivers => "receivers",
            Self::Dlq => "dlq",
            Self::Shutdown => "shutdown",
            Self::Backlog => "backlog",
            Self::Replicas => "replicas",
            Self::Cluster => "cluster",
        }
    }

    /// The scenario called `name`.
    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Runs it at `scale`: its figures (one set, or one per destination or
    /// replica count), or what went wrong.
    ///
    /// # Errors
    /// When one of its invariants does not hold, or the fleet does not run.
    pub async fn run(self, scale: Scale) -> Result<Vec<Figures>> {
        Ok(match self {
            Self::Kill => vec![kill::run(scale).await?],
            Self::NatsRestart => vec![nats_restart::run(scale).await?],
            Self::Receivers => receivers::run(scale).await?,
            Self::Dlq => vec![dlq::run(scale).await?],
            Self::Shutdown => vec![shutdown::run(scale).await?],
            Self::Backlog => vec![backlog::run(scale).await?],
            Self::Replicas => replicas::run(scale).await?,
            Self::Cluster => vec![cluster::run(scale).await?],
        })
    }
}
