//! CPU over a timed interval: the consumer under test, nats-server, this
//! process, and what everything else on the machine used meanwhile.

use crate::bench::Bench;
use crate::procs::{self, Cpu};
use crate::stats::other_cores;

/// Readings taken when an interval starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meter {
    consumer: u32,
    nats: u32,
    cpu: (Cpu, Cpu, Cpu),
    busy: u64,
    /// When the interval started (the bench clock, ns).
    pub(crate) t0: u64,
}

/// CPU used over an interval, in µs (totals, not per delivery).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) consumer_user_us: f64,
    pub(crate) consumer_sys_us: f64,
    pub(crate) nats_us: f64,
    pub(crate) bench_us: f64,
    /// Everything else on the machine, in cores.
    pub(crate) other_cores: f64,
    /// The interval, in seconds.
    pub(crate) secs: f64,
}

impl Usage {
    pub(crate) fn consumer_us(&self) -> f64 {
        self.consumer_user_us + self.consumer_sys_us
    }
}

impl Meter {
    /// Starts an interval for the consumer `consumer` and nats-server `nats`.
    pub(crate) fn start(bench: &Bench, consumer: u32, nats: u32) -> anyhow::Result<Self> {
        Ok(Self {
            consumer,
            nats,
            cpu: (Cpu::of(consumer)?, Cpu::of(nats)?, Cpu::of(0)?),
            busy: procs::machine_busy_ticks()?,
            t0: bench.now_ns(),
        })
    }

    /// Ends the interval now.
    pub(crate) fn stop(&self, bench: &Bench) -> anyhow::Result<Usage> {
        let cpu = (Cpu::of(self.consumer)?, Cpu::of(self.nats)?, Cpu::of(0)?);
        let busy = procs::machine_busy_ticks()?;
        let secs = bench.now_ns().saturating_sub(self.t0) as f64 / 1e9;
        let (cu, cs) = cpu.0.since_us(self.cpu.0, bench.ticks);
        let (nu, ns) = cpu.1.since_us(self.cpu.1, bench.ticks);
        let (bu, bs) = cpu.2.since_us(self.cpu.2, bench.ticks);
        Ok(Usage {
            consumer_user_us: cu,
            consumer_sys_us: cs,
            nats_us: nu + ns,
            bench_us: bu + bs,
            other_cores: other_cores(
                busy.saturating_sub(self.busy),
                bench.ticks,
                cu + cs + nu + ns + bu + bs,
                secs,
            ),
            secs,
        })
    }

    /// Seconds from the start to `ns` (the bench clock).
    pub(crate) fn secs_to(&self, ns: u64) -> f64 {
        (ns.saturating_sub(self.t0) as f64 / 1e9).max(1e-9)
    }
}
